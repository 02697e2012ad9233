/**
 * Reference tables fill themselves: a table whose flow names a source (the KIS seed flow's kis_materials from
 * KIS Material/List + GetListDetails) is refreshed before the run needs it when it is empty or older than its
 * TTL; only tables a user alone knows (the warehouse mapping) need an upload.
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

describe("reference tables with a source refresh themselves before a run", () => {
  it("an empty kis_materials is filled from KIS before the first run, which then writes", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0 });
    const refs = new KvReferenceStore(e2e.kv);
    await refs.put({ name: "kis_materials", rows: [], updatedAt: 0, source: "test: emptied" });
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).not.toBe("failed");
    expect(summary.counts.written).toBeGreaterThan(0);
    expect((await refs.get("kis_materials"))!.rows).toHaveLength(SKUS.length);
  });

  it("a table older than REFERENCE_TTL_HOURS is refreshed; a fresh one is left alone", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, env: { REFERENCE_TTL_HOURS: "12" } });
    const refs = new KvReferenceStore(e2e.kv);
    const bogus = [{ F_103: "NOT-A-SKU", FItemID: 1, FUnitID: 1 }];
    await refs.put({ name: "kis_materials", rows: bogus, updatedAt: e2e.clock.now() - 60_000, source: "upload" });
    await e2e.run(KIS, { dryRun: true });
    expect((await refs.get("kis_materials"))!.rows).toEqual(bogus);
    await refs.put({ name: "kis_materials", rows: bogus, updatedAt: e2e.clock.now() - 13 * 3_600_000, source: "upload" });
    await e2e.run(KIS, { dryRun: true });
    expect((await refs.get("kis_materials"))!.rows).toHaveLength(SKUS.length);
  });

  it("a refresh that runs out of subrequests keeps the older rows and is not retried by every following invocation", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0 });
    const refs = new KvReferenceStore(e2e.kv);
    const old = (await refs.get("kis_materials"))!;
    await refs.put({ ...old, updatedAt: e2e.clock.now() - 25 * 3_600_000 });
    await e2e.run(KIS, { budget: { maxSubrequests: 2 } }).catch(() => undefined);
    const kept = (await refs.get("kis_materials"))!;
    expect(kept.rows).toEqual(old.rows);
    expect(kept.updatedAt).toBe(e2e.clock.now());
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).not.toBe("failed");
  });
});
