/**
 * The one time module: zone offsets, civil-date arithmetic, parsing wall-clock text and formatting (dayjs
 * tokens and MySQL DATE_FORMAT specifiers). Templates, formatResponse, merge periods, windows, the
 * connectors and the CLI all use it instead of their own parsers.
 *
 * Built on dayjs (utc + timezone plugins), which answers the one expensive question, a zone's offset at an
 * instant (Intl). Everything on the per-record path is a measured fast path around it: offsets cached per
 * zone and hour (an hour with a change of offset keeps its exact instant) with a one-entry front cache,
 * wall-clock text split by character codes, civil dates by integer arithmetic (days-from-civil), and the two formats a sync writes thousands of times
 * (`YYYY-MM-DD HH:mm:ss`, `YYYY-MM-DD`) built without dayjs. Jushuitan, T+ and KIS all speak
 * Asia/Shanghai (UTC+8, no DST); other zones, DST included, work through the same offsets.
 */
import dayjs from "dayjs";
import timezone from "dayjs/plugin/timezone.js";
import utc from "dayjs/plugin/utc.js";

dayjs.extend(utc);
dayjs.extend(timezone);

export const DEFAULT_ZONE = "Asia/Shanghai";
export const DATETIME_FORMAT = "YYYY-MM-DD HH:mm:ss";
export const DATE_FORMAT = "YYYY-MM-DD";

export const DAY_MS = 86_400_000;
const DAY = DAY_MS;

// ---- civil dates (proleptic Gregorian, days since 1970-01-01) ----

/** Days since 1970-01-01 → civil date (proleptic Gregorian). */
export function civilFromDays(z: number): [number, number, number] {
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

export function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** `YYYY-MM-DD` shifted by whole days (calendar arithmetic, no zone involved). */
export function addDaysToDay(day: string, days: number): string {
  const [y, m, d] = civilFromDays(daysFromCivil(digits(day, 0, 4), digits(day, 5, 2), digits(day, 8, 2)) + days);
  return `${pad4(y)}-${pad2(m)}-${pad2(d)}`;
}

// ---- zone offsets ----

// Offsets per zone and UTC hour, keyed by number (no string building on the hot path), with a one-entry
// front cache because consecutive look-ups usually hit the same zone and hour. An hour is checked at both ends
// when first asked: a zone that changes offset inside it (America/St_Johns at 05:30Z, Australia/Lord_Howe on
// the half hour) gets the exact instant of the change, so the answer never depends on which instant came first.
// A fixed-offset zone (Asia/Shanghai) costs two Intl look-ups per hour once, then only map reads.
const HOUR = 3_600_000;
/** An hour in which the zone changes offset: `before` until `at`, `after` from it. */
interface SplitHour {
  at: number;
  before: number;
  after: number;
}
const offsets = new Map<string, Map<number, number | SplitHour>>();
let lastZone = "";
let lastHour = NaN;
let lastOffset = 0;
const MIN_OFFSET_MS = Date.UTC(1900, 0, 1);
const MAX_OFFSET_MS = Date.UTC(2200, 0, 1);

function zoneOffset(zone: string, ms: number): number {
  return zone === "UTC" ? 0 : dayjs(ms).tz(zone).utcOffset() * 60_000;
}

/** The hour's offset, or where inside it the offset changes (found to the second: zone changes fall on whole seconds). */
function hourOffsets(zone: string, hour: number): number | SplitHour {
  const start = hour * HOUR;
  const before = zoneOffset(zone, start);
  const after = zoneOffset(zone, start + HOUR - 1000);
  if (before === after) return before;
  let lo = start; // offset `before`
  let hi = start + HOUR - 1000; // offset `after`
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zoneOffset(zone, mid) === before) lo = mid;
    else hi = mid;
  }
  return { at: hi, before, after };
}

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
  let known = perZone.get(hour);
  if (known === undefined) {
    known = hourOffsets(zone, hour);
    if (perZone.size > 50_000) perZone.clear();
    perZone.set(hour, known);
  }
  if (typeof known !== "number") return ms < known.at ? known.before : known.after;
  lastZone = zone;
  lastHour = hour;
  lastOffset = known;
  return known;
}

