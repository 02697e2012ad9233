/**
 * The periodic wide re-sweep (issue 11): once a day (RESWEEP_INTERVAL_HOURS, default 24) a flow that has caught
 * up re-reads the last RESWEEP_DAYS days (default 3; 0 turns it off) as a range run. The ledger makes it cheap:
 * it reads, skips everything already written, and writes only what the incremental runs missed (rows that became
 * visible later than lookback + end lag, rows a source quirk hid). What it found is reported, because a re-sweep
 * that finds something means the incremental settings are too tight: a warning log line and `resweep` in the run
 * record. A re-sweep cut short by the budget resumes on the next run at the first window it did not finish (the
 * marker keeps its range and progress); it never moves the watermark.
 */
import { type EnvVars, numberFromEnv } from "../compose/env.ts";
import type { Clock, KeyValueStore, Logger } from "../ports.ts";
import type { CallMeter } from "./meter.ts";
import type { RunResult } from "./run.ts";
import type { RunSummary } from "./types.ts";
import { DAY_MS } from "./window.ts";

export interface ResweepSettings {
  days: number;
  intervalMs: number;
}

/** RESWEEP_DAYS (default 3, 0 = off, at most 30) and RESWEEP_INTERVAL_HOURS (default 24). */
export function resweepSettings(env: Record<string, string | undefined>): ResweepSettings | null {
  const days = numberSetting(env, "RESWEEP_DAYS", 3, 0, 30, "days of history the periodic re-sweep reads again (0 turns it off)");
  if (days === 0) return null;
  const hours = numberSetting(env, "RESWEEP_INTERVAL_HOURS", 24, 1, 24 * 30, "hours between two re-sweeps of a flow");
  return { days, intervalMs: hours * 3_600_000 };
}

function numberSetting(env: EnvVars, name: string, fallback: number, min: number, max: number, what: string): number {
  return numberFromEnv(env, name, { min, max, hint: `${name}: ${what}; unset it for ${fallback}` }) ?? fallback;
}

/** Below this many subrequests left, a re-sweep waits for a run with more budget. */
const MIN_RESWEEP_BUDGET = 10;

export const resweepKey = (flowId: string) => `resweep:${flowId}`;

interface ResweepMarker {
  /** When the last re-sweep completed (or the flow's first caught-up run: the interval starts there). */
  at: number;
  found?: number;
  /** A re-sweep cut short by the budget: its range, where the next part begins, and what its parts found so far. */
  pending?: { from: number; to: number; next: number; found: number };
}

export interface ResweepInput {
  settings: ResweepSettings | null;
  flowId: string;
  runId: string;
  kv: KeyValueStore;
  meter: CallMeter;
  clock: Clock;
  logger: Logger;
  /** The incremental run just finished. */
  incremental: RunSummary;
  /** Runs the flow over a range (no watermark), with the same ports and budget. */
  /** `sweptTo`: the watermark the sweep reads up to (rows written before it were missed: visibility lag). */
  runRange(range: { from: number; to: number }, runId: string, sweptTo: number): Promise<RunResult>;
  recordRun(summary: RunSummary): Promise<void>;
}

/** Runs the re-sweep when it is due; returns its summary, or undefined when none ran. */
export async function maybeResweep(input: ResweepInput): Promise<RunSummary | undefined> {
  const { settings, incremental: done } = input;
  if (!settings || done.dryRun || done.outcome !== "success" || done.continues) return undefined;
  const now = input.clock.now();
  const raw = await input.kv.get(resweepKey(input.flowId));
  const marker = raw ? (JSON.parse(raw) as ResweepMarker) : null;
  if (!marker) {
    // The interval starts with the flow's first caught-up run: nothing to re-sweep yet.
    await input.kv.put(resweepKey(input.flowId), JSON.stringify({ at: now } satisfies ResweepMarker));
    return undefined;
  }
  const pending = marker.pending;
  if ((!pending && now - marker.at < settings.intervalMs) || input.meter.remaining() < MIN_RESWEEP_BUDGET) return undefined;
  // A sweep cut short resumes at the first window it did not finish, over the range it started with.
  const whole = pending ? { from: pending.from, to: pending.to } : { from: done.watermarkAfter - settings.days * DAY_MS, to: done.watermarkAfter };
  const range = pending ? { from: pending.next, to: pending.to } : whole;
  const { summary } = await input.runRange(range, `${input.runId}-resweep`, whole.to);
  const found = (pending?.found ?? 0) + summary.counts.written + summary.counts.deadLettered;
  const reported: RunSummary = {
    ...summary,
    resweep: { days: settings.days, from: whole.from, to: whole.to, found, ...(pending ? { resumedAt: range.from } : {}) },
  };
  await input.recordRun(reported);
  if (found > 0 && !summary.continues) {
    input.logger.warn("re-sweep found documents the incremental runs missed; consider a longer lookback or end lag", {
      flowId: input.flowId,
      found,
      days: settings.days,
    });
  }
  if (!summary.continues && (summary.outcome === "success" || summary.outcome === "partial")) {
    await input.kv.put(resweepKey(input.flowId), JSON.stringify({ at: now, found } satisfies ResweepMarker));
  } else if (summary.continues) {
    const next = finishedUpTo(summary, range.from);
    await input.kv.put(resweepKey(input.flowId), JSON.stringify({ at: marker.at, pending: { ...whole, next, found } } satisfies ResweepMarker));
  }
  return reported;
}

/** The end of the windows a range run finished without a gap from `from` (where its next part begins). */
function finishedUpTo(summary: RunSummary, from: number): number {
  let next = from;
  for (const window of [...summary.windows].sort((a, b) => a.from - b.from)) {
    if (!window.complete || window.from > next) break;
    next = Math.max(next, window.to);
  }
  return next;
}
