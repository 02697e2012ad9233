/**
 * What the engine needs from the pieces around it, kept minimal so the concrete Jushuitan reader,
 * the compiled flow, the target clients and the state store plug in through thin adapters.
 */
import type { BridgeError } from "../errors.ts";
import type { TimeWindow } from "./window.ts";

export type SourceRow = Record<string, unknown>;

export interface SourcePage {
  rows: SourceRow[];
  /** 1-based page number inside the window. */
  pageIndex: number;
  /** Total rows the source reports for the window, when it reports one (drift detection). */
  dataCount?: number;
  /** False on the last page of the window. */
  hasMore: boolean;
  /** How the page was read ("rowversion", "keyset", "offset"), for the run record. */
  mode?: string;
  /** Opaque JSON: where a later invocation resumes this window to read everything after this page. */
  position?: SourcePosition;
}

/** A reader's resume point inside a window (plain JSON; the engine stores it, never interprets it). */
export type SourcePosition = Record<string, unknown>;

/** Reads one time window page by page (Jushuitan modified/io_date windows). */
export interface WindowSource {
  /**
   * Reads a window from its start, or from `resume` (a position an earlier page gave). `startPage` is what
   * readers without positions use; the engine passes 1 (a page number means something else after edits).
   */
  readWindow(window: TimeWindow, startPage: number, resume?: SourcePosition): AsyncIterable<SourcePage>;
  /** The document id used for dead letters, drift checks and merge membership (io_id …). */
  idOf(row: SourceRow): string;
  /**
   * The row's instant on the field the window filters by (modified, io_date), epoch ms; undefined when the
   * row has none. The engine keeps only rows in the window's half-open [from, to): the API's end bound may be
   * inclusive, so a row exactly on an edge would otherwise belong to two windows.
   */
  timeOf?(row: SourceRow): number | undefined;
  /** Most rows one window can be read in (request cap × page size); a window whose count says more is halved. */
  maxWindowRows?: number;
  /** The source's clock minus the host's (ms), measured from its latest answer; undefined until known. */
  clockSkewMs?(): number | undefined;
}

/** A target document ready to write. */
export interface BuiltDocument {
  externalKey: string;
  payload: Record<string, unknown>;
  /** Source ids in this document (one for unmerged flows). */
  members: string[];
  /** Hash of the payload: an unchanged re-read is skipped. */
  contentHash: string;
  /** Merged documents: the group (day, warehouse …) and the supplement number (0 = the original). */
  groupKey?: string;
  supplement?: number;
}

export interface BuildFailure {
  sourceId: string;
  source: unknown;
  error: BridgeError;
  payload?: unknown;
}

export interface BuildResult {
  documents: BuiltDocument[];
  failures: BuildFailure[];
  dropped: Array<{ sourceId: string; reason: string }>;
  /** Merge groups whose period is not closed yet (written by a later run). */
  held?: Array<{ groupKey: string; members: string[]; periodEnd: number }>;
  /** Members already written in their group (a re-read of the overlap). */
  skipped?: Array<{ id: string; groupKey: string; reason: string }>;
  /** Template paths no record of the run resolved so far (issue 14: never lose a field silently). */
  unresolved?: Array<{ flowPath: string; path: string; message: string; suggestions: string[] }>;
}

export type { DeadLetterInput, LedgerEntry } from "../state/records.ts";

/** Where a run stopped inside the range, so the next invocation continues exactly there. */
export interface WindowCursor {
  window: TimeWindow;
  /** Next page to read (kept for old checkpoints; a resume starts the window at `position`, or at page 1). */
  page: number;
  /** Where the reader resumes (edit-proof: a rowversion or a time, never a page number). */
  position?: SourcePosition;
  /** Ids already seen in this window (drift check across invocations). */
  seenIds: string[];
  rescans: number;
  /**
   * Merge flows: rows read so far in this window, merged when the window completes. Other flows: the rows of
   * the last page read whose writes the budget cut short (settled first on resume, without re-reading the page).
   */
  spool?: SourceRow[];
  /** Every page of the window is read: after the spool is settled, nothing is left to read. */
  readComplete?: boolean;
  /** An earlier window of this run set a document aside: the watermark must not move past it (engine/poison.ts). */
  holdWatermark?: boolean;
  /** What the hold waits for: documents (set aside, late outbox members; absent in old cursors) or a day still open. */
  holdFor?: "documents" | "groups";
  /**
   * Poison bookkeeping across the invocations of one run (poison.ts): a create succeeded in an earlier invocation, and
   * the documents earlier invocations set aside (a later invocation that writes marks their attempts createsSeen).
   */
  createsSeen?: boolean;
  setAsideKeys?: string[];
}

