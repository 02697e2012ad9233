/**
 * Reading one window (split out of run.ts): page by page from where an earlier invocation stopped, halving a window
 * that holds more rows than the request cap reads, re-reading it when ids drift between pages. Flows that do not
 * merge settle every page as it arrives; merge flows keep the rows for the build (merge-build.ts).
 */
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { settleDocuments } from "./document-writer.ts";
import { buildContext } from "./merge-build.ts";
import type { FlowRun } from "./run-context.ts";
import { PageDriftError, windowTooBig } from "./run-errors.ts";
import type { IncrementalSettings } from "./run.ts";
import type { Clock } from "../ports.ts";
import type { SourcePage, SourcePosition, SourceRow, WindowCursor, WindowSummary } from "./types.ts";
import { halveWindow, ownsInstant, sourceClockEnd, type TimeWindow } from "./window.ts";

/** Where the read of one window stands; a budget stop saves it as the cursor (checkpoint-writer.ts saveCursor). */
export interface WindowScan {
  readonly window: TimeWindow;
  readonly summary: WindowSummary;
  /** Resumed from a cursor: the saved window is read as it was, never halved on its first page. */
  readonly resumed: boolean;
  /** Ids seen in this window, for the drift check against the source's count. */
  readonly seen: Set<string>;
  /** Latest version of every row read in this window (merge flows build the window from it). */
  readonly rowsById: Map<string, SourceRow>;
  /** Never resume by page number: rows shift between invocations. A position (rowversion / time) or page 1. */
  page: number;
  position?: SourcePosition;
  /** The source's count of the window's rows, from the latest page that reported one. */
  lastCount?: number;
  /** Every page is read (a spool still to settle may remain). */
  readComplete: boolean;
  /** Not merge flows: the rows of a page whose writes are under way; a budget stop keeps them in the cursor. */
  pending?: SourceRow[];
  /** The pending page was the window's last. */
  pendingWasLast: boolean;
}

/** Starts (or resumes from `resume`) the read of a window and adds its summary to the run record. */
export function openScan(run: FlowRun, window: TimeWindow, resume: WindowCursor | undefined): WindowScan {
  const summary: WindowSummary = { from: window.from, to: window.to, pages: 0, rows: 0, rescans: resume?.rescans ?? 0, complete: false };
  run.windowSummaries.push(summary);
  const rowsById = new Map<string, SourceRow>();
  // A resumed spool holds every row read since the last build (earlier windows of the run included).
  for (const row of resume?.spool ?? []) rowsById.set(run.deps.source.idOf(row), row);
  const seen = new Set<string>(resume?.seenIds ?? []);
  return {
    window,
    summary,
    resumed: resume !== undefined,
    seen,
    rowsById,
    page: 1,
    position: resume?.position,
    readComplete: resume?.readComplete ?? false,
    pendingWasLast: false,
  };
}

/** Rows of a page whose writes the previous invocation could not finish: settle them without reading the page again. */
export async function settleResumedPage(run: FlowRun, scan: WindowScan, resume: WindowCursor | undefined): Promise<void> {
  if (run.deps.builder.merges || !resume?.spool?.length) return;
  await settlePage(run, scan, resume.spool, scan.readComplete);
}

/** Builds and writes one page's rows (not merge flows); while it runs, a budget stop keeps them in the cursor. */
async function settlePage(run: FlowRun, scan: WindowScan, rows: SourceRow[], wasLast: boolean): Promise<void> {
  scan.pending = rows;
  scan.pendingWasLast = wasLast;
  await settleDocuments(run, run.deps.builder.build(rows, buildContext(run, scan.window)), scan.rowsById);
  scan.pending = undefined;
  scan.pendingWasLast = false;
}

/** Reads the window to its end: halved when it holds more than the request cap reads, re-read when ids drifted. */
export async function readWholeWindow(run: FlowRun, scan: WindowScan): Promise<void> {
  while (!scan.readComplete) {
    if (await readPass(run, scan)) {
      // Halved: read the (now smaller) window from its start.
      scan.summary.pages = 0;
      restartAtPageOne(scan);
      continue;
    }
    if (driftSeen(run, scan)) continue;
    scan.readComplete = true;
  }
}

/** One pass over the window's pages from the scan's position; true when the window was halved and must be read again. */
async function readPass(run: FlowRun, scan: WindowScan): Promise<boolean> {
  try {
    for await (const page of run.deps.source.readWindow(scan.window, scan.page, scan.position)) {
      if (await takePage(run, scan, page)) return true;
    }
    return false;
  } catch (error) {
    // The window needed more requests than the cap after all (keyset repeats, agreeing passes, rows added
    // since the first answer): halve it and read the first half again, instead of failing on every run.
    if (!(error instanceof BridgeError && error.code === "jst_paging_stuck" && error.details?.maxPages !== undefined)) throw error;
    const { window } = scan;
    const mid = halveWindow(window, run.options.incremental.alignToDays, run.options.incremental.timezone);
    if (mid === undefined) throw windowTooBig(window, error, run.deps.builder.merges === true);
    splitWindowAt(run, scan, mid);
    // Rows past the new end belong to the second half (written ones are in the ledger and found there).
    for (const [id, row] of scan.rowsById) if (!ownsInstant({ from: -Infinity, to: window.to }, run.deps.source.timeOf?.(row))) scan.rowsById.delete(id);
    return true;
  }
}