/** Epoch ms shifted to wall-clock ms of `zone` (as if the wall clock were UTC). */
export function toLocalMs(ms: number, zone: string): number {
  return ms + offsetMs(zone, ms);
}

/**
 * Wall-clock ms of `zone` → epoch ms. Near a change of offset the second pass settles it; a wall time the zone
 * skips (a spring-forward gap: New York 02:30 on its DST day, Santiago's midnight) is moved forward by the gap, as
 * dayjs does (02:30 → 03:30), so later wall times never give earlier instants. A repeated wall time (fall back)
 * keeps the earlier instant.
 */
export function fromLocalMs(local: number, zone: string): number {
  const first = offsetMs(zone, local);
  const guess = local - first;
  const second = offsetMs(zone, guess);
  if (second === first) return guess;
  const settled = local - second;
  if (settled + offsetMs(zone, settled) === local) return settled;
  return Math.max(guess, settled);
}

// ---- parsing ----

/** Wall-clock fields of a text, before any zone is applied. */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** The text had no time part. */
  dateOnly: boolean;
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
 * Splits `YYYY-MM-DD[( |T)HH:mm[:ss[.f{1,6}]]]` (and, with `compact`, `YYYYMMDD[HHmm[ss]]`) into checked
 * wall-clock fields by character codes; null when the text is not such a date (2024-02-30, 25:00 …).
 */
