/**
 * Command-line dates and durations. Ranges are read by the one range parser every host shares
 * (shared/util/range.ts): wall-clock in the flow's zone, a date-only `--to` includes that whole day.
 */
import { ConfigError } from "../../shared/errors.ts";
import { DAY_MS, MAX_JST_WINDOW_MS } from "../../shared/engine/window.ts";
import { DEFAULT_ZONE, formatInZone } from "../../shared/util/time.ts";
import { type OptionStyle, optionName } from "../../shared/util/range.ts";

export { type OptionStyle, parseDateOption, parseRange } from "../../shared/util/range.ts";

const named = (option: string, style: OptionStyle) => optionName(option, style);

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