/** Takes one page: counts and keeps its rows, settles them (not merge flows); true when the window was halved instead. */
async function takePage(run: FlowRun, scan: WindowScan, p: SourcePage): Promise<boolean> {
  const { summary, window } = scan;
  summary.pages++;
  // The first answers tell the source's clock: rows past it − end lag belong to a later run.
  cutToSourceClock(run, window);
  summary.to = window.to;
  if (halvedForCap(run, scan, p)) return true;
  if (p.mode && !summary.paging?.split("+").includes(p.mode)) summary.paging = summary.paging ? `${summary.paging}+${p.mode}` : p.mode;
  summary.rows += p.rows.length;
  run.counts.read += p.rows.length;
  if (p.dataCount !== undefined) scan.lastCount = p.dataCount;
  const fresh = keepOwnedRows(run, scan, p.rows);
  scan.page = p.pageIndex + 1;
  scan.position = p.position;
  // Part of this page may be written (and in the ledger) when the budget stops its writes: the cursor keeps the
  // page's rows so the next invocation settles the rest without reading the page again (the ledger skips the written ones).
  if (!run.deps.builder.merges) await settlePage(run, scan, fresh, !p.hasMore);
  run.options.onProgress?.({ window, page: p.pageIndex, read: run.counts.read, written: run.counts.written });
  if (p.hasMore && run.deps.meter.exhausted()) throw new BudgetExhaustedError("the subrequest budget is spent before the window's next page");
  return false;
}

/** More rows than the request cap can read: halve the window (the second half is read next) and start again. */
function halvedForCap(run: FlowRun, scan: WindowScan, p: SourcePage): boolean {
  const cap = run.deps.source.maxWindowRows;
  if (scan.resumed || scan.summary.pages !== 1 || cap === undefined || p.dataCount === undefined || p.dataCount <= cap) return false;
  const mid = halveWindow(scan.window, run.options.incremental.alignToDays, run.options.incremental.timezone);
  if (mid === undefined) return false;
  splitWindowAt(run, scan, mid);
  return true;
}

/** Ends the window at `mid` and plans [mid, old end) as the run's next window. */
function splitWindowAt(run: FlowRun, scan: WindowScan, mid: number): void {
  const { window } = scan;
  run.windows.splice(run.windows.indexOf(window) + 1, 0, { from: mid, to: window.to });
  window.to = mid;
  scan.summary.to = mid;
}

/** Keeps the rows the window owns (latest version by id); returns those not seen before in this window. */
function keepOwnedRows(run: FlowRun, scan: WindowScan, rows: SourceRow[]): SourceRow[] {
  const { source } = run.deps;
  const fresh: SourceRow[] = [];
  for (const row of rows) {
    const id = source.idOf(row);
    // Counted for the drift check (the source's count includes it), but only the window it lies in builds it.
    const owned = ownsInstant(scan.window, source.timeOf?.(row));
    if (owned) scan.rowsById.set(id, row);
    if (owned && !scan.seen.has(id)) fresh.push(row);
    scan.seen.add(id);
  }
  return fresh;
}

/** Drift: fewer distinct ids than the source counts means rows shifted between pages while we read; true: read again. */
function driftSeen(run: FlowRun, scan: WindowScan): boolean {
  const { summary, seen, lastCount } = scan;
  if (lastCount === undefined || seen.size >= lastCount) return false;
  if (summary.rescans >= (run.options.maxRescans ?? 2)) throw new PageDriftError(scan.window, seen.size, lastCount);
  summary.rescans++;
  run.deps.logger.info("page drift detected, re-reading window", { flowId: run.flowId, seen: seen.size, reported: lastCount });
  restartAtPageOne(scan);
  return true;
}

function restartAtPageOne(scan: WindowScan): void {
  scan.page = 1;
  scan.position = undefined;
  scan.lastCount = undefined;
}

/** Cuts an incremental window at the source's clock − end lag; false when nothing of it is left. */
export function cutToSourceClock(run: FlowRun, window: TimeWindow): boolean {
  if (run.options.range) return true;
  const cutMs = cutWindowToSourceClock(window, run.options.incremental, run.now, run.deps.source.clockSkewMs?.(), run.deps.clock);
  if (cutMs === undefined) return true;
  run.windowEndCutMs = Math.max(run.windowEndCutMs ?? 0, cutMs);
  return window.to > window.from;
}

/**
 * Cuts an incremental window's end at the source's clock − end lag (the host ran ahead of Jushuitan); returns how far
 * it was cut, or undefined when it was not. The window may be left empty (to === from).
 */
function cutWindowToSourceClock(window: TimeWindow, inc: IncrementalSettings, now: number, skewMs: number | undefined, clock: Clock): number | undefined {
  const sourceNow = skewMs === undefined ? undefined : clock.now() + skewMs;
  const end = sourceClockEnd({ now, sourceNow, endLagMs: inc.endLagMs, alignToDays: inc.alignToDays, timezone: inc.timezone });
  if (end === undefined || window.to <= end) return undefined;
  const cutMs = window.to - Math.max(window.from, end);
  window.to = Math.max(window.from, end);
  return cutMs;
}
