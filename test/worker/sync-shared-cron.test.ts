import { describe, expect, it } from "vitest";
import { invocationsOf } from "../helpers/invocations.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { MIN_RUN_SUBREQUESTS, tickOrder } from "../../worker/scheduled.ts";
import { actualKis, actualTplus, expectedKis, expectedTplus } from "../helpers/targets.ts";
import { createStack, fillReferenceTables, fireCron, JST, kisBills, sourceDocuments, startFlowAt, tplusDispatches, workerEnv } from "./stack.ts";

// Regression (found by the chaos suite): with both flows on one cron and a small MAX_SUBREQUESTS, the first
// flow got floor(MAX / 2) − reserve = 1 subrequest, read its page and stopped, forever; and because the order
// came from the minute number, a cron firing every 30 minutes (always an even minute) put the same flow first
// on every tick.
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const CRON = "*/30 * * * *";
const HALF_HOUR = 30 * 60_000;

type Windows = { windows: Array<{ from: number; to: number; complete: boolean }> };

describe("flows sharing one cron", () => {
  it("the first flow changes between ticks of a */30 cron", () => {
    const start = Date.UTC(2026, 10, 23, 0, 0);
    const firsts = Array.from({ length: 48 }, (_, i) => tickOrder(start + i * HALF_HOUR, 2));
    expect(firsts.filter((f) => f === 0).length).toBeGreaterThan(12);
    expect(firsts.filter((f) => f === 1).length).toBeGreaterThan(12);
    expect(tickOrder(start, 1)).toBe(0);
    // A retried tick (same scheduledTime) keeps its order.
    expect(tickOrder(start + 17_000, 2)).toBe(tickOrder(start, 2));
  });

  it("with MAX_SUBREQUESTS 9 both flows still settle, every run within its budget, and the targets match", async () => {
    // 240 sales-out: the T+ seed reads by modified up to the start of today, so with 60 the share it reads depended on
    // the time of day, and late in the day one run settled it (the budget was never exceeded: a test of nothing).
    const stack = await createStack({ documents: { [JST.otherInOut]: 150, [JST.salesOut]: 240 }, days: 2, limits: { perSecond: null, perMinute: null } });
    const e = workerEnv(stack, { MAX_SUBREQUESTS: "9", STATE_SUBREQUEST_RESERVE: "3", FLOW_SCHEDULES: JSON.stringify({ [TPLUS]: CRON }) });
    await fillReferenceTables(stack, e);
    const store = new FlowStateStore(new WorkersKvStore(e.STATE));
    const base = Math.ceil(Date.now() / HALF_HOUR) * HALF_HOUR;
    await startFlowAt(e, TPLUS, base - 2 * 86_400_000); // a whole closed day at any hour, so the budget is exceeded

    // A flow's latest run settled it: success, nothing left to continue. (A flow the tick's budget cannot fit
    // after the first one runs on a later tick.)
    const done = new Map<string, boolean>([
      [KIS, false],
      [TPLUS, false],
    ]);
    const ran = new Map<string, number>([
      [KIS, 0],
      [TPLUS, 0],
    ]);
    let ticks = 0;
    for (; ticks < 40 && [...done.values()].some((d) => !d); ticks++) {
      const at = base + ticks * HALF_HOUR;
      await fireCron(e, CRON, at);
      // A continuing invocation keeps its record in the flow index (its run's last invocation writes them all).
      for (const flow of [KIS, TPLUS]) {
        const run = (await store.getRun(flow, makeRunId(at, "cron"))) as unknown as { outcome: string; continues: boolean } | null;
        if (run) done.set(flow, run.outcome === "success" && !run.continues);
      }
    }
    for (const flow of [KIS, TPLUS]) {
      const runs = invocationsOf(await store.listRuns(flow, 500));
      ran.set(flow, runs.length);
      for (const run of runs) expect(run.subrequests).toBeLessThanOrEqual(9 - 3);
    }
    expect(Object.fromEntries(done)).toEqual({ [KIS]: true, [TPLUS]: true });
    expect(ran.get(KIS)).toBeGreaterThan(1);
    expect(ran.get(TPLUS)).toBeGreaterThan(1);
    expect(ticks).toBeGreaterThan(2);

    // T+ builds once per run from every window it read (a budget stop carries them to the continuation in the spool),
    // so windows an invocation read count even when a later invocation completed the build.
    const covered = async (flow: string) => {
      const windows = (invocationsOf(await store.listRuns(flow, 500)) as unknown as Windows[]).flatMap((r) =>
        r.windows.filter((w) => w.complete || flow === TPLUS),
      );
      return { from: Math.min(...windows.map((w) => w.from)), to: Math.max(...windows.map((w) => w.to)) };
    };
    const k = await covered(KIS);
    const t = await covered(TPLUS);
    const expectedK = expectedKis(await sourceDocuments(stack, JST.otherInOut), k.from, k.to);
    // The T+ seed reads by modified and groups by io_date: the days closed by the runs, from what was modified in their windows.
    const expectedT = expectedTplus(await sourceDocuments(stack, JST.salesOut), 0, t.to, t.to, t.from);
    expect(expectedK.size).toBeGreaterThan(2);
    // (By modified, the first run covers the day before and the part of the day before it saved since startAt.)
    expect(expectedT.size).toBeGreaterThan(1);
    expect(Object.fromEntries(actualKis(await kisBills(stack)))).toEqual(Object.fromEntries(expectedK));
    expect(Object.fromEntries(actualTplus(await tplusDispatches(stack)))).toEqual(Object.fromEntries(expectedT));
    expect(MIN_RUN_SUBREQUESTS).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