export function splitWallText(text: string, compact = false): CivilTime | null {
  const n = text.length;
  if (compact && (n === 8 || n === 12 || n === 14)) {
    const at = (i: number) => (n > i ? digits(text, i, 2) : 0);
    return civil(digits(text, 0, 4), digits(text, 4, 2), digits(text, 6, 2), at(8), at(10), at(12), 0, n === 8);
  }
  if (n < 10 || n > 26 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null;
  const y = digits(text, 0, 4);
  const mo = digits(text, 5, 2);
  const d = digits(text, 8, 2);
  if (n === 10) return civil(y, mo, d, 0, 0, 0, 0, true);
  const sep = text.charCodeAt(10);
  if ((sep !== 32 && sep !== 84) || n < 16 || text.charCodeAt(13) !== 58) return null;
  const h = digits(text, 11, 2);
  const mi = digits(text, 14, 2);
  if (n === 16) return civil(y, mo, d, h, mi, 0, 0, false);
  if (n < 19 || text.charCodeAt(16) !== 58) return null;
  const sec = digits(text, 17, 2);
  if (n === 19) return civil(y, mo, d, h, mi, sec, 0, false);
  if (n < 21 || text.charCodeAt(19) !== 46) return null;
  const frac = digits(text, 20, n - 20);
  if (frac < 0) return null;
  return civil(y, mo, d, h, mi, sec, n <= 23 ? frac * 10 ** (23 - n) : Math.floor(frac / 10 ** (n - 23)), false);
}

function civil(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millisecond: number,
  dateOnly: boolean,
): CivilTime | null {
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  return { year, month, day, hour, minute, second, millisecond, dateOnly };
}

/** Wall-clock fields as epoch ms of the wall clock read as UTC. */
export function civilToLocalMs(t: CivilTime): number {
  return daysFromCivil(t.year, t.month, t.day) * DAY + t.hour * 3_600_000 + t.minute * 60_000 + t.second * 1000 + t.millisecond;
}

const EXPLICIT_OFFSET = /(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/**
 * `yyyy-MM-dd( |T)HH:mm[:ss[.f]]` followed by `Z` or ±hh[:]mm → epoch ms, checked by the same splitter as text
 * without an offset (never Date.parse, which rolls 2026-02-30 over to March 2 and reads 24:00 as the next day).
 * Fraction digits beyond six (.NET writes seven) are dropped: the instant keeps its milliseconds.
 */
function parseWithOffset(text: string): number | null {
  const explicit = EXPLICIT_OFFSET.exec(text);
  if (!explicit) return null;
  const wall = splitWallText(text.slice(0, explicit.index).replace(/(\.\d{6})\d+$/, "$1"));
  if (!wall || wall.dateOnly) return null;
  const [, sign, hh, mm] = explicit;
  if (sign === undefined) return civilToLocalMs(wall);
  const hours = Number(hh);
  const minutes = Number(mm);
  if (hours > 23 || minutes > 59) return null;
  return civilToLocalMs(wall) - (sign === "-" ? -1 : 1) * (hours * 3_600_000 + minutes * 60_000);
}

/**
 * Parses `yyyy-MM-dd[ HH:mm[:ss[.SSS]]]` (space or T), or compact `yyyyMMdd[HHmm[ss]]` (Jushuitan writes both), as
 * wall-clock time in `zone`; returns epoch ms, or null when the text is not such a date. A trailing `Z` or ±hh:mm
 * offset is honoured as given.
 */
export function parseInZone(text: string, zone: string = DEFAULT_ZONE): number | null {
  const fast = splitWallText(text, true);
  if (fast) return fromLocalMs(civilToLocalMs(fast), zone);
  if (text.length > 40) return null;
  const trimmed = text.trim();
  if (trimmed !== text) return parseInZone(trimmed, zone);
  return parseWithOffset(trimmed);
}

/** Epoch numbers: below 1e11 unix seconds (until the year 5138), larger ones epoch ms. */
export function epochMsOf(n: number): number {
  return Math.abs(n) < 1e11 ? n * 1000 : n;
}

/**
 * The one reading of a date value in a source document (templates' date filters, formatResponse): date text
 * (plain, compact or with an offset) as wall-clock in `zone`, 10- or 13-digit text and numbers as epoch seconds/ms.
 * Null when the value is not a date.
 */
export function instantOfValue(value: unknown, zone: string = DEFAULT_ZONE): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? epochMsOf(value) : null;
  if (typeof value !== "string") return null;
  const ms = parseInZone(value, zone);
  if (ms !== null) return ms;
  // Digit text is an epoch only as 10 digits (seconds) or 13 (milliseconds), 2001–2286: "202403" or "12345" read as
  // seconds would be silent 1970 dates.
  const text = value.trim();
  return /^\d{10}$|^\d{13}$/.test(text) ? epochMsOf(Number(text)) : null;
}

/** Start of the calendar day (in `zone`) containing `epochMs`. */
export function startOfDayInZone(epochMs: number, zone: string = DEFAULT_ZONE): number {
  const local = toLocalMs(epochMs, zone);
  return fromLocalMs(local - (((local % DAY) + DAY) % DAY), zone);
}

/**
 * The same wall-clock time `days` calendar days later (earlier when negative) in `zone`, as dayjs' add(n, "day"):
 * a day the zone shifts its clock has 23 or 25 hours, so this is not `days` × 24 h there.
 */
export function addDaysInZone(epochMs: number, days: number, zone: string = DEFAULT_ZONE): number {
  return fromLocalMs(toLocalMs(epochMs, zone) + days * DAY, zone);
}

/** Start of the calendar day `days` days after (before, when negative) the one containing `epochMs`, in `zone`. */
export function startOfDayAfter(epochMs: number, days: number, zone: string = DEFAULT_ZONE): number {
  return startOfDayInZone(addDaysInZone(startOfDayInZone(epochMs, zone), days, zone), zone);
}

// ---- formatting ----

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

/** Formats an instant as wall-clock text in `zone` (dayjs format tokens; the two common patterns skip dayjs). */
export function formatInZone(epochMs: number, pattern: string = DATETIME_FORMAT, zone: string = DEFAULT_ZONE): string {
  if (pattern === DATETIME_FORMAT) return formatEpoch(epochMs, zone, false);
  if (pattern === DATE_FORMAT) return formatEpoch(epochMs, zone, true);
  return dayjs.utc(toLocalMs(epochMs, zone)).format(pattern);
}

// ---- MySQL DATE_FORMAT ----

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
