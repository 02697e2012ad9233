/**
 * Command-line dates and durations. Dates are wall-clock `yyyy-MM-dd[ HH:mm[:ss]]` in the flow's zone
 * (Asia/Shanghai by default). A date without a time as `--to` means the whole day is included: the range
 * ends at the start of the next day. Ranges are half-open [from, to) in epoch ms, like the engine's windows.
 */
import { ConfigError } from "../../shared/errors.ts";
import { DAY_MS, MAX_JST_WINDOW_MS } from "../../shared/engine/window.ts";
import { DEFAULT_ZONE, formatInZone, parseInZone, startOfDayInZone } from "../../shared/util/time.ts";

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** How messages name an option: `--from` on the command line, `input from` in the Action. */
export type OptionStyle = "cli" | "action";
const named = (option: string, style: OptionStyle) => (style === "cli" ? `--${option}` : `input ${option}`);

export function parseDateOption(option: string, text: string, zone: string = DEFAULT_ZONE, end = false, style: OptionStyle = "cli"): number {
  const parsed = parseInZone(text, zone);
  if (parsed === null) {
    throw new ConfigError(`${named(option, style)} "${text}" is not a date`, {
      hint: `write it as yyyy-MM-dd or "yyyy-MM-dd HH:mm:ss" (${zone} wall-clock time)`,
      details: { option },
    });
  }
  // An end date without a time includes that whole day.
  return end && DATE_ONLY.test(text.trim()) ? startOfDayInZone(parsed + DAY_MS + 3_600_000, zone) : parsed;
}

export function parseRange(
  from: string | undefined,
  to: string | undefined,
  zone?: string,
  style: OptionStyle = "cli",
): { from: number; to: number } | undefined {
  if (from === undefined && to === undefined) return undefined;
  if (from === undefined || to === undefined) {
    throw new ConfigError(`${named(from === undefined ? "from" : "to", style)} is missing`, {
      hint: `give both ${named("from", style)} and ${named("to", style)} for a backfill, or neither for an incremental run that continues from the watermark`,
    });
  }
  const range = { from: parseDateOption("from", from, zone, false, style), to: parseDateOption("to", to, zone, true, style) };
  if (range.to <= range.from) {
    throw new ConfigError(`${named("to", style)} (${to}) is not after ${named("from", style)} (${from})`, { hint: "swap them, or widen the range" });
  }
  return range;
}

/** `1d`, `12h`, `90m`, `3600s` (a bare number means days) → ms; at most 7 days (Jushuitan's longest span). */
export function parseDuration(option: string, text: string, style: OptionStyle = "cli"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(d|h|m|s)?$/i.exec(text.trim());
  const unit = (m?.[2] ?? "d").toLowerCase();
  const ms = m ? Number(m[1]) * { d: DAY_MS, h: 3_600_000, m: 60_000, s: 1000 }[unit as "d" | "h" | "m" | "s"] : NaN;
  if (!Number.isFinite(ms) || ms < 60_000 || ms > MAX_JST_WINDOW_MS) {
    throw new ConfigError(`${named(option, style)} "${text}" is not a duration between 1m and 7d`, {
      hint: "write it like 1d, 12h or 30m; Jushuitan refuses time spans over 7 days",
      details: { option },
    });
  }
  return ms;
}

/** `2024-06-01 00:00` style label of an instant for tables and progress lines. */
export function label(epochMs: number, zone: string = DEFAULT_ZONE): string {
  const text = formatInZone(epochMs, "YYYY-MM-DD HH:mm", zone);
  return text.endsWith(" 00:00") ? text.slice(0, 10) : text;
}

/**
 * A range as people say it: whole days inclusively ("2024-06-01", "2024-06-01 … 2024-06-07"), anything
 * else as its half-open bounds with times.
 */
export function rangeLabel(range: { from: number; to: number }, zone: string = DEFAULT_ZONE): string {
  const from = label(range.from, zone);
  const to = label(range.to, zone);
  if (from.length === 10 && to.length === 10) {
    const lastDay = formatInZone(range.to - 1, "YYYY-MM-DD", zone);
    return lastDay === from ? from : `${from} … ${lastDay}`;
  }
  return `${from} … ${to}`;
}
