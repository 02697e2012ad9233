/**
 * Freshness (issue 17): how long a document took from its source instant (the flow's window field: 聚水潭
 * `modified`, or `io_date` for day-windowed flows) to the moment the target took it, and how old the watermark is.
 *
 * Each run record carries its own figures (`freshness`: count, p50/p95/max and a ≤ 64-point sample); the
 * 24-hour figures pool the samples of the runs of the last 24 hours (an estimate: each run's sample is a set of
 * evenly spaced order statistics of its lags, so runs weigh by their sample, not exactly by their count).
 *
 * Alerts, decided independently of run outcomes:
 * - `watermark_stalled`: the watermark has not advanced for longer than the threshold (default 3 × the schedule
 *   interval, plus one day for day-aligned flows whose watermark moves once a day);
 * - `lag_objective`: the 24-hour p95 lag exceeds the flow's objective.
 */
export interface FreshnessStats {
  n: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Evenly spaced order statistics of the lags (≤ SAMPLE_POINTS), for pooling over runs. */
  sampleMs: number[];
}

export const SAMPLE_POINTS = 64;

function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function freshnessOf(lags: readonly number[]): FreshnessStats | undefined {
  if (lags.length === 0) return undefined;
  const sorted = [...lags].sort((a, b) => a - b);
  const sample: number[] = [];
  const points = Math.min(SAMPLE_POINTS, sorted.length);
  for (let i = 0; i < points; i++) sample.push(sorted[Math.round((i * (sorted.length - 1)) / Math.max(1, points - 1))]!);
  return { n: sorted.length, p50Ms: quantile(sorted, 50), p95Ms: quantile(sorted, 95), maxMs: sorted[sorted.length - 1]!, sampleMs: sample };
}

/** Pools several runs' figures (each run's sample weighted by its count). */
export function poolFreshness(runs: ReadonlyArray<FreshnessStats | undefined>): FreshnessStats | undefined {
  const weighted: number[] = [];
  let n = 0;
  let max = 0;
  for (const r of runs) {
    if (!r || r.n === 0 || !Array.isArray(r.sampleMs) || r.sampleMs.length === 0) continue;
    n += r.n;
    max = Math.max(max, r.maxMs);
    const repeat = Math.max(1, Math.round(r.n / r.sampleMs.length));
    for (const v of r.sampleMs) for (let k = 0; k < repeat; k++) weighted.push(v);
  }
  if (n === 0) return undefined;
  const stats = freshnessOf(weighted)!;
  return { ...stats, n, maxMs: max };
}

export interface FreshnessRun {
  startedAt: number;
  finishedAt?: number;
  watermarkBefore?: number;
  watermarkAfter?: number;
  freshness?: FreshnessStats;
  dryRun?: boolean;
}

export interface FlowFreshness {
  /** The last sync run's figures. */
  lastRun?: FreshnessStats;
  /** Pooled over the runs of the last 24 hours. */
  day?: FreshnessStats;
  /** now − watermark (the data instant everything before is settled), ms; null without a numeric watermark. */
  watermarkAgeMs: number | null;
  /** When the watermark last moved forward (a run's finish), epoch ms; null when no run listed moved it. */
  watermarkAdvancedAt: number | null;
  /** How long it has not moved (now − watermarkAdvancedAt, or since the oldest run listed). */
  stalledMs: number | null;
  stallThresholdMs: number;
  objectiveP95Ms: number | null;
  alerts: Array<{ event: "watermark_stalled" | "lag_objective"; message: string }>;
}

export interface FreshnessPolicy {
  /** Schedule interval of the flow, ms (null: not scheduled: no stall alert). */
  intervalMs: number | null;
  alignToDays: boolean;
  /** Override for the stall threshold, ms. */
  stallThresholdMs?: number;
  /** p95 objective, ms. */
  objectiveP95Ms?: number;
}

export const DAY_MS = 86_400_000;

export function stallThreshold(policy: FreshnessPolicy): number {
  if (policy.stallThresholdMs !== undefined) return policy.stallThresholdMs;
  if (policy.intervalMs === null) return Number.POSITIVE_INFINITY;
  return 3 * policy.intervalMs + (policy.alignToDays ? DAY_MS : 0);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/** Freshness of one flow from its recent runs (newest first, as the store lists them) and checkpoint. */
export function flowFreshness(runs: readonly FreshnessRun[], watermark: number | null, now: number, policy: FreshnessPolicy): FlowFreshness {
  const syncs = runs.filter((r) => !r.dryRun && r.watermarkBefore !== undefined);
  const lastRun = syncs.find((r) => r.freshness)?.freshness;
  const day = poolFreshness(syncs.filter((r) => (r.finishedAt ?? r.startedAt) >= now - DAY_MS).map((r) => r.freshness));
  const advanced = syncs.find((r) => (r.watermarkAfter ?? 0) > (r.watermarkBefore ?? 0));
  const watermarkAdvancedAt = advanced ? (advanced.finishedAt ?? advanced.startedAt) : null;
  const oldest = syncs.at(-1);
  const stalledMs = watermarkAdvancedAt !== null ? now - watermarkAdvancedAt : oldest ? now - oldest.startedAt : null;
  const threshold = stallThreshold(policy);
  const alerts: FlowFreshness["alerts"] = [];
  if (stalledMs !== null && stalledMs > threshold && syncs.length > 0) {
    alerts.push({ event: "watermark_stalled", message: `水位 ${minutes(stalledMs)} 未前进(阈值 ${minutes(threshold)}) / the watermark has not advanced for ${minutes(stalledMs)} (threshold ${minutes(threshold)})` });
  }
  const objective = policy.objectiveP95Ms ?? null;
  if (objective !== null && day && day.p95Ms > objective) {
    alerts.push({ event: "lag_objective", message: `24 小时 p95 延迟 ${minutes(day.p95Ms)} 超过目标 ${minutes(objective)} / 24 h p95 lag ${minutes(day.p95Ms)} exceeds the objective ${minutes(objective)}` });
  }
  return {
    ...(lastRun ? { lastRun } : {}),
    ...(day ? { day } : {}),
    watermarkAgeMs: watermark === null ? null : now - watermark,
    watermarkAdvancedAt,
    stalledMs,
    stallThresholdMs: threshold,
    objectiveP95Ms: objective,
    alerts,
  };
}

/** Interval between a cron's runs, ms, for the common shapes (every N minutes / hourly / daily); null when unknown. */
export function cronIntervalMs(cron: string): number | null {
  const f = cron.trim().split(/\s+/);
  if (f.length !== 5) return null;
  const [min, hour] = f;
  const step = /^\*\/(\d+)$/;
  if (min === "*" && hour === "*") return 60_000;
  const m = step.exec(min!);
  if (m && hour === "*") return Number(m[1]) * 60_000;
  if (/^\d+$/.test(min!) && hour === "*") return 3_600_000;
  const h = step.exec(hour!);
  if (/^\d+$/.test(min!) && h) return Number(h[1]) * 3_600_000;
  if (/^\d+$/.test(min!) && /^\d+$/.test(hour!)) return DAY_MS;
  if (min!.includes(",")) return Math.round(3_600_000 / min!.split(",").length);
  return null;
}
