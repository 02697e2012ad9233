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
 *   - "offset": page_index over the whole window, re-scanned until two consecutive passes agree on the id set
 *     (an edit during a pass shifts a row past the reader; the next pass, or the one after, reads it).
 * Keyset cannot move inside one second: when a full page lies in one second, that second alone is paged by
 * offset (modified_begin = T, modified_end = T + 1 s) and re-scanned until two consecutive passes agree, then
 * the keyset goes on at T + 1 s (adv11: a busy second with an edit mid-scan skipped a row).
 * A saved position (`ReadPosition`) resumes a window in the mode it ran. An agreement pass resumed across
 * invocations by page number is safe: a row it misses makes it disagree with the next pass, which re-reads.
 */
import { ConfigError } from "../../errors.ts";
import { formatInZone } from "../../util/time.ts";
import type { JstEndpoint } from "./endpoints.ts";
import { JstPagingError } from "./errors.ts";
import { compareCursor, type JstCursor, type ParsedPage, parseJstTime, readPage, rowCursor, rowId, rowVersionKey } from "./paging.ts";

export type ReadMode = "rowversion" | "keyset" | "offset";

/** Where a window's scan continues (saved in the checkpoint's cursor; plain JSON). */
export type ReadPosition =
  | { mode: "rowversion"; ts: string }
  | { mode: "keyset"; at: number; agree?: AgreePass; check?: KeysetCheck }
  | { mode: "offset"; agree?: AgreePass };

/**
 * What the next keyset request's data_count must show if the answer is ordered by the window's field: the previous
 * request began at `from` and reported `count + read` rows up to the window end, `read` of them (rows of that page)
 * before the new begin.
 */
export interface KeysetCheck {
  from: number;
  count: number;
  read: number;
}

/** An offset pass over a fixed query that ends when it reads the same id set as the pass before it. */
export interface AgreePass {
  /** Next page_index of this pass. */
  page: number;
  /** Ids read so far in this pass. */
  ids: string[];
  /** Ids the previous complete pass read (none before the first pass ends). */
  prev?: string[];
}

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

function initialMode(ep: JstEndpoint, preferred: WindowScanOptions["preferred"]): ReadMode {
  return preferred === "offset" ? "offset" : preferred === "keyset" || !rowversionInWindow(ep) ? "keyset" : "rowversion";
}

function tooManyRequests(ep: JstEndpoint, begin: string, end: string, maxRequests: number, mode: ReadMode): JstPagingError {
  return new JstPagingError({ path: ep.path }, `window ${begin}..${end} needed more than ${maxRequests} requests`, {
    window: { begin, end },
    maxPages: maxRequests,
    mode,
  });
}

/**
 * Keyset: `check` is the least data_count the next request may report if the answer is ordered by the window's field
 * (the previous data_count less the rows it read before the new begin). Each page may look ordered on its own while the
 * answer is ordered by something else (id): the rows between two pages' times are then never returned, and only the
 * count shows it (adversary 11, adv11-keyset-page-edge). A read row edited out of the window lowers the count too, so a
 * short count is settled by one more request (the previous begin's count now): more rows now lie between the two
 * begins than the page read there → rows were skipped, and the window is read by offset passes.
 */
async function rowsSkipped(call: CallData, ep: JstEndpoint, previousBegin: Record<string, unknown>, check: KeysetCheck, dataCount: number): Promise<boolean> {
  const before = readPage(ep, await call(previousBegin)).dataCount;
  return before === undefined || before - dataCount > check.read;
}

/** The rows whose version the scan has not yielded yet; marks them yielded. */
function unseenRows(ep: JstEndpoint, pageRows: Record<string, unknown>[], yielded: Set<string>): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const row of pageRows) {
    const key = rowVersionKey(ep, row);
    if (yielded.has(key)) continue;
    yielded.add(key);
    rows.push(row);
  }
  return rows;
}

