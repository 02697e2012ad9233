/**
 * adv-13: the documented workaround for a KIS account whose materials carry no F_103 (wire-evidence.md ranked
 * item 1: "upload kis_materials as CSV"; the refresh error's own hint says so) is an upload. But kis_materials
 * names a source, so once the upload is older than REFERENCE_TTL_HOURS every run re-reads the whole catalogue
 * (Material/List pages + GetListDetails chunks), fails the key-field check, keeps the upload — and does NOT
 * remember that it failed (updatedAt unchanged), so the next run, and every run after it, pays the same calls.
 * On Workers Free (MAX_SUBREQUESTS 50) with a real catalogue that is the whole budget of every invocation.
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

describe("adv13: an uploaded kis_materials on an account without the custom field", () => {
  it("a failed refresh is not repeated by every following run", async () => {
    e2e = await startE2E({ otherInOut: 10, salesOut: 0, skipReferenceRefresh: true, kis: { materialFields: "none" } });
    const refs = new KvReferenceStore(e2e.kv);
    // The user's upload: the SKU → FItemID/FUnitID mapping the account cannot provide, uploaded two days ago.
    const upload = SKUS.map((s) => ({ F_103: s.skuId, FItemID: s.kisItemId, FUnitID: s.kisUnitId }));
    await refs.put({ name: "kis_materials", rows: upload, updatedAt: e2e.clock.now() - 48 * 3_600_000, source: "upload" });
    const first = await e2e.run(KIS);
    expect(first.summary.outcome).not.toBe("failed");
    e2e.stack.kis.clearRequests();
    await e2e.run(KIS);
    const catalogueCalls = e2e.stack.kis.requests().filter((r) => /Material\/(List|GetListDetails|GetDetail)/.test(r.path)).length;
    expect(catalogueCalls).toBe(0);
  });
});
