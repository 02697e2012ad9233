/**
 * Dates for the expression language: MySQL DATE/DATETIME values (SqlDate) on top of the one time module
 * (shared/util/time.ts), which holds the zone offsets, civil-date arithmetic, parsing and DATE_FORMAT.
 */
import { civilFromDays, daysFromCivil, daysInMonth, formatEpoch, fromLocalMs, parseInZone, toLocalMs, wallClock } from "../util/time.ts";
import { SqlDate, ValueError, show } from "./values.ts";

export { applyDateFormat, cachedDateFormat, compileDateFormat, type DateFormat, formatEpoch, wallClock, type WallClock } from "../util/time.ts";

const DAY = 86_400_000;
/** 0001-01-01 … 9999-12-31 23:59:59 UTC, MySQL's DATETIME range. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/** Epoch ms of date text in `zone`, or null (the time module's parser; kept under the template's name). */
export const parseInstant = (text: string, zone: string): number | null => parseInZone(text, zone);

export function formatSqlDate(d: SqlDate, zone: string): string {
  return formatEpoch(d.ms, zone, d.dateOnly);
}

/** Keeps results inside MySQL's DATETIME range, judged on the zone's wall clock. */
export function checkRange(ms: number, zone: string): number {
  if (!(ms >= MIN_MS - DAY && ms <= MAX_MS + DAY)) throw new ValueError("date out of range (0001-01-01 … 9999-12-31)");
  const local = toLocalMs(ms, zone);
  if (!(local >= MIN_MS && local <= MAX_MS)) throw new ValueError("date out of range (0001-01-01 … 9999-12-31)");
  return ms;
}

/** Parses date text in `zone`; a text without a time part is a DATE. Null when it is not a date. */
export function parseDateText(text: string, zone: string): SqlDate | null {
  const ms = parseInstant(text, zone);
  if (ms === null) return null;
  // yyyy-MM-dd or compact yyyyMMdd (the only texts of these lengths the parser reads) have no time part.
  const length = text.trim().length;
  return new SqlDate(ms, length === 10 || length === 8);
}

const DATE_HINT = "Dates are 'YYYY-MM-DD' or 'YYYY-MM-DD HH:mm:ss' text (or a date function's result); for unix seconds use FROM_UNIXTIME(x).";

/** A date argument: SqlDate, or date text; null stays null. */
export function toDate(value: unknown, zone: string): SqlDate | null {
  if (value instanceof SqlDate) return value;
  if (value === null || value === undefined) return null;
  if (typeof value === "string") {
    const d = parseDateText(value, zone);
    if (d) return d;
  }
  throw new ValueError(`${show(value)} is not a date`, DATE_HINT);
}

/** Start of the local day containing `ms`, as a DATE. */
export function dateOf(ms: number, zone: string): SqlDate {
  const local = toLocalMs(ms, zone);
  return new SqlDate(fromLocalMs(local - (((local % DAY) + DAY) % DAY), zone), true);
}

export type IntervalUnit = "SECOND" | "MINUTE" | "HOUR" | "DAY" | "WEEK" | "MONTH" | "QUARTER" | "YEAR";
export const INTERVAL_UNITS: ReadonlySet<string> = new Set(["SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"]);

/** DATE_ADD: calendar units move the wall clock (month ends clamp: Jan 31 + 1 MONTH = Feb 28/29). */
export function addInterval(d: SqlDate, amount: number, unit: IntervalUnit, zone: string): SqlDate {
  if (!Number.isFinite(amount) || Math.abs(amount) > 1e13) throw new ValueError("interval out of range");
  switch (unit) {
    case "SECOND":
      return new SqlDate(checkRange(d.ms + Math.round(amount * 1000), zone), false);
    case "MINUTE":
      return new SqlDate(checkRange(d.ms + Math.trunc(amount) * 60_000, zone), false);
    case "HOUR":
      return new SqlDate(checkRange(d.ms + Math.trunc(amount) * 3_600_000, zone), false);
    case "DAY":
    case "WEEK": {
      const days = Math.trunc(amount) * (unit === "WEEK" ? 7 : 1);
      return new SqlDate(checkRange(fromLocalMs(toLocalMs(d.ms, zone) + days * DAY, zone), zone), d.dateOnly);
    }
    default: {
      const months = Math.trunc(amount) * (unit === "YEAR" ? 12 : unit === "QUARTER" ? 3 : 1);
      if (Math.abs(months) > 120_000) throw new ValueError("interval out of range");
      const local = toLocalMs(d.ms, zone);
      const days = Math.floor(local / DAY);
      const inDay = local - days * DAY;
      const [y, m, day] = civilFromDays(days);
      const total = y * 12 + (m - 1) + months;
      const ny = Math.floor(total / 12);
      const nm = total - ny * 12 + 1;
      const nd = Math.min(day, daysInMonth(ny, nm));
      return new SqlDate(checkRange(fromLocalMs(daysFromCivil(ny, nm, nd) * DAY + inDay, zone), zone), d.dateOnly);
    }
  }
}

/** DATEDIFF(a, b): whole local days from b to a, times ignored. */
export function dateDiff(a: SqlDate, b: SqlDate, zone: string): number {
  return Math.floor(toLocalMs(a.ms, zone) / DAY) - Math.floor(toLocalMs(b.ms, zone) / DAY);
}

/** LAST_DAY(d). */
export function lastDay(d: SqlDate, zone: string): SqlDate {
  const w = wallClock(d.ms, zone);
  return new SqlDate(fromLocalMs(daysFromCivil(w.year, w.month, daysInMonth(w.year, w.month)) * DAY, zone), true);
}