export interface Checkpoint {
  /** Everything the source dated before this instant is written or dead-lettered. */
  watermark: number;
  cursor?: WindowCursor;
  runId: string;
  updatedAt: number;
}

export type RunTrigger = "cron" | "http" | "queue" | "cli" | "action" | "replay";
export type RunOutcome = "success" | "partial" | "incomplete" | "failed" | "skipped_locked";

export interface ApiCallSummary {
  endpoint: string;
  calls: number;
  errors: number;
  throttles: number;
  p50Ms: number;
  p95Ms: number;
  latenciesMs?: number[];
}

export interface WindowSummary {
  from: number;
  to: number;
  pages: number;
  rows: number;
  rescans: number;
  complete: boolean;
  /** Paging mode(s) the reader used in this window: rowversion, keyset or offset. */
  paging?: string;
}

export interface RunSummary {
  runId: string;
  flowId: string;
  trigger: RunTrigger;
  dryRun: boolean;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  outcome: RunOutcome;
  counts: {
    read: number;
    written: number;
    alreadyExisted: number;
    skipped: number;
    deadLettered: number;
    dropped: number;
  };
  windows: WindowSummary[];
  api: ApiCallSummary[];
  subrequests: number;
  watermarkBefore: number;
  watermarkAfter: number;
  /** The run stopped on its budget and continues from a saved cursor. */
  continues: boolean;
  /** Documents whose write failed after retries in this run; written again next run (engine/poison.ts). */
  setAside?: Array<{ externalKey: string; attempts: number; code: string }>;
  /** Dead letters filed in this run, by error code (period_closed, change_unknown …), for alerts and the dashboard. */
  deadLetterCodes?: Record<string, number>;
  /** Correcting documents of this run (edits, cancellations after posting: engine/changes.ts), with their cause. */
  corrections?: import("./changes.ts").CorrectionRecord[];
  /**
   * The watermark did not move past a window this run completed: "documents" when it waits for documents set aside
   * (in this invocation or an earlier one of the same run) or late outbox members, which a later run settles;
   * "groups" when it waits only for a merge day that is not over yet.
   */
  watermarkHeld?: "documents" | "groups";
  /** The run wrote (or inherited unsettled writes) and its ledger is saved and it did not fail: state/write-marker.ts. */
  writesSettled?: boolean;
  /**
   * What the run learnt about the source: its clock against the host's (Date header; negative = the host runs
   * ahead, and windows were cut at the source's clock), and the paging modes its windows used.
   */
  /**
   * clockSkewMs: Jushuitan's clock (HTTP Date) minus the host's. late: rows written in this run that earlier runs read
   * past without seeing (visibility lag), with the smallest lag that explains the latest of them.
   */
  source?: { clockSkewMs?: number; windowEndCutMs?: number; paging?: string[]; late?: { rows: number; minLagMs: number } };
  /** A periodic re-sweep (shared/engine/resweep.ts): the range it re-read and how many documents it found missed. */
  resweep?: { days: number; from: number; to: number; found: number; resumedAt?: number };
  /** KV operations the run made (reads, writes, deletes, lists). */
  kv?: { reads: number; writes: number; deletes: number; lists: number };
  error?: { code: string; message: string; hint?: string };
  /** Template paths that resolved to nothing for every record of the run (flow path, path, nearest paths). */
  warnings?: Array<{ code: "unresolved_path"; flowPath: string; path: string; message: string; suggestions: string[] }>;
}
