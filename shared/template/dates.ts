/**
 * Dates for the expression language: wall-clock fields in a zone, MySQL DATE_FORMAT specifiers and
 * interval arithmetic. Field splitting is plain integer arithmetic (days-from-civil) on top of the
 * cached zone offsets of shared/util/time.ts, because formatting runs for every record.
 */
import { parseInZone, zoneOffsetMinutes } from "../util/time.ts";
import { SqlDate, ValueError, show } from "./values.ts";

const DAY = 86_400_000;
/** 0001-01-01 … 9999-12-31 23:59:59 UTC, MySQL's DATETIME range. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

export interface WallClock {
  year: number;
  month: number; // 1-12
  day: number; // 1-31
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** 0 = Sunday. */
  weekday: number;
  /** 1-366. */
  dayOfYear: number;
  /** Local days since 1970-01-01. */
  days: number;
}

/** Days since 1970-01-01 → civil date (proleptic Gregorian). */
function civilFromDays(z: number): [number, number, number] {
  z += 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Offsets per zone and hour, keyed by number (no string building on the hot path), with a one-entry
// front cache because consecutive look-ups usually hit the same zone and hour.
const HOUR = 3_600_000;
const offsets = new Map<string, Map<number, number>>();
let lastZone = "";
let lastHour = NaN;
let lastOffset = 0;
const MIN_OFFSET_MS = Date.UTC(1900, 0, 1);
const MAX_OFFSET_MS = Date.UTC(2200, 0, 1);

/** Milliseconds east of UTC for `zone` at `ms`. */
export function offsetMs(zone: string, ms: number): number {
  // Intl zone data is unreliable far from the present (dayjs returns absurd offsets for year 1), so
  // instants outside 1900–2200 use the offset at the nearest edge.
  if (ms < MIN_OFFSET_MS) ms = MIN_OFFSET_MS;
  else if (ms > MAX_OFFSET_MS) ms = MAX_OFFSET_MS;
  const hour = Math.floor(ms / HOUR);
  if (hour === lastHour && zone === lastZone) return lastOffset;
  let perZone = offsets.get(zone);
  if (!perZone) {
    perZone = new Map();
    offsets.set(zone, perZone);
  }
  let offset = perZone.get(hour);
  if (offset === undefined) {
    offset = zoneOffsetMinutes(zone, ms) * 60_000;
    if (perZone.size > 50_000) perZone.clear();
    perZone.set(hour, offset);
  }
  lastZone = zone;
  lastHour = hour;
  lastOffset = offset;
  return offset;
}

/** Epoch ms shifted to wall-clock ms of `zone` (as if the wall clock were UTC). */
export function toLocalMs(ms: number, zone: string): number {
  return ms + offsetMs(zone, ms);
}

/** Wall-clock ms of `zone` → epoch ms (two passes settle DST edges). */
export function fromLocalMs(local: number, zone: string): number {
  let ms = local - offsetMs(zone, local);
  ms = local - offsetMs(zone, ms);
  return ms;
}

function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Epoch ms of date text in `zone`, or null. Fast path for the shapes Jushuitan sends
 * (`YYYY-MM-DD`, `YYYY-MM-DD HH:mm:ss[.f…]`, T allowed); anything else goes through parseInZone.
 */
export function parseInstant(text: string, zone: string): number | null {
  const n = text.length;
  if (n === 10 || (n >= 19 && n <= 26)) {
    const y = digits(text, 0, 4);
    const mo = digits(text, 5, 2);
    const d = digits(text, 8, 2);
    if (y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45) {
      if (d > daysInMonth(y, mo)) return null;
      let inDay = 0;
      let ok = n === 10;
      if (!ok) {
        const sep = text.charCodeAt(10);
        const h = digits(text, 11, 2);
        const mi = digits(text, 14, 2);
        const sec = digits(text, 17, 2);
        const frac = n > 20 ? digits(text, 20, n - 20) : 0;
        ok =
          (sep === 32 || sep === 84) && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 &&
          sec >= 0 && sec <= 59 && (n === 19 || (n > 20 && text.charCodeAt(19) === 46 && frac >= 0));
        if (ok) inDay = h * HOUR + mi * 60_000 + sec * 1000 + (n === 19 ? 0 : n <= 23 ? frac * 10 ** (23 - n) : Math.floor(frac / 10 ** (n - 23)));
      }
      if (ok) return fromLocalMs(daysFromCivil(y, mo, d) * DAY + inDay, zone);
    }
  }
  if (n > 40) return null;
  return parseInZone(text, zone);
}

export function wallClock(ms: number, zone: string): WallClock {
  const local = toLocalMs(ms, zone);
  const days = Math.floor(local / DAY);
  const inDay = local - days * DAY;
  const [year, month, day] = civilFromDays(days);
  return {
    year,
    month,
    day,
    hour: Math.floor(inDay / 3_600_000),
    minute: Math.floor(inDay / 60_000) % 60,
    second: Math.floor(inDay / 1000) % 60,
    millisecond: inDay % 1000,
    weekday: (((days + 4) % 7) + 7) % 7,
    dayOfYear: days - daysFromCivil(year, 1, 1) + 1,
    days,
  };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return n >= 1000 ? String(n) : String(n).padStart(4, "0");
}

/** `YYYY-MM-DD HH:mm:ss` (or `YYYY-MM-DD`) of an instant in `zone`. */
export function formatEpoch(ms: number, zone: string, dateOnly: boolean): string {
  const w = wallClock(ms, zone);
  const date = `${pad4(w.year)}-${pad2(w.month)}-${pad2(w.day)}`;
  return dateOnly ? date : `${date} ${pad2(w.hour)}:${pad2(w.minute)}:${pad2(w.second)}`;
}

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
  return new SqlDate(ms, text.trim().length === 10);
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

// ---- DATE_FORMAT ----

const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

type Part = string | ((w: WallClock) => string);

function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

const hour12 = (w: WallClock) => (w.hour % 12 === 0 ? 12 : w.hour % 12);

/** MySQL week numbers: %U (mode 0, Sunday first, 0-53) and %u (mode 1, Monday first, 4-day rule, 0-53). */
function weekInYear(w: WallClock, mondayFirst: boolean): number {
  const jan1 = w.days - w.dayOfYear + 1;
  const jan1Weekday = mondayFirst ? (((jan1 + 3) % 7) + 7) % 7 : (((jan1 + 4) % 7) + 7) % 7;
  const offset = mondayFirst ? (jan1Weekday <= 3 ? jan1Weekday : jan1Weekday - 7) : jan1Weekday === 0 ? 0 : jan1Weekday - 7;
  return Math.floor((w.dayOfYear - 1 + offset) / 7) + 1;
}

/** %V/%X (Sunday first, week 1 starts on the year's first Sunday) and %v/%x (ISO 8601): [week, year]. */
function weekAndYear(w: WallClock, mondayFirst: boolean): [number, number] {
  const anchor = mondayFirst ? w.days - ((w.weekday + 6) % 7) + 3 : w.days - w.weekday;
  const [year] = civilFromDays(anchor);
  return [Math.floor((anchor - daysFromCivil(year, 1, 1)) / 7) + 1, year];
}

const SPECIFIERS: Record<string, (w: WallClock) => string> = {
  a: (w) => DAY_NAMES[w.weekday]!.slice(0, 3),
  b: (w) => MONTH_NAMES[w.month - 1]!.slice(0, 3),
  c: (w) => String(w.month),
  D: (w) => ordinal(w.day),
  d: (w) => pad2(w.day),
  e: (w) => String(w.day),
  f: (w) => `${String(w.millisecond).padStart(3, "0")}000`,
  H: (w) => pad2(w.hour),
  h: (w) => pad2(hour12(w)),
  I: (w) => pad2(hour12(w)),
  i: (w) => pad2(w.minute),
  j: (w) => String(w.dayOfYear).padStart(3, "0"),
  k: (w) => String(w.hour),
  l: (w) => String(hour12(w)),
  M: (w) => MONTH_NAMES[w.month - 1]!,
  m: (w) => pad2(w.month),
  p: (w) => (w.hour < 12 ? "AM" : "PM"),
  r: (w) => `${pad2(hour12(w))}:${pad2(w.minute)}:${pad2(w.second)} ${w.hour < 12 ? "AM" : "PM"}`,
  S: (w) => pad2(w.second),
  s: (w) => pad2(w.second),
  T: (w) => `${pad2(w.hour)}:${pad2(w.minute)}:${pad2(w.second)}`,
  W: (w) => DAY_NAMES[w.weekday]!,
  w: (w) => String(w.weekday),
  Y: (w) => pad4(w.year),
  y: (w) => pad2(w.year % 100),
  U: (w) => pad2(weekInYear(w, false)),
  u: (w) => pad2(weekInYear(w, true)),
  V: (w) => pad2(weekAndYear(w, false)[0]),
  v: (w) => pad2(weekAndYear(w, true)[0]),
  X: (w) => pad4(weekAndYear(w, false)[1]),
  x: (w) => pad4(weekAndYear(w, true)[1]),
};

export type DateFormat = readonly Part[];

/** Splits a MySQL format once; unknown `%x` prints `x`, as MySQL does. */
export function compileDateFormat(format: string): DateFormat {
  const parts: Part[] = [];
  let text = "";
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch !== "%" || i === format.length - 1) {
      text += ch;
      continue;
    }
    const spec = format[++i]!;
    const fn = Object.hasOwn(SPECIFIERS, spec) ? SPECIFIERS[spec] : undefined;
    if (fn) {
      if (text) parts.push(text);
      text = "";
      parts.push(fn);
    } else text += spec;
  }
  if (text) parts.push(text);
  return parts;
}

const formatCache = new Map<string, DateFormat>();

/** Compiled format for a format computed at run time (bounded cache). */
export function cachedDateFormat(format: string): DateFormat {
  let parts = formatCache.get(format);
  if (!parts) {
    parts = compileDateFormat(format);
    if (formatCache.size > 256) formatCache.clear();
    formatCache.set(format, parts);
  }
  return parts;
}

export function applyDateFormat(parts: DateFormat, ms: number, zone: string): string {
  const w = wallClock(ms, zone);
  let out = "";
  for (const p of parts) out += typeof p === "string" ? p : p(w);
  return out;
}