/** Where a window's scan stands; the page steps below advance it. */
interface ScanState {
  mode: ReadMode;
  /** Keyset: the next request's begin (ms). */
  at: number;
  /** Rowversion: the greatest `ts` read so far. */
  ts: JstCursor;
  /** Set while a busy second (keyset) or the whole window (offset) is read by passes that must agree. */
  agree: AgreePass | undefined;
  /** Keyset: the least data_count the next request may report if the answer is ordered by the window's field (rowsSkipped). */
  check: KeysetCheck | undefined;
}

/** A time at second precision, the precision of the bounds we send. */
function toSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** The state a scan starts in: the saved position if there is one, else the window's start in the first mode the endpoint allows. */
function startState(ep: JstEndpoint, options: WindowScanOptions): ScanState {
  const { window, resume } = options;
  const mode: ReadMode = resume?.mode ?? initialMode(ep, options.preferred);
  return {
    mode,
    at: resume?.mode === "keyset" ? Math.max(window.from, resume.at) : window.from,
    ts: resume?.mode === "rowversion" ? resume.ts : "0",
    agree:
      resume && resume.mode !== "rowversion" && resume.agree
        ? { ...resume.agree, ids: [...resume.agree.ids] }
        : mode === "offset"
          ? { page: 1, ids: [] }
          : undefined,
    check: resume?.mode === "keyset" && !resume.agree ? resume.check : undefined,
  };
}

/** The business parameters of the next request from the scan's state. */
function nextRequest(state: ScanState, base: Record<string, unknown>, options: WindowScanOptions, fmt: (ms: number) => string): Record<string, unknown> {
  const { window } = options;
  const busySecond = state.mode === "keyset" && state.agree !== undefined;
  const biz: Record<string, unknown> = {
    ...base,
    modified_begin: state.mode === "keyset" ? fmt(state.at) : fmt(window.from),
    modified_end: busySecond ? fmt(Math.min(toSecond(state.at) + 1000, window.to)) : fmt(window.to),
    page_index: state.agree ? state.agree.page : 1,
    page_size: options.pageSize,
  };
  if (state.mode === "rowversion") biz.start_ts = state.ts;
  return biz;
}

/** Rowversion: the cursor moves to the page's last `ts`; a full page that cannot move it is an error, not a loop. */
function afterRowversionPage(ep: JstEndpoint, state: ScanState, page: ParsedPage, newRows: number, full: boolean, pageSize: number): ReadPosition {
  const last: JstCursor = page.rows.length ? rowCursor(page.rows[page.rows.length - 1]!)! : state.ts;
  if (full && compareCursor(last, state.ts) === 0 && newRows === 0) {
    throw new JstPagingError({ path: ep.path }, `a full page shares ts ${String(state.ts)}: the cursor cannot advance`, { cursor: state.ts, pageSize });
  }
  state.ts = last;
  return { mode: "rowversion", ts: String(state.ts) };
}

/** One page of an agreement pass (the busy second in keyset mode, or the whole window in offset mode). */
function afterAgreePage(
  ep: JstEndpoint,
  state: ScanState,
  agree: AgreePass,
  page: ParsedPage,
  full: boolean,
  windowTo: number,
): { hasNext: boolean; position: ReadPosition } {
  for (const row of page.rows) agree.ids.push(rowId(ep, row));
  if (full) agree.page++;
  else if (agree.prev && sameSet(agree.prev, agree.ids)) {
    // Two consecutive passes read the same ids: nothing was shifted past the reader.
    state.agree = undefined;
    if (state.mode === "keyset") state.at = toSecond(state.at) + 1000;
  } else state.agree = { page: 1, ids: [], prev: agree.ids };
  const next = state.agree;
  if (state.mode === "keyset") {
    // The keyset goes on after the busy second.
    return {
      hasNext: next !== undefined || state.at < windowTo,
      position: next ? { mode: "keyset", at: state.at, agree: copyPass(next) } : { mode: "keyset", at: state.at },
    };
  }
  // In offset mode the window is done once the passes agree.
  return { hasNext: next !== undefined, position: next ? { mode: "offset", agree: copyPass(next) } : { mode: "offset" } };
}

