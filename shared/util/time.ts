/**
 * Wall-clock time in a named zone (Jushuitan, T+ and KIS all speak Asia/Shanghai, UTC+8, no DST).
 * dayjs with the utc and timezone plugins does the zone arithmetic; offsets are cached per zone and hour
 * because Intl look-ups are the expensive part and a sync formats thousands of dates.
 */
import dayjs from "dayjs";
import timezone from "dayjs/plugin/timezone.js";
import utc from "dayjs/plugin/utc.js";

dayjs.extend(utc);
dayjs.extend(timezone);

export const DEFAULT_ZONE = "Asia/Shanghai";
export const DATETIME_FORMAT = "YYYY-MM-DD HH:mm:ss";
export const DATE_FORMAT = "YYYY-MM-DD";

const HOUR = 3_600_000;
const offsetCache = new Map<string, number>();

/** Minutes east of UTC for `zone` at instant `epochMs`. */
export function zoneOffsetMinutes(zone: string, epochMs: number): number {
  if (zone === "UTC") return 0;
  const key = `${zone}@${Math.floor(epochMs / HOUR)}`;
  let offset = offsetCache.get(key);
  if (offset === undefined) {
    offset = dayjs(epochMs).tz(zone).utcOffset();
    if (offsetCache.size > 10_000) offsetCache.clear();
    offsetCache.set(key, offset);
  }
  return offset;
}

/** Formats an instant as wall-clock text in `zone` (dayjs format tokens). */
export function formatInZone(epochMs: number, pattern: string = DATETIME_FORMAT, zone: string = DEFAULT_ZONE): string {
  const offset = zoneOffsetMinutes(zone, epochMs);
  return dayjs.utc(epochMs + offset * 60_000).format(pattern);
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

/**
 * Parses `yyyy-MM-dd[ HH:mm[:ss[.SSS]]]` (space or T) as wall-clock time in `zone`; returns epoch ms,
 * or null when the text is not such a date. A trailing `Z` or ±hh:mm offset is honoured as given.
 */
export function parseInZone(text: string, zone: string = DEFAULT_ZONE): number | null {
  const trimmed = text.trim();
  const explicit = /(Z|[+-]\d{2}:?\d{2})$/.exec(trimmed);
  if (explicit && /\d{2}:\d{2}/.test(trimmed.slice(0, explicit.index))) {
    const ms = Date.parse(trimmed.replace(" ", "T"));
    return Number.isNaN(ms) ? null : ms;
  }
  const m = WALL_CLOCK.exec(trimmed);
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "0"] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  const asUtc = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s), Number(frac.padEnd(3, "0").slice(0, 3)));
  if (new Date(asUtc).getUTCDate() !== day) return null; // 2024-02-30 and the like
  // Two passes settle the offset even across a DST edge in zones that have one.
  let ms = asUtc - zoneOffsetMinutes(zone, asUtc) * 60_000;
  ms = asUtc - zoneOffsetMinutes(zone, ms) * 60_000;
  return ms;
}

/** Start of the calendar day (in `zone`) containing `epochMs`. */
export function startOfDayInZone(epochMs: number, zone: string = DEFAULT_ZONE): number {
  const offset = zoneOffsetMinutes(zone, epochMs) * 60_000;
  const local = epochMs + offset;
  return local - (((local % 86_400_000) + 86_400_000) % 86_400_000) - offset;
}
