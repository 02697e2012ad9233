/**
 * The range a run reads: from the watermark minus the lookback (overlap that catches late or drifting rows)
 * to now minus the end lag (rows still being written upstream), cut into windows of at most `maxWindowMs`
 * (Jushuitan refuses spans over 7 days). Windows abut: [from, to) half-open in epoch ms, so no instant is
 * read twice or skipped; the source connector turns them into the API's inclusive second-precision bounds.
 */
import { ConfigError } from "../errors.ts";
import type { Flow } from "../flow/schema.ts";
import { DAY_MS, startOfDayInZone } from "../util/time.ts";

export interface WindowPlanInput {
  /** Everything strictly before this instant is settled (written or dead-lettered). */
  watermark: number;
  now: number;
  lookbackMs: number;
  endLagMs: number;
  maxWindowMs: number;
  /** Merge flows close whole days: the range then ends at the start of the current (unfinished) day. */
  alignToDays?: boolean;
  /**
   * With alignToDays: keep the range's start where the watermark puts it instead of the start of its day. For
   * merged flows that window on `modified` and group by another day field (groups are built from the whole run,
   * not per window), so a run does not read a whole settled day again.
   */
  keepStart?: boolean;
  timezone?: string;
}

export interface TimeWindow {
  from: number;
  to: number;
}

export { DAY_MS };
export const MAX_JST_WINDOW_MS = 7 * DAY_MS;

export function planWindows(input: WindowPlanInput): { windows: TimeWindow[]; rangeFrom: number; rangeTo: number } {
  if (input.maxWindowMs <= 0 || input.maxWindowMs > MAX_JST_WINDOW_MS) {
    const hint = "set incremental.windowDays between 1 and 7 (Jushuitan refuses longer modified_begin/modified_end spans)";
    throw new ConfigError(`window size ${input.maxWindowMs} ms is outside (0, 7 days] — ${hint}`, { hint });
  }
  let rangeFrom = input.watermark - Math.max(0, input.lookbackMs);
  let rangeTo = input.now - Math.max(0, input.endLagMs);
  if (input.alignToDays) {
    if (!input.keepStart) rangeFrom = startOfDayInZone(rangeFrom, input.timezone);
    rangeTo = startOfDayInZone(rangeTo, input.timezone);
  }
  const windows: TimeWindow[] = [];
  for (let from = rangeFrom; from < rangeTo; ) {
    let to = Math.min(from + input.maxWindowMs, rangeTo);
    // Day-aligned windows end on a day boundary so a merge group never straddles two windows.
    if (input.alignToDays && to < rangeTo) to = Math.max(from + DAY_MS, startOfDayInZone(to, input.timezone));
    windows.push({ from, to });
    from = to;
  }
  return { windows, rangeFrom, rangeTo };
}

/**
 * Whether a row belongs to a window: its instant on the window's field lies in [second(from), second(to)).
 * The query's bounds are whole seconds (Jushuitan's format has no milliseconds), so ownership is cut the same
 * way: a row at Y.300 with a boundary at Y.700 belongs to the window whose query begins at Y, never to the one
 * whose query ends at Y (adv11). Adjacent windows still share the cut boundary, so each row has exactly one
 * owner. A row without a readable instant is kept (the server selected it; dropping it could lose it for good).
 */
export function ownsInstant(window: TimeWindow, at: number | undefined): boolean {
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  return at === undefined || (at >= second(window.from) && at < second(window.to));
}

/**
 * The end a window may have by the source's clock: min(now, source now) − endLag (day-aligned for merge
 * flows) when the source's clock is behind `now` by more than the Date header's precision, else undefined
 * (the host clock is the smaller one, already applied). A host clock running ahead would otherwise move the
 * watermark past rows Jushuitan has not stamped yet.
 */
export function sourceClockEnd(input: {
  now: number;
  sourceNow: number | undefined;
  endLagMs: number;
  alignToDays?: boolean;
  timezone?: string;
}): number | undefined {
  if (input.sourceNow === undefined || input.sourceNow > input.now - 1000) return undefined;
  const end = input.sourceNow - Math.max(0, input.endLagMs);
  return input.alignToDays ? startOfDayInZone(end, input.timezone) : end;
}

/**
 * Where to halve a window too big to read within the request cap: for day-aligned (merge) flows the middle day
 * boundary when the window spans two days or more, else the middle second. A merged flow may split a day: the
 * engine builds a day's groups only once the window that closes the day is read (run.ts), so a group never
 * straddles two builds. Undefined when it cannot be split (one second).
 */
export function halveWindow(window: TimeWindow, alignToDays?: boolean, timezone?: string): number | undefined {
  if (alignToDays) {
    const days = Math.round((window.to - window.from) / DAY_MS);
    const mid = days >= 2 ? startOfDayInZone(window.from + Math.floor(days / 2) * DAY_MS + DAY_MS / 2, timezone) : undefined;
    if (mid !== undefined && mid > window.from && mid < window.to) return mid;
  }
  const mid = Math.floor((window.from + (window.to - window.from) / 2) / 1000) * 1000;
  return mid > window.from && mid < window.to ? mid : undefined;
}

/** The windows a range is read in by a sync or a reconcile over it: whole days for day-merged flows, no lookback or lag. */
export function planSyncWindows(flow: Flow, range: { from: number; to: number }, windowMs: number): TimeWindow[] {
  const merge = flow.operation?.type === "merge" ? flow.operation : undefined;
  return planWindows({
    watermark: range.from,
    now: range.to,
    lookbackMs: 0,
    endLagMs: 0,
    maxWindowMs: windowMs,
    alignToDays: merge?.period?.unit === "day",
    timezone: flow.timezone,
  }).windows;
}