/** Keyset: the begin moves to the page's last time, and the next request's data_count check is set. */
function afterKeysetPage(ep: JstEndpoint, state: ScanState, page: ParsedPage, full: boolean, timeField: string, zone: string | undefined): ReadPosition {
  const last = page.rows.length ? toSecond(parseJstTime(page.rows[page.rows.length - 1]![timeField], zone)!) : state.at;
  // A full page inside one second cannot move the begin: that second is read on its own by agreeing passes.
  if (full && last <= toSecond(state.at)) {
    state.at = toSecond(state.at);
    state.agree = { page: 1, ids: [] };
    return { mode: "keyset", at: state.at, agree: copyPass(state.agree) };
  }
  const from = state.at;
  const at = Math.max(state.at, last);
  state.at = at;
  const read = new Set(page.rows.filter((r) => (parseJstTime(r[timeField], zone) ?? at) < at).map((r) => rowId(ep, r))).size;
  if (full && page.dataCount !== undefined) state.check = { from, count: page.dataCount - read, read };
  return { mode: "keyset", at, ...(state.check ? { check: { ...state.check } } : {}) };
}

export async function* scanWindow(call: CallData, ep: JstEndpoint, base: Record<string, unknown>, options: WindowScanOptions): AsyncGenerator<ScannedPage> {
  const { window, pageSize, timeField, zone } = options;
  if (window.to < window.from) throw new ConfigError(`window ends before it starts (from=${window.from}, to=${window.to})`);
  const fmt = (ms: number) => formatInZone(toSecond(ms), undefined, zone);
  const state = startState(ep, options);
  /** Versions yielded in this scan: repeats (boundary second, ts ≥ cursor, a mode switch) are dropped. */
  const yielded = new Set<string>();

  for (let requestIndex = 1; ; requestIndex++) {
    if (requestIndex > options.maxRequests) throw tooManyRequests(ep, fmt(window.from), fmt(window.to), options.maxRequests, state.mode);
    const busySecond = state.mode === "keyset" && state.agree !== undefined;
    const biz = nextRequest(state, base, options, fmt);
    const page = readPage(ep, await call(biz));

    if (state.mode === "rowversion" && !orderedByTs(page.rows, state.ts)) {
      // No ts on the rows, or the server ignored start_ts: the window is read by keyset from its start instead.
      state.mode = "keyset";
      state.at = window.from;
      continue;
    }
    const check = state.mode === "keyset" && !busySecond ? state.check : undefined;
    const countShort = check !== undefined && page.dataCount !== undefined && page.dataCount < check.count;
    const skipped = countShort && (requestIndex++, await rowsSkipped(call, ep, { ...biz, modified_begin: fmt(check.from) }, check, page.dataCount!));
    state.check = undefined;
    if (state.mode === "keyset" && !busySecond && (skipped || !orderedByTime(page.rows, timeField, zone))) {
      // Unordered page, or rows vanished between the last begin and this one: the window is read by offset passes
      // (an edit that takes a read row out of the window also lowers the count: a false alarm costs passes, not rows).
      state.mode = "offset";
      state.agree = { page: 1, ids: [] };
      continue;
    }

    const rows = unseenRows(ep, page.rows, yielded);
    const full = page.rows.length >= pageSize && page.hasNext !== false;
    const { hasNext, position } =
      state.mode === "rowversion"
        ? { hasNext: full, position: afterRowversionPage(ep, state, page, rows.length, full, pageSize) }
        : state.agree
          ? afterAgreePage(ep, state, state.agree, page, full, window.to)
          : { hasNext: full, position: afterKeysetPage(ep, state, page, full, timeField, zone) };
    yield { rows, fetched: page.rows.length, requestIndex, hasNext, dataCount: page.dataCount, mode: state.mode, position };
    if (!hasNext) return;
  }
}

function sameSet(a: string[], b: string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  if (left.size !== right.size) return false;
  for (const id of left) if (!right.has(id)) return false;
  return true;
}

function copyPass(pass: AgreePass): AgreePass {
  return { page: pass.page, ids: [...pass.ids], ...(pass.prev ? { prev: [...pass.prev] } : {}) };
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
