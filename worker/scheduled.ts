/**
 * Cron ticks: each cron expression runs the flows scheduled on it (flow.schedule.cron, or FLOW_SCHEDULES),
 * sharing the invocation's subrequest budget. Run ids derive from scheduledTime, so a retried tick is
 * recognisable; the per-flow lease keeps a late tick from overlapping a run still going.
 */
import type { RunSummary } from "../shared/engine/types.ts";
import { makeRunId } from "../shared/state/keys.ts";
import type { WorkerConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { notifyRun } from "../shared/alerts/notify.ts";
import { redactorFor } from "./secrets.ts";
import { createConsoleLogger, runFlowInWorker, workerPorts } from "./runtime.ts";
import { freshnessTick } from "./observe/tick.ts";
import { reconcileTick } from "./observe/reconcile-service.ts";

export async function runScheduled(cron: string, scheduledTime: number, env: Env, config: WorkerConfig): Promise<RunSummary[]> {
  // LOG_LEVEL applies to the tick's own lines too (the runs log through workerPorts).
  const consoleLogger = createConsoleLogger(env.LOG_LEVEL, redactorFor(env));
  const flowIds = config.schedules.get(cron) ?? [];
  if (flowIds.length === 0) {
    consoleLogger.warn("cron tick with no flow scheduled on it", { cron, scheduled: [...config.schedules.keys()] });
    return [];
  }
  const summaries: RunSummary[] = [];
  // Flows on one tick share the budget; rotate who goes first so none starves.
  const offset = tickOrder(scheduledTime, flowIds.length);
  const ordered = [...flowIds.slice(offset), ...flowIds.slice(0, offset)];
  let remaining = config.maxSubrequests;
  const thrown: unknown[] = [];
  for (let i = 0; i < ordered.length; i++) {
    const flowId = ordered[i]!;
    // A fair share, but never less than a run can make progress with: a flow that cannot get that much
    // waits for a later tick (where the rotation may put it first) instead of re-reading the same page forever.
    const share = Math.min(remaining, Math.max(Math.floor(remaining / (ordered.length - i)), MIN_RUN_SUBREQUESTS + config.stateReserve));
    if (i > 0 && share - config.stateReserve < MIN_RUN_SUBREQUESTS) {
      consoleLogger.warn("tick budget spent; flow runs on a later tick", { flowId, cron, remaining, maxSubrequests: config.maxSubrequests });
      continue;
    }
    let summary: RunSummary;
    try {
      ({ summary } = await runFlowInWorker(env, config, {
        flowId,
        runId: makeRunId(scheduledTime, "cron"),
        trigger: "cron",
        now: scheduledTime,
        maxSubrequests: share,
      }));
    } catch (error) {
      // Configuration problems are recorded failed runs (engine/runner.ts); anything else thrown still leaves the
      // other flows, the freshness alerts and the reconcile of this tick to run. Thrown again at the end of the tick.
      consoleLogger.error("run failed before it could be recorded", { flowId, message: error instanceof Error ? error.message : String(error) });
      thrown.push(error);
      continue;
    }
    remaining -= summary.subrequests + config.stateReserve;
    summaries.push(summary);
    try {
      // Alerts never fail a tick: notifyRun logs its own problems; this only guards the unexpected.
      await notifyRun(summary, workerPorts(env, config));
    } catch (error) {
      consoleLogger.error("alerts: notify failed", { flowId, error: error instanceof Error ? error.name : "unknown" });
    }
    consoleLogger.info("run finished", {
      flowId,
      runId: summary.runId,
      outcome: summary.outcome,
      read: summary.counts.read,
      written: summary.counts.written,
      deadLettered: summary.counts.deadLettered,
      continues: summary.continues,
    });
    if (summary.continues && config.continueWithQueue && env.SYNC_QUEUE) {
      await env.SYNC_QUEUE.send({ kind: "continue", flowId, runId: summary.runId });
    }
  }
  // Freshness alerts look at the watermark and lags, not at whether the runs above succeeded.
  await freshnessTick(env, config, cron, flowIds, scheduledTime);
  // A flow's scheduled reconcile (default daily) runs on the first tick after it is due, with what budget is left.
  await reconcileTick(env, config, scheduledTime, remaining).catch((error: unknown) =>
    consoleLogger.error("reconcile tick failed", { message: error instanceof Error ? error.message : String(error) }),
  );
  if (thrown.length > 0) throw thrown.length === 1 ? thrown[0] : new AggregateError(thrown, `${thrown.length} runs of the tick failed`);
  return summaries;
}

/**
 * Fewest fetches a run gets: a source page, a target write and one recovery step (a lookup after a lost
 * answer, a token refresh). With less, a run re-reads the same page every tick and never writes.
 */
export const MIN_RUN_SUBREQUESTS = 3;

/**
 * Which flow of a shared cron goes first on this tick. Derived from the minute (a retried tick keeps its
 * order) through a hash: crons fire on regular minutes (every 30th is always even), so the plain minute
 * number modulo the flow count would put the same flow first on every tick.
 */
export function tickOrder(scheduledTime: number, flows: number): number {
  if (flows <= 1) return 0;
  let h = Math.floor(scheduledTime / 60_000) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h % flows;
}
