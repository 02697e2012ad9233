/**
 * Reading one time window so that edits during the scan cannot shift rows past the reader (issue 11).
 *
 * Offset paging (page_index 1, 2, …) skips a row whenever a row on an already-read page leaves the result set
 * (re-saved past the window end, cancelled out of a status filter, deleted): every later row moves up one place.
 * Three modes, chosen per window from what the answers show:
 *   - "rowversion": `start_ts` = the greatest `ts` read so far, page_index 1, the window's filters kept. Only
 *     where the endpoint takes start_ts together with other filters (sales-out; other-inout documents "with
 *     ts send only the paging params") and the rows carry `ts` (public clients show none on other-inout:
 *     /work/shared/docs/wire-evidence.md §1). Tried on a window's first request and kept only if the answer
 *     is ordered by `ts` and honours the cursor; otherwise the scan falls back to keyset.
 *   - "keyset": the next request begins at the last row's time on the window's field (second precision, so
 *     rows of that second are read again and dropped by id + version), page_index 1. Needs the answer ordered
 *     by that field; the order is undocumented, so every page is checked and an unordered page switches to:
 *   - "offset": page_index over the whole window (the old way); the engine's count check catches most shifts.
 * A saved position (`ReadPosition`) resumes a window in the mode it ran, never at a page number: a page
 * number means something else 30 minutes later.
 */
import { ConfigError } from "../../errors.ts";
import { formatInZone } from "../../util/time.ts";
import type { JstEndpoint } from "./endpoints.ts";
import { JstPagingError } from "./errors.ts";
import { compareCursor, type JstCursor, parseJstTime, readPage, rowCursor, rowVersionKey } from "./paging.ts";

export type ReadMode = "rowversion" | "keyset" | "offset";

/** Where a window's scan continues (saved in the checkpoint's cursor; plain JSON). */
export type ReadPosition = { mode: "rowversion"; ts: string } | { mode: "keyset"; at: number } | { mode: "offset" };

export interface ScannedPage {
  /** Rows not yet yielded in this version. */
  rows: Record<string, unknown>[];
  fetched: number;
  /** 1-based number of the request within this window's scan. */
  requestIndex: number;
  hasNext: boolean;
  dataCount: number | undefined;
  mode: ReadMode;
  /** Resume here to read everything after this page (and possibly some of it again). */
  position: ReadPosition;
}

export interface WindowScanOptions {
  window: { from: number; to: number };
  pageSize: number;
  /** The field the window filters by (`modified`, or `io_date` with date_type 2). */
  timeField: string;
  zone?: string;
  resume?: ReadPosition;
  /** The mode an earlier window of the same run settled on (skips a failed rowversion probe). */
  preferred?: ReadMode;
  maxRequests: number;
}

/** The request port: one business call returning `data` (JushuitanClient.call). */
export type CallData = (biz: Record<string, unknown>) => Promise<unknown>;

/** Whether the endpoint may be read by rowversion inside a window (start_ts together with the filters). */
export function rowversionInWindow(ep: JstEndpoint): boolean {
  return ep.cursor !== null && ep.cursor.param === "start_ts" && !ep.cursor.alone;
}

export async function* scanWindow(call: CallData, ep: JstEndpoint, base: Record<string, unknown>, options: WindowScanOptions): AsyncGenerator<ScannedPage> {
  const { window, pageSize, timeField, zone } = options;
  if (window.to < window.from) throw new ConfigError(`window ends before it starts (from=${window.from}, to=${window.to})`);
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const fmt = (ms: number) => formatInZone(second(ms), undefined, zone);
  const end = fmt(window.to);
  const resume = options.resume;
  let mode: ReadMode =
    resume?.mode ?? (options.preferred === "offset" ? "offset" : options.preferred === "keyset" || !rowversionInWindow(ep) ? "keyset" : "rowversion");
  let at = resume?.mode === "keyset" ? Math.max(window.from, resume.at) : window.from;
  let ts: JstCursor = resume?.mode === "rowversion" ? resume.ts : "0";
  let pageIndex = 1;
  /** Versions yielded in this scan: repeats (boundary second, ts ≥ cursor, a mode switch) are dropped. */
  const yielded = new Set<string>();

  for (let requestIndex = 1; ; requestIndex++) {
    if (requestIndex > options.maxRequests) {
      throw new JstPagingError({ path: ep.path }, `window ${fmt(window.from)}..${end} needed more than ${options.maxRequests} requests`, {
        window: { begin: fmt(window.from), end },
        maxPages: options.maxRequests,
        mode,
      });
    }
    const biz: Record<string, unknown> = {
      ...base,
      modified_begin: mode === "keyset" ? fmt(at) : fmt(window.from),
      modified_end: end,
      page_index: pageIndex,
      page_size: pageSize,
    };
    if (mode === "rowversion") biz.start_ts = ts;
    const page = readPage(ep, await call(biz));

    if (mode === "rowversion" && !orderedByTs(page.rows, ts)) {
      // No ts on the rows, or the server ignored start_ts: the window is read by keyset from its start instead.
      mode = "keyset";
      at = window.from;
      pageIndex = 1;
      continue;
    }
    if (mode === "keyset" && !orderedByTime(page.rows, timeField, zone)) {
      mode = "offset";
      pageIndex = 1;
      continue;
    }

    const rows: Record<string, unknown>[] = [];
    for (const row of page.rows) {
      const key = rowVersionKey(ep, row);
      if (yielded.has(key)) continue;
      yielded.add(key);
      rows.push(row);
    }
    const full = page.rows.length >= pageSize && page.hasNext !== false;
    const hasNext = full;
    let position: ReadPosition;
    if (mode === "rowversion") {
      const last: JstCursor = page.rows.length ? rowCursor(page.rows[page.rows.length - 1]!)! : ts;
      if (full && compareCursor(last, ts) === 0 && rows.length === 0) {
        throw new JstPagingError({ path: ep.path }, `a full page shares ts ${String(ts)}: the cursor cannot advance`, { cursor: ts, pageSize });
      }
      ts = last;
      position = { mode, ts: String(ts) };
    } else if (mode === "keyset") {
      const last = page.rows.length ? second(parseJstTime(page.rows[page.rows.length - 1]![timeField], zone)!) : at;
      // A full page inside one second cannot move the begin: page on within that second (offset only there).
      if (full && last <= second(at)) pageIndex++;
      else pageIndex = 1;
      at = Math.max(at, last);
      position = { mode, at };
    } else {
      pageIndex++;
      position = { mode };
    }
    yield { rows, fetched: page.rows.length, requestIndex, hasNext, dataCount: page.dataCount, mode, position };
    if (!hasNext) return;
  }
}

/** Rows in ascending `ts`, each at or past the cursor (the server honours start_ts and orders by it). */
function orderedByTs(rows: Record<string, unknown>[], cursor: JstCursor): boolean {
  let previous: JstCursor = cursor;
  for (const row of rows) {
    const ts = rowCursor(row);
    if (ts === undefined || compareCursor(ts, previous) < 0) return false;
    previous = ts;
  }
  return true;
}

/**
 * Rows in ascending order of the window's field at second precision (the precision of the bound we send);
 * a row without a readable time fails it.
 */
function orderedByTime(rows: Record<string, unknown>[], field: string, zone?: string): boolean {
  let previous = -Infinity;
  for (const row of rows) {
    const ms = parseJstTime(row[field], zone);
    const t = ms === undefined ? undefined : Math.floor(ms / 1000);
    if (t === undefined || t < previous) return false;
    previous = t;
  }
  return true;
}

