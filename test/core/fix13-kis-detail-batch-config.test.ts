/** fix-13 (finding 5): KIS_MATERIAL_DETAIL_BATCH sets the GetListDetails chunk; a bad value names the variable. */
import { afterEach, describe, expect, it } from "vitest";
import { kisConfigFromEnv } from "../../shared/connectors/kis/config.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const base = { KIS_CLIENT_ID: "c", KIS_CLIENT_SECRET: "s", KIS_ACCESS_TOKEN: "a", KIS_AUTH_DATA: "d", KIS_GW_ROUTER_ADDR: "g" };

describe("fix13: KIS_MATERIAL_DETAIL_BATCH", () => {
  it("is parsed, and a bad value is a ConfigError naming it", () => {
    expect(kisConfigFromEnv({ ...base, KIS_MATERIAL_DETAIL_BATCH: "7" }).materialDetailBatch).toBe(7);
    expect(() => kisConfigFromEnv({ ...base, KIS_MATERIAL_DETAIL_BATCH: "0" })).toThrow(/KIS_MATERIAL_DETAIL_BATCH/);
  });

  it("sets the chunk, so an account taking 5 ItemIds is never refused", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, kis: { maxDetailIds: 5 }, env: { KIS_MATERIAL_DETAIL_BATCH: "5" } });
    await new KvReferenceStore(e2e.kv).put({ name: "kis_materials", rows: [], updatedAt: 0, source: "test" });
    e2e.stack.kis.clearRequests();
    await e2e.run("jst-other-in-to-kis");
    const details = e2e.stack.kis.requests().filter((r) => /GetListDetails/.test(r.path));
    expect(details.length).toBeGreaterThan(0);
    expect(details.filter((r) => r.errcode).length).toBe(0);
    expect(
      details.every((r) => ((r.body as { ItemIds?: unknown[] } | undefined)?.ItemIds?.length ?? 0) <= 5),
      JSON.stringify(details.slice(0, 2)),
    ).toBe(true);
  });
});
