/** Freshness of a flow for GET /flows, the dashboard and the tick's freshness alerts (shared/observe/freshness.ts). */
import { incrementalSettings } from "../../shared/engine/runner.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import { cronIntervalMs, type FlowFreshness, flowFreshness, type FreshnessRun, hourlyOf } from "../../shared/observe/freshness.ts";
import { freshnessKey, utcDay } from "../../shared/observe/trace.ts";
import type { KeyValueStore } from "../../shared/ports.ts";

export async function freshnessOfFlow(
  kv: KeyValueStore,
  flow: Flow,
  input: { cron: string | null; watermark: number | null; runs: readonly unknown[]; now?: number },
): Promise<FlowFreshness> {
  const now = input.now ?? Date.now();
  const days = [utcDay(now - 86_400_000), utcDay(now)];
  const hourly = new Map();
  for (const [i, raw] of (await Promise.all(days.map((d) => kv.get(freshnessKey(flow.id, d))))).entries()) hourlyOf(days[i]!, raw, hourly);
  const settings = incrementalSettings(flow, now);
  const o = flow.observe;
  return flowFreshness({
    runs: input.runs as FreshnessRun[],
    watermark: input.watermark,
    now,
    hourly,
    policy: {
      intervalMs: input.cron ? cronIntervalMs(input.cron) : null,
      alignToDays: settings.alignToDays,
      endLagMs: settings.endLagMs,
      ...(o?.watermarkStallMinutes ? { stallThresholdMs: o.watermarkStallMinutes * 60_000 } : {}),
      ...(o?.freshnessObjectiveMinutes ? { objectiveP95Ms: o.freshnessObjectiveMinutes * 60_000 } : {}),
    },
  });
}
