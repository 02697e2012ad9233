/**
 * Freshness against the emulators (node bench/freshness.ts [--json]): 聚水潭 other-in documents keep arriving
 * (their `modified` spread over two simulated hours), a cron tick runs the KIS flow every N minutes on a manual
 * clock, and the lag of every posted document (posted − modified, as the run records measure it) is pooled.
 * Rows: 1-minute cron on the Paid budget (1,000 subrequests), and 5-minute cron on the Free budget (50 − 15 reserve):
 * a 1-minute cron does not fit Free's 1,000 KV writes a day (each run saves its checkpoint and run record).
 * The floor is the flow's end lag (incremental.endLagMinutes, default 5: rows younger than that wait for the next run).
 */
import { poolFreshness, type FreshnessStats } from "../shared/observe/freshness.ts";
import { FlowStateStore } from "../shared/state/state-store.ts";
import { E2E_START, startE2E } from "../test/helpers/e2e.ts";

const json = process.argv.includes("--json");
const FLOW = "jst-other-in-to-kis";
const HOURS = 2;

async function scenario(label: string, intervalMin: number, budget: number, endLagMinutes?: number) {
  const e2e = await startE2E({ otherInOut: 1200, salesOut: 0, days: 1, jushuitan: { range: { from: E2E_START, to: E2E_START + HOURS * 3_600_000 } } });
  try {
    if (endLagMinutes !== undefined) e2e.flows[FLOW]!.incremental.endLagMinutes = endLagMinutes;
    await e2e.runToCompletion(FLOW, { budget: { maxSubrequests: budget } }); // catch up to the start
    for (let t = 0; t < (HOURS * 60) / intervalMin + 10; t++) {
      e2e.clock.advance(intervalMin * 60_000);
      await e2e.run(FLOW, { budget: { maxSubrequests: budget }, now: e2e.clock.now() });
    }
    const runs = (await new FlowStateStore(e2e.kv).listRuns(FLOW, 10_000)) as unknown as Array<{ freshness?: FreshnessStats }>;
    const f = poolFreshness(runs.map((r) => r.freshness))!;
    const m = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
    return { label, intervalMin, budget, endLagMinutes: endLagMinutes ?? 5, documents: f.n, p50: m(f.p50Ms), p95: m(f.p95Ms), max: m(f.maxMs), p95Ms: f.p95Ms };
  } finally {
    await e2e.close();
  }
}

const rows = [
  await scenario("Paid, 1-min cron, end lag 5 min (default)", 1, 1000),
  await scenario("Paid, 1-min cron, end lag 1 min", 1, 1000, 1),
  await scenario("Free, 5-min cron, end lag 5 min", 5, 35),
];
if (json) console.log(JSON.stringify({ rows }));
else console.table(rows);
