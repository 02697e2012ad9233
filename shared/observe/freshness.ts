/**
 * Freshness (issue 17): how long a document took from its source instant (the flow's window field: 聚水潭
 * `modified`, or `io_date` for day-windowed flows) to the moment the target took it, and how old the watermark is.
 *
 * Each run record carries its own figures (`freshness`: count, p50/p95/max and a ≤ 64-point sample), and the run
 * pools them into its hour (`fresh:<flow>:<yyyymmdd>`, one read and one write per run that wrote); the 24-hour
 * figures pool the last 24 hours (an estimate: samples are evenly spaced order statistics, weighted by count).
 *
 * Alerts, decided independently of run outcomes:
 * - `watermark_stalled`: the watermark is further behind than a healthy flow's (age − end lag) by more than the
 *   threshold (default 3 × the schedule interval, plus one day for day-aligned flows whose watermark moves once a day);
 * - `lag_objective`: the 24-hour p95 lag exceeds the flow's objective.
 */
import { nextCronTime } from "../flow/cron-next.ts";

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
  runId?: string;
  startedAt: number;
  finishedAt?: number;
  watermarkBefore?: number;
  watermarkAfter?: number;
  freshness?: FreshnessStats;
  dryRun?: boolean;
}

export interface FlowFreshness {
  /** The last run's figures (from its run record). */
  lastRun?: FreshnessStats & { runId?: string };
  /** Pooled over the last 24 hours (hourly figures). */
  day?: FreshnessStats;
  /** now − watermark (the data instant everything before is settled), ms; null without a numeric watermark. */
  watermarkAgeMs: number | null;
  /** When a listed run last moved the watermark forward, epoch ms (informative). */
  watermarkAdvancedAt: number | null;
  /** How long the watermark has been behind more than a healthy flow's (its age − end lag), ms. */
  stalledMs: number | null;
  stallThresholdMs: number | null;
  objectiveP95Ms: number | null;
  alerts: Array<{ event: "watermark_stalled" | "lag_objective"; message: string }>;
}

export interface FreshnessPolicy {
  /** Schedule interval of the flow, ms (null: not scheduled: no stall alert unless a threshold is set). */
  intervalMs: number | null;
  alignToDays: boolean;
  /** The flow's end lag (a healthy watermark trails now by this), ms. */
  endLagMs: number;
  /** Override for the stall threshold, ms. */
  stallThresholdMs?: number;
  /** p95 objective, ms. */
  objectiveP95Ms?: number;
}

export const DAY_MS = 86_400_000;

/** Default: 3 × the schedule interval (plus a day for day-aligned flows, whose watermark moves once a day). */
export function stallThreshold(policy: FreshnessPolicy): number | null {
  if (policy.stallThresholdMs !== undefined) return policy.stallThresholdMs;
  if (policy.intervalMs === null) return null;
  return 3 * policy.intervalMs + (policy.alignToDays ? DAY_MS : 0);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/** Hourly figures keyed by the hour's start (epoch ms), as the run records' rollup stores them. */
export type HourlyFreshness = Map<number, FreshnessStats>;

/**
 * Freshness of one flow. The stall measure needs no run to succeed: a watermark that a healthy flow keeps at
 * about now − end lag (− one interval) and that falls further behind than the threshold has stopped advancing,
 * whatever the runs report.
 */
export function flowFreshness(input: {
  runs: readonly FreshnessRun[];
  watermark: number | null;
  now: number;
  policy: FreshnessPolicy;
  hourly: HourlyFreshness;
}): FlowFreshness {
  const { runs, watermark, now, policy } = input;
  const syncs = runs.filter((r) => !r.dryRun && r.watermarkBefore !== undefined);
  const last = syncs.find((r) => r.freshness);
  const day = poolFreshness([...input.hourly].filter(([hour]) => hour > now - DAY_MS).map(([, f]) => f));
  const advanced = syncs.find((r) => (r.watermarkAfter ?? 0) > (r.watermarkBefore ?? 0));
  const watermarkAgeMs = watermark === null ? null : now - watermark;
  const stalledMs = watermarkAgeMs === null ? null : Math.max(0, watermarkAgeMs - policy.endLagMs);
  const threshold = stallThreshold(policy);
  const alerts: FlowFreshness["alerts"] = [];
  if (stalledMs !== null && threshold !== null && stalledMs > threshold) {
    alerts.push({
      event: "watermark_stalled",
      message: `水位落后 ${minutes(stalledMs)}(阈值 ${minutes(threshold)}) / the watermark is ${minutes(stalledMs)} behind (threshold ${minutes(threshold)})`,
    });
  }
  const objective = policy.objectiveP95Ms ?? null;
  if (objective !== null && day && day.p95Ms > objective) {
    alerts.push({
      event: "lag_objective",
      message: `24 小时 p95 延迟 ${minutes(day.p95Ms)} 超过目标 ${minutes(objective)} / 24 h p95 lag ${minutes(day.p95Ms)} exceeds the objective ${minutes(objective)}`,
    });
  }
  return {
    ...(last?.freshness ? { lastRun: { ...last.freshness, ...(last.runId ? { runId: last.runId } : {}) } } : {}),
    ...(day ? { day } : {}),
    watermarkAgeMs,
    watermarkAdvancedAt: advanced ? (advanced.finishedAt ?? advanced.startedAt) : null,
    stalledMs,
    stallThresholdMs: threshold,
    objectiveP95Ms: objective,
    alerts,
  };
}

/** The stored rollup (`fresh:<flow>:<yyyymmdd>`) of one day as hourly figures keyed by the hour's start. */
export function hourlyOf(day: string, raw: string | null, into: HourlyFreshness = new Map()): HourlyFreshness {
  if (!raw) return into;
  try {
    const v = JSON.parse(raw) as { v?: number; h?: Record<string, FreshnessStats> };
    if (v.v !== 1 || !v.h) return into;
    const base = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
    for (const [h, f] of Object.entries(v.h)) into.set(base + Number(h) * 3_600_000, f);
  } catch {
    /* unreadable: no figures for that day */
  }
  return into;
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
  return longestGapMs(cron);
}

/**
 * Any other shape (business hours, weekdays, a few times a day): an interval whose 3× is the schedule's longest
 * quiet gap (a night, a weekend) plus two of its shortest intervals, measured over a week of firings. So the stall
 * alert has a threshold for every schedule (null only when the cron never fires or cannot be read), and a uniform
 * schedule gets exactly its interval.
 */
function longestGapMs(cron: string): number | null {
  const from = Date.UTC(2024, 0, 1); // a Monday: the week below covers every weekday
  let previous = nextCronTime(cron, from - 60_000);
  if (previous === null) return null;
  let longest = 0;
  let shortest = Infinity;
  for (let i = 0; i < 3_000 && previous < from + 8 * DAY_MS; i++) {
    const next = nextCronTime(cron, previous);
    if (next === null) break;
    longest = Math.max(longest, next - previous);
    shortest = Math.min(shortest, next - previous);
    previous = next;
  }
  return longest > 0 ? Math.round((longest + 2 * shortest) / 3) : null;
}
