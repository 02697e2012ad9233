/**
 * Crash recovery without leaning on target key uniqueness (tests-audit F5 / mutant M10: `recovering: false` in
 * shared/engine/runner.ts survived every test because the KIS emulator refused the resent FBillNo).
 *
 * KIS here does NOT enforce FBillNo uniqueness (`enforceUniqueBillNo: false`, a reading the project marks UNCERTAIN
 * for real KIS), so a resend stores a second bill. An invocation is killed after the target committed writes but
 * before its ledger was saved, holding its lease. Its "writes in flight" marker (`wip:`) is not visible to the next
 * run: Workers KV `list` is eventually consistent ("changes may take up to 60 seconds or more to be visible",
 * https://developers.cloudflare.com/kv/concepts/how-kv-works/), so the lease takeover is the only sign of the crash.
 * The run that takes the lease over must look every key up before writing: nothing doubled. (Must fail first:
 * with `recovering: false` in runner.ts this test stores the killed run's bills twice.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { WRITE_MARKER_PREFIX } from "../../shared/state/write-marker.ts";
import { E2E_START, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { until } from "../helpers/until.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("a run that takes over a dead run's lease verifies before writing", () => {
  it("killed after 4 committed KIS bills, marker not yet listed, FBillNo not unique: the takeover run stores every bill once", async () => {
    // KIS_PRECHECK=after_unknown_outcome: the connector looks a bill up only after an unknown outcome (the mode
    // doctor --write-probe picks when KIS refused a repeated FBillNo). The killed run's answers were received, so
    // only the engine's recovery (verify every write after a takeover) stands between a resend and a double.
    e2e = await startE2E({ kis: { enforceUniqueBillNo: false }, salesOut: 0, env: { KIS_PRECHECK: "after_unknown_outcome" } });
    // Never settles: abandoned the way a killed isolate is, holding its lease.
    void e2e.run(KIS, {}, { fetch: e2e.crashingFetch(4) });
    await until(() => e2e!.stack.kis.bills().length >= 4, "4 committed bills");
    await new Promise((r) => setTimeout(r, 50));
    expect(e2e.stack.kis.bills()).toHaveLength(4);

    // The dead run's marker exists but the next run's list does not see it yet.
    const markers = await e2e.kv.list(WRITE_MARKER_PREFIX);
    expect(markers.length).toBe(1);
    for (const key of markers) await e2e.kv.delete(key);

    e2e.clock.advance(16 * 60_000); // the dead run's lease expires; the next run takes it over
    const after = await e2e.runToCompletion(KIS);
    expect(after.at(-1)!.outcome).toBe("success");

    const copies = new Map<string, number>();
    for (const bill of e2e.stack.kis.bills()) {
      copies.set(bill.FBillNo, (copies.get(bill.FBillNo) ?? 0) + 1);
    }
    const doubled = [...copies].filter(([, n]) => n > 1).map(([no]) => no);
    expect(doubled).toEqual([]);
    const expected = expectedTargets(e2e, { kis: E2E_START - 5 * 60_000, tplusDayEnd: 0 }).kis;
    expect(copies.size).toBe(expected.size);
  });
});
