/**
 * The pure arithmetic behind four benchmark rows (issue 18 items 4 and 5), kept apart so tests can hold it to what
 * the rows claim (test/core/bench-honesty.test.ts). Used by bench/mapping-kis.ts, bench/sync.ts, bench/backfill.ts and
 * bench/index.ts.
 */

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median of per-round ratios with min–max. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(ratios: number[]): Spread {
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/** CPU ms of one interleaved round of the KIS mapping bench. */
export interface KisRound {
  /** The core's compiled pipeline: mapping and the content hash of each payload (the pipeline always hashes). */
  core: number;
  /** Hand-written mapping alone. */
  hand: number;
  /** The content hash (engine/hash.ts) of the same payloads, timed alone in the same round. */
  hash: number;
}

/**
 * The KIS mapping rows. Goal: the mapping alone (the core's time less the hash of the same payloads, timed in the same
 * round, against hand-written mapping). Informational: mapping + content hash on both sides, what the engine pays per
 * document. With the hash in both, the hash (~64 % of the hand-written time) dilutes the mapping's own gap.
 */
export function kisMappingRatios(rounds: KisRound[]): { goal: Spread; withHash: Spread } {
  return {
    goal: spread(rounds.map((r) => (r.core - r.hash) / r.hand)),
    withHash: spread(rounds.map((r) => r.core / (r.hand + r.hash))),
  };
}

/** API calls of a sync against the minimum, and the KV writes per 1,000 documents. */
export interface SourceFacts {
  /** Rows the source holds in each window the flow reads (what its requests for that window return). */
  rowsPerWindow: number[];
  pageSize: number;
  /** Generated documents that pass the flow's source filter and condition: each written exactly once. */
  documentsToWrite: number;
  /** KIS_PRECHECK=always (the default) looks every bill up before creating it: one list call per write. */
  prechecksPerWrite: 0 | 1;
}
export interface SyncRun {
  calls: number;
  pagesRead: number;
  written: number;
  kvWrites: number;
}

/** Pages a window of n rows needs: one request even when it is empty. */
export const pagesFor = (rows: number, pageSize: number) => Math.max(1, Math.ceil(rows / pageSize));

/**
 * Pages a window of n rows needs when read by keyset (other/inout: `start_ts` goes only with the paging parameters,
 * ../shared/docs/wire-evidence.md, so windows are read by `modified` ≥ the last row's second): every page after the
 * first starts again at its predecessor's last second and returns that row again, so it brings at most pageSize − 1
 * new rows, and a full last page needs one more request to see the end. With one row per boundary second:
 * 1 for n < pageSize, else ⌊(n − pageSize) / (pageSize − 1)⌋ + 2. The protocol's own minimum, next to the count-only one.
 */
export const keysetPagesFor = (rows: number, pageSize: number) => (rows < pageSize ? 1 : Math.floor((rows - pageSize) / (pageSize - 1)) + 2);

/**
 * The minimum comes from the source's own numbers, never from the run it judges (a run that read a page twice or
 * wrote a document twice would otherwise raise its own minimum); KV writes are per document that had to be written.
 */
export function syncFigures(source: SourceFacts, run: SyncRun) {
  const pages = source.rowsPerWindow.reduce((n, rows) => n + pagesFor(rows, source.pageSize), 0);
  const minimum = pages + source.documentsToWrite * (1 + source.prechecksPerWrite);
  const keysetPages = source.rowsPerWindow.reduce((n, rows) => n + keysetPagesFor(rows, source.pageSize), 0);
  return { minimum, minimumPages: pages, keysetPages, kvWritesPer1000: (run.kvWrites / source.documentsToWrite) * 1000, extraCalls: run.calls - minimum };
}

/** Backfill throughput from the CLI report's counts. */
/** Written per second is the budget figure; documents the flow's condition drops are read, never written. */
export function backfillThroughput(
  c: { read: number; written: number; dropped: number },
  seconds: number,
): { writtenPerSecond: number; readPerSecond: number } {
  return { writtenPerSecond: Math.round(c.written / seconds), readPerSecond: Math.round(c.read / seconds) };
}

/** The two backfill budget rows. */
export type Row = [what: string, measured: string, goal: string, met: boolean | null];
export const BUDGET_DOCUMENTS = 100_000;

/**
 * The budget is a 100,000-document backfill; a smaller run (--quick) peaks lower and is not judged against it:
 * its rows say so and carry no verdict.
 */
export function backfillRows(b: { documents: number; docsPerSec: number; peakRssMb: number }, quick: boolean): Row[] {
  const budget = !quick && b.documents === BUDGET_DOCUMENTS;
  const what = `Backfill ${b.documents.toLocaleString()} documents${budget ? "" : " (quick)"}`;
  const goal = (bound: string) => (budget ? bound : `— (not the budget row: ${bound} is for ${BUDGET_DOCUMENTS.toLocaleString()})`);
  return [
    [
      `${what} (CLI): throughput, documents written`,
      `${Math.round(b.docsPerSec).toLocaleString()} documents written/s`,
      goal("≥ 500 documents written/s"),
      budget ? b.docsPerSec >= 500 : null,
    ],
    [`${what}: peak RSS`, `${b.peakRssMb.toFixed(0)} MB`, goal("≤ 120 MB"), budget ? b.peakRssMb <= 120 : null],
  ];
}
