/**
 * adv-13: Material/GetListDetails batch size. S5 (app/sdk/kis/sync.ts fetchDetailPages) sends chunks of 20 and
 * nothing public states the server's limit (the emulator's maxDetailIds is marked UNCERTAIN). An account that
 * accepts fewer ItemIds answers a business refusal; the client neither shrinks the chunk nor falls back to
 * Material/GetDetail, and KIS_MATERIAL_DETAIL_BATCH is a constant no setting can change — so kis_materials can
 * never fill itself and the first `jst-bridge sync` fails on that account.
 */
import { afterEach, describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { SKUS } from "../emulators/catalog.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: a KIS account whose GetListDetails takes fewer than 20 ItemIds", () => {
  it("still fills kis_materials (smaller chunks or GetDetail) and the first run writes", async () => {
    e2e = await startE2E({ otherInOut: 10, salesOut: 0, kis: { maxDetailIds: 10 } });
    const refs = new KvReferenceStore(e2e.kv);
    await refs.put({ name: "kis_materials", rows: [], updatedAt: 0, source: "test: fresh deployment" });
    const { summary } = await e2e.run("jst-other-in-to-kis");
    expect(summary.outcome, JSON.stringify((summary as unknown as { error?: unknown }).error ?? null)).not.toBe("failed");
    expect((await refs.get("kis_materials"))?.rows.filter((r) => r.F_103 !== undefined)).toHaveLength(SKUS.length);
  });
});
