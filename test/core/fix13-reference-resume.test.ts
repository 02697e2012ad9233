/**
 * fix-13 (finding 4): a kis_materials refresh that needs more subrequests than one invocation has continues
 * across invocations (position kept in ref:<table>:progress) instead of restarting, and the flow then writes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { SKUS } from "../emulators/catalog.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("fix13: resumable reference refresh", () => {
  it("fills an empty kis_materials over several 50-subrequest invocations, reading each material once", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, kis: { materialDetailApi: "getDetail" } });
    const refs = new KvReferenceStore(e2e.kv);
    await refs.put({ name: "kis_materials", rows: [], updatedAt: 0, source: "test: fresh deployment" });
    e2e.stack.kis.clearRequests();
    const outcomes: string[] = [];
    for (let i = 0; i < 5 && ((await refs.get("kis_materials"))?.rows.length ?? 0) === 0; i++) {
      outcomes.push(
        await e2e.run(KIS, { budget: { maxSubrequests: 50 } }).then(
          (r) => r.summary.outcome,
          (e: unknown) => `error:${(e as { code?: string }).code}`,
        ),
      );
    }
    const rows = (await refs.get("kis_materials"))?.rows ?? [];
    expect(
      rows.filter((r) => r.F_103 !== undefined),
      outcomes.join(", "),
    ).toHaveLength(SKUS.length);
    const details = e2e.stack.kis.requests().filter((r) => /Material\/GetDetail$/i.test(r.path)).length;
    expect(details).toBeLessThanOrEqual(SKUS.length + 2 * 20); // at most the slice cut off per invocation is read again
    expect(await e2e.kv.get("ref:kis_materials:progress")).toBeNull();
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).not.toBe("failed");
  });
});
