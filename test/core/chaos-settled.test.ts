/**
 * The chaos driver's "settled" rule against real run records (real engine, real clients, KIS emulator over HTTP).
 * Seed 20261368 (long): a KIS bill set aside after a transient 5xx left a "partial" run that did not continue; the
 * driver took the flow for settled, stopped invoking it, and the verdict found the bill missing (never written,
 * never dead-lettered). The engine was right (watermark held, the next run writes it); the driver was not.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { flowSettled, reachWaitMs, settleAfter } from "../chaos/settled.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";
import { firstKisBill } from "../helpers/first-bill.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("chaos driver: a flow with a document set aside is not settled", () => {
  it("a partial run that set a bill aside is not settled; the next run writes the bill and then the flow is settled", async () => {
    const { billNo, target } = await firstKisBill();

    // Answers 500 for this bill until the list is emptied (a transient fault that outlasts one run's retries).
    const failing = [billNo];
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: failing } });
    const store = new FlowStateStore(e2e.kv);
    const first = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(first.outcome).toBe("partial");
    expect(first.continues).toBe(false);
    expect(first.setAside?.map((s) => s.externalKey)).toEqual([billNo]);
    expect((await store.getWatermark<{ watermark: number }>(KIS))!.watermark).toBeLessThanOrEqual(parseInZone(String(target.modified))!);
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(false);
    // Not written, not dead-lettered: the driver must invoke the flow again.
    expect(flowSettled(first)).toBe(false);

    failing.length = 0; // the fault is over
    e2e.clock.advance(30 * 60_000);
    const second = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(true);
    expect(second.setAside ?? []).toEqual([]);
    expect(flowSettled(second)).toBe(true);
  });

  it("a run that ends with its watermark held for a document an earlier invocation set aside is not settled (seed 9054)", async () => {
    const { billNo } = await firstKisBill();
    const failing = [billNo];
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: failing } });
    // A small budget: the invocation that sets the bill aside continues, and a later one finishes the chain.
    const chain = await e2e.runToCompletion(KIS, { budget: { maxSubrequests: 14 } });
    const setAsideIn = chain.findIndex((s) => s.setAside?.some((x) => x.externalKey === billNo));
    expect(setAsideIn).toBeGreaterThanOrEqual(0);
    expect(chain[setAsideIn]!.continues).toBe(true);
    const last = chain.at(-1)!;
    expect(last.continues).toBe(false);
    expect(last.setAside ?? []).toEqual([]); // the last invocation set nothing aside itself …
    expect(last.watermarkHeld).toBe("documents"); // … but its watermark waits for the bill
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(false);
    expect(flowSettled(last)).toBe(false);

    failing.length = 0;
    e2e.clock.advance(30 * 60_000);
    const next = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(true);
    expect(next.watermarkHeld).toBeUndefined();
    expect(flowSettled(next)).toBe(true);
  });

  it("a run dated behind the host that did not read the set-aside bill does not settle the flow (seed 4254 long)", async () => {
    // Seed 4254 long: the poison bill, re-stamped by an edit to 5 minutes before now, was set aside (count 1) by a run
    // reading to there; the next shared-cron tick, dated 20 minutes behind the host (the engine takes scheduledTime
    // as now), read up to 25 minutes before now: nothing set aside, nothing held. The driver took the flow for
    // settled and the verdict found the bill neither written nor lettered, while the watermark still waited before it.
    const { billNo } = await firstKisBill();
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: [billNo] } });
    const billAt = E2E_START - 8 * 60_000;
    e2e.stack.jushuitan.stampModified(JST_PATHS.otherInOut, billNo, billAt);
    const store = new FlowStateStore(e2e.kv);

    const first = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(first.setAside?.map((s) => [s.externalKey, s.attempts])).toEqual([[billNo, 1]]);
    let state = settleAfter(first, undefined);
    expect(state.settled).toBe(false);

    e2e.clock.advance(60_000);
    const behind = (await e2e.runToCompletion(KIS, { now: e2e.clock.now() - 20 * 60_000 })).at(-1)!;
    expect(Math.max(...behind.windows.map((w) => w.to))).toBeLessThan(billAt); // it never read the bill …
    expect(behind.setAside ?? []).toEqual([]);
    expect(behind.watermarkHeld).toBeUndefined();
    expect(flowSettled(behind)).toBe(true); // … so its record alone looks settled
    expect((await store.getWatermark<{ watermark: number }>(KIS))!.watermark).toBeLessThanOrEqual(billAt); // the engine still waits
    state = settleAfter(behind, state.reach);
    expect(state.settled).toBe(false);

    // Runs at the host's time: the bill fails in two more runs, is dead-lettered, and a run reads past it.
    for (let i = 0; i < 3 && !state.settled; i++) {
      e2e.clock.advance(60_000);
      state = settleAfter((await e2e.runToCompletion(KIS)).at(-1)!, state.reach);
    }
    expect((await store.listDeadLetters(KIS)).map((l) => l.externalKey)).toEqual([billNo]);
    expect(state).toEqual({ settled: true });
    expect((await store.getWatermark<{ watermark: number }>(KIS))!.watermark).toBeGreaterThan(billAt);
  });

  it("settleAfter: the reach grows with every run that sets aside or holds, and clears once a settled run read past it", () => {
    const w = (to: number, complete = true) => ({ from: 0, to, complete });
    // A continuing invocation sets a document aside in a window it has not finished: that window's end counts.
    let state = settleAfter({ outcome: "incomplete", continues: true, setAside: [{}], windows: [w(100, false)] }, undefined);
    expect(state).toEqual({ settled: false, reach: 100 });
    state = settleAfter({ outcome: "success", watermarkHeld: "documents", windows: [w(100), w(120)] }, state.reach);
    expect(state).toEqual({ settled: false, reach: 120 });
    // No window read (a tick dated behind the watermark), or not far enough: not settled, the reach stays.
    expect(settleAfter({ outcome: "success", windows: [] }, 120)).toEqual({ settled: false, reach: 120 });
    expect(settleAfter({ outcome: "success", windows: [w(119)] }, 120)).toEqual({ settled: false, reach: 120 });
    // Far enough, but the run itself is not settled (failed): the reach stays.
    expect(settleAfter({ outcome: "failed", windows: [w(130)] }, 120)).toEqual({ settled: false, reach: 120 });
    // Far enough and settled: cleared; later runs are judged on their own again.
    expect(settleAfter({ outcome: "partial", windows: [w(90), w(120)] }, 120)).toEqual({ settled: true });
    expect(settleAfter({ outcome: "success", windows: [] }, undefined)).toEqual({ settled: true });
    expect(settleAfter({ outcome: "skipped_locked" }, 120)).toEqual({ settled: false, reach: 120 });
  });
});

describe("chaos driver: waiting for the clock to reach what was set aside", () => {
  it("sleeps until a run can read up to the reach, not while any run could (seeds 9016, 4346 long)", () => {
    const settledRun = { outcome: "success", continues: false, windows: [{ from: 0, to: 50_000, complete: true }] };
    // Runs read to at most 60 s now; the set-aside run recorded a window to 200 s (dated ahead).
    expect(reachWaitMs(settledRun, 200_000, 60_000)).toBe(30_000);
    expect(reachWaitMs(settledRun, 70_000, 60_000)).toBe(11_000);
    expect(reachWaitMs(settledRun, 60_000, 60_000)).toBe(0);
    expect(reachWaitMs(settledRun, undefined, 60_000)).toBe(0);
    // A run still working (continuing, or with a document set aside) is invoked again at once.
    expect(reachWaitMs({ ...settledRun, continues: true }, 200_000, 60_000)).toBe(0);
    expect(reachWaitMs({ ...settledRun, setAside: [{}] }, 200_000, 60_000)).toBe(0);
  });
});
