/**
 * Pure paging helpers for the Jushuitan client: window splitting, page reading, row identity and
 * rowversion cursor comparison. No I/O here, so each rule is testable on its own.
 */
import { ConfigError } from "../../errors.ts";
import { formatInZone, parseInZone } from "../../util/time.ts";
import type { JstEndpoint } from "./endpoints.ts";

export const DAY_MS = 86_400_000;
const SECOND_MS = 1000;

/**
 * One `modified_begin`..`modified_end` query. `from`/`to` are the epoch-ms bounds that `begin`/`end`
 * (Asia/Shanghai wall-clock text, second precision) denote.
 */
export interface JstWindow {
  from: number;
  to: number;
  begin: string;
  end: string;
  /** 0-based position among the windows of one scan, and how many there are. */
  index: number;
  count: number;
}

/**
 * Cuts the half-open range `[range.from, range.to)` (what the engine plans) into windows of at most
 * `maxSpanMs`, in the API's second-precision wall-clock text.
 *
 * Bound inclusivity is undocumented (UNCERTAIN) and rows may carry milliseconds, so windows share their
 * boundary second: `begin` = `from` rounded down to the second, `end` = `to` rounded down, and the next
 * window begins at this window's end. Whatever the server does with the bounds (inclusive or exclusive
 * end, truncating milliseconds or not), as long as `begin` is inclusive no instant falls between two
 * windows, and the next range (which starts at this `to`) begins on the same second. A row exactly on a
 * shared boundary may come back twice; the client yields it once per scan. Rounding `to` down, not up,
 * keeps a 7-day range in one 7-day request instead of spilling a one-second window.
 */
export function splitWindow(range: { from: number; to: number }, maxSpanMs: number, zone?: string): JstWindow[] {
  if (!Number.isFinite(range.from) || !Number.isFinite(range.to)) {
    throw new ConfigError(`window bounds must be epoch milliseconds, got from=${range.from} to=${range.to}`, {
      hint: "pass { from, to } as numbers (Date.getTime())",
    });
  }
  if (range.to < range.from) {
    throw new ConfigError(`window ends before it starts (from=${range.from}, to=${range.to})`, {
      hint: "swap the bounds: from must not be after to",
    });
  }
  const span = Math.floor(maxSpanMs / SECOND_MS) * SECOND_MS;
  if (span < SECOND_MS) {
    throw new ConfigError(`window span ${maxSpanMs} ms is below one second`, { hint: "use a window span of at least 1 s" });
  }
  const first = Math.floor(range.from / SECOND_MS) * SECOND_MS;
  const last = Math.floor(range.to / SECOND_MS) * SECOND_MS;
  const bounds: Array<[number, number]> = [];
  for (let from = first; ; ) {
    const to = Math.min(from + span, last);
    bounds.push([from, to]);
    if (to >= last) break;
    from = to;
  }
  return bounds.map(([from, to], index) => ({
    from,
    to,
    begin: formatInZone(from, undefined, zone),
    end: formatInZone(to, undefined, zone),
    index,
    count: bounds.length,
  }));
}

export interface ParsedPage {
  rows: Record<string, unknown>[];
  hasNext: boolean | undefined;
  dataCount: number | undefined;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Reads the paged `data` object: the endpoint's list key, `has_next`, `data_count` (each may be absent). */
export function readPage(endpoint: JstEndpoint, data: unknown): ParsedPage {
  const obj = data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {};
  const list = obj[endpoint.listKey];
  const rows = Array.isArray(list) ? (list.filter((r) => r !== null && typeof r === "object") as Record<string, unknown>[]) : [];
  const rawNext = obj.has_next;
  const hasNext = typeof rawNext === "boolean" ? rawNext : rawNext === "true" ? true : rawNext === "false" ? false : undefined;
  return { rows, hasNext, dataCount: asNumber(obj.data_count) };
}

export function rowId(endpoint: JstEndpoint, row: Record<string, unknown>): string {
  const id = row[endpoint.idField];
  // Inventory rows are per warehouse when wms_co_id is present.
  const wms = endpoint.listKey === "inventorys" && row.wms_co_id !== undefined ? `@${String(row.wms_co_id)}` : "";
  return `${String(id)}${wms}`;
}

/** Identity of one version of a row: the same row modified again is a new version and is yielded again. */
export function rowVersionKey(endpoint: JstEndpoint, row: Record<string, unknown>): string {
  return `${rowId(endpoint, row)}|${String(row.ts ?? "")}|${String(row[endpoint.modifiedField] ?? "")}`;
}

/** A rowversion cursor as the server sends it (a number, or a numeric string on some endpoints). */
export type JstCursor = number | string;

function toBigInt(v: JstCursor): bigint | null {
  try {
    if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : null;
    const t = v.trim();
    return t === "" ? null : BigInt(t);
  } catch {
    return null;
  }
}

/** Orders two rowversions numerically (exact beyond 2^53), falling back to text order. */
export function compareCursor(a: JstCursor, b: JstCursor): number {
  const x = toBigInt(a);
  const y = toBigInt(b);
  if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
  const s = String(a);
  const t = String(b);
  return s.length !== t.length ? s.length - t.length : s < t ? -1 : s > t ? 1 : 0;
}

/** The row's rowversion, or undefined when it has none. */
export function rowCursor(row: Record<string, unknown>): JstCursor | undefined {
  const ts = row.ts;
  if (typeof ts === "number" && Number.isFinite(ts)) return ts;
  if (typeof ts === "string" && ts.trim() !== "") return ts;
  return undefined;
}

/** A Jushuitan time (`yyyy-MM-dd HH:mm:ss`, sometimes with `.SSS`, Asia/Shanghai) as epoch ms; undefined when absent or unreadable. */
export function parseJstTime(value: unknown, zone?: string): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  return parseInZone(value, zone) ?? undefined;
}

/** The row's `modified` (or another time field such as `io_date`) as epoch ms. */
export function rowTime(endpoint: JstEndpoint, row: Record<string, unknown>, field: string = endpoint.modifiedField, zone?: string): number | undefined {
  return parseJstTime(row[field], zone);
}
