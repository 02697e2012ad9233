/** After a cron tick's runs: freshness alerts per flow, whatever the runs' outcomes (issue 17 item 2). */
import { notifyObservations } from "../../shared/observe/alerts.ts";
import { currentCheckpoint } from "../../shared/state/checkpoint-view.ts";
import type { WorkerConfig } from "../config.ts";
import type { Env } from "../env.ts";
import { workerHost } from "../runtime.ts";
import { freshnessOfFlow } from "./freshness-service.ts";

export async function freshnessTick(env: Env, config: WorkerConfig, cron: string, flowIds: readonly string[], now: number): Promise<void> {
  if (!env.ALERT_WEBHOOK_URL) return; // nothing to send: spend no KV reads
  const ports = workerHost(env, config);
  const store = ports.stateStore();
  for (const flowId of flowIds) {
    const flow = config.flows[flowId];
    if (!flow) continue;
    try {
      // The index's checkpoint where there is one: a continuing run's watermark moves before its KV view does.
      const checkpoint = await currentCheckpoint(store, ports.lock, flowId);
      const watermark = typeof checkpoint?.watermark === "number" ? checkpoint.watermark : null;
      const f = await freshnessOfFlow(ports.kv, flow, { cron, watermark, runs: [], now });
      await notifyObservations(flowId, ["watermark_stalled", "lag_objective"], f.alerts, ports);
    } catch (error) {
      ports.logger.error("alerts: freshness check failed", { flowId, message: error instanceof Error ? error.message : String(error) });
    }
  }
}
