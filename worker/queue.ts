/**
 * Queue messages: "continue" picks a budget-limited run up at once (its saved cursor) instead of waiting
 * for the next cron tick; "window" runs one window of an HTTP-requested range (fan-out), each message with
 * its own invocation budget. Delivery is at least once; the engine's ledger makes a repeat harmless.
 */
import type { WorkerConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { notifyRun } from "../shared/alerts/notify.ts";
import { redactorFor } from "./secrets.ts";
import { createConsoleLogger, runFlowInWorker, workerPorts } from "./runtime.ts";

export type SyncMessage =
  | { kind: "continue"; flowId: string; runId: string }
  | { kind: "window"; flowId: string; runId: string; from: number; to: number; dryRun?: boolean };

export async function handleQueueBatch(batch: MessageBatch<SyncMessage>, env: Env, config: WorkerConfig): Promise<void> {
  const consoleLogger = createConsoleLogger(env.LOG_LEVEL, redactorFor(env));
  for (const message of batch.messages) {
    const body = message.body;
    try {
      const result = await runFlowInWorker(env, config, {
        flowId: body.flowId,
        runId: queueRunId(body.runId, message),
        trigger: "queue",
        ...(body.kind === "window" ? { range: { from: body.from, to: body.to }, dryRun: body.dryRun } : {}),
      });
      const summary = result.summary;
      try {
        // Alerts never decide the message's fate: notifyRun logs its own problems; this only guards the unexpected.
        await notifyRun(summary, workerPorts(env, config));
      } catch (error) {
        consoleLogger.error("alerts: notify failed", { flowId: body.flowId, error: error instanceof Error ? error.name : "unknown" });
      }
      if (summary.outcome === "skipped_locked" || summary.outcome === "failed" || (body.kind === "window" && summary.continues)) {
        // Another run holds the flow, the window did not finish, or the run failed: let the queue retry it (DLQ after max_retries).
        message.retry({ delaySeconds: summary.outcome === "skipped_locked" ? 60 : 30 });
        continue;
      }
      if (body.kind === "continue" && summary.continues && env.SYNC_QUEUE) {
        await env.SYNC_QUEUE.send({ kind: "continue", flowId: body.flowId, runId: body.runId });
      }
      message.ack();
    } catch (error) {
      consoleLogger.error("queue message failed", { flowId: body.flowId, kind: body.kind, message: String(error) });
      message.retry({ delaySeconds: 60 });
    }
  }
}

/**
 * The run id of one delivery: the originating run, the attempt, and the message id. A chain of "continue"
 * messages all carry the originating run id with attempts = 1, so without the message id every link of the
 * chain would share one run id: each run record would overwrite the previous one, and a link could take
 * the lease of another still holding it (a lease is re-entrant for its own run id).
 */
export function queueRunId(originRunId: string, message: { id: string; attempts: number }): string {
  const id = message.id.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 32) || "m";
  return `${originRunId}-q${message.attempts}-${id}`;
}
