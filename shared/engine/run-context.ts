/**
 * One invocation's state, shared by the parts of a run (run.ts orchestrates them): what it counted, what it settled
 * in the ledger but has not saved yet, how far the watermark got, and the books it keeps (poison, corrections,
 * outbox). One object instead of closures over a dozen variables, so each part is a small function of it.
 */
import { BudgetExhaustedError } from "../errors.ts";
import { ChangeBook } from "./changes.ts";
import { type ChangeWriter, createChangeWriter } from "./change-writer.ts";
import type { WatermarkProgress } from "./checkpoint-writer.ts";
import { writeOne } from "./document-writer.ts";
import type { MergeSpool } from "./merge-build.ts";
import type { OutboxRun } from "./outbox-writer.ts";
import { PoisonBook } from "./poison.ts";
import { fileDeadLetter, RunLedger } from "./run-ledger.ts";
import { closePendingWrite, keyInDoubt, openPendingWrite } from "./pending-writes.ts";
import type { BuildContext, RunDeps, RunOptions, RunResult } from "./run.ts";
import type { BuildResult, Checkpoint, RunOutcome, RunSummary, WindowCursor, WindowSummary } from "./types.ts";
import { planWindows, type TimeWindow } from "./window.ts";
import type { WindowScan } from "./window-scan.ts";

/** One invocation of one flow: its inputs, what it counted and settled, and the books it keeps. */
export interface FlowRun {
  readonly deps: RunDeps;
  readonly options: RunOptions;
  readonly flowId: string;
  readonly runId: string;
  readonly dryRun: boolean;
  readonly startedAt: number;
  /** The instant the run reasons about (cron scheduledTime, request time). */
  readonly now: number;
  /** The stored checkpoint; null on a flow's first run and for a range backfill (which never consults it). */
  readonly checkpoint: Checkpoint | null;
  /** The windows to read, in order; a window too big to read is halved in place and its second half inserted next. */
  readonly windows: TimeWindow[];
  readonly counts: RunSummary["counts"];
  readonly deadLetterCodes: Record<string, number>;
  readonly windowSummaries: WindowSummary[];
  readonly planned: RunResult["planned"];
  outcome: RunOutcome;
  /** The run stopped on its budget and continues from a saved cursor. */
  continues: boolean;
  error?: RunSummary["error"];
  readonly ledger: RunLedger;
  readonly progress: WatermarkProgress;
  readonly recovery: WriteRecovery;
  readonly spool: MergeSpool;
  readonly poison: PoisonBook;
  /** Documents set aside by this run's earlier invocations (chaos seed 9036: a tiny budget splits the run). */
  readonly earlierSetAside: readonly string[];
  /** Corrections after posting (engine/change-writer.ts); undefined: the flow keeps the onExisting behaviour. */
  changeWriter?: ChangeWriter;
  /** The outbox of merge flows that write (engine/outbox-writer.ts); undefined otherwise. */
  outbox?: OutboxRun;
  readonly late: LateRows;
  /** How far the source's clock cut a window's end (the host ran ahead of Jushuitan), for the run record. */
  windowEndCutMs?: number;
  /** Template paths the latest build left unresolved (run record warnings). */
  unresolved: NonNullable<BuildResult["unresolved"]>;
  /** The context a correction builds one row alone in: the latest window's. */
  aloneContext: BuildContext;
  /** Where a budget stop resumes: the window being read (run.ts saves it as the cursor); undefined outside a window. */
  resumeAt?: WindowScan;
}

/** Unsettled writes: state/write-marker.ts decides recovery from state, not from how the lock was released. */
export interface WriteRecovery {
  /** Markers left by earlier runs (killed, failed after writes, ledger not saved): verify every write. */
  inherited: string[];
  uncleanBefore: boolean;
  /** This run marked its writes in flight. */
  markedWriting: boolean;
  ledgerSaveFailed: boolean;
}

/**
 * Visibility lag, measured: rows written now that earlier runs read past without seeing. Their lag was at least
 * `before` − instant + end lag (the earlier run's query ended at its clock − end lag, past the row).
 */
export interface LateRows {
  readonly before: number | undefined;
  rows: number;
  minLagMs: number;
}

/** Starts a run: its stored checkpoint (none for a range backfill), the windows it reads, and its books. */
export async function openFlowRun(deps: RunDeps, options: RunOptions): Promise<FlowRun> {
  const startedAt = deps.clock.now();
  const now = options.now ?? startedAt;
  const checkpoint = options.range ? null : await deps.state.loadCheckpoint(deps.flowId);
  const watermarkBefore = checkpoint?.watermark ?? options.incremental.startAt;
  const cursor = checkpoint?.cursor;
  const windows = planRange(options, watermarkBefore, now, cursor);
  const ledger = new RunLedger();
  const poison = new PoisonBook((key) => ledger.get(key), options.maxFailedRuns, outageProbe(deps));
  poison.inheritRunCreates(cursor?.createsSeen === true);
  const groupsElsewhere = options.incremental.groupsOnWindowField === false;
  // Set when a window had a document set aside (poison.ts): later windows are written, the watermark waits.
  const held = cursor?.holdWatermark === true;
  const run: FlowRun = {
    deps,
    options,
    flowId: deps.flowId,
    runId: options.runId,
    dryRun: options.dryRun ?? false,
    startedAt,
    now,
    checkpoint,
    windows,
    counts: { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 },
    deadLetterCodes: {},
    windowSummaries: [],
    planned: [],
    outcome: "success",
    continues: false,
    ledger,
    // The hold waits for documents (set aside, late outbox members), not only for a day still open (run record).
    progress: {
      before: watermarkBefore,
      watermark: watermarkBefore,
      saved: watermarkBefore,
      lastSaveAt: -Infinity,
      dirty: false,
      held,
      heldForDocuments: held && cursor?.holdFor !== "groups",
    },
    recovery: { inherited: [], uncleanBefore: false, markedWriting: false, ledgerSaveFailed: false },
    spool: { groupsElsewhere, deferToRunEnd: deps.builder.merges && groupsElsewhere && !options.range, unbuilt: new Map(), readUnbuilt: [] },
    poison,
    earlierSetAside: cursor?.setAsideKeys ?? [],
    late: { before: options.lateBefore ?? (options.range ? undefined : watermarkBefore), rows: 0, minLagMs: 0 },
    unresolved: [],
    aloneContext: { lastSyncTime: now, currentTime: now },
  };
  if (deps.changes) run.changeWriter = runChangeWriter(run, deps.changes);
  return run;
}

/** Outage probe (poison.ts): a read the target answers while it is up. A budget stop escapes; any other failure is "down". */
function outageProbe(deps: RunDeps): (() => Promise<boolean | undefined>) | undefined {
  if (!deps.target.probe) return undefined;
  return () =>
    deps.target.probe!(deps.targetOperation).then(
      (answered) => (answered ? true : undefined),
      (error: unknown) => {
        if (error instanceof BudgetExhaustedError) throw error;
        return false;
      },
    );
}

function runChangeWriter(run: FlowRun, settings: NonNullable<RunDeps["changes"]>): ChangeWriter {
  const { deps, ledger } = run;
  const book = new ChangeBook(settings, (key) => ledger.get(key));
  const writer = createChangeWriter({
    book,
    flowId: run.flowId,
    runId: run.runId,
    dryRun: run.dryRun,
    logger: deps.logger,
    now: () => deps.clock.now(),
    buildAlone: (row) => deps.builder.build([row], run.aloneContext),
    buildRows: (rows) => deps.builder.build(rows, run.aloneContext),
    idOf: (row) => deps.source.idOf(row),
    ledgerGet: (key) => ledger.get(key),
    remember: (entry) => ledger.remember(entry),
    deadLetter: (sourceId, source, error, extra) => fileDeadLetter(run, sourceId, source, error, extra),
    writeOne: (doc, rows, onSettled, onRefused) => writeOne(run, doc, rows, "changed", onSettled, onRefused),
    exhausted: (doc) => run.poison.exhausted(doc),
    pending: { open: (doc, settle) => openPendingWrite(run, doc, settle), close: (key) => closePendingWrite(run, key) },
    skipped: () => run.counts.skipped++,
    ...(deps.held && !run.dryRun ? { held: deps.held } : {}),
  });
  // Numbering also skips the keys of writes this run left in doubt (pending-writes.ts keyInDoubt).
  const held = book.heldByOther;
  book.heldByOther = (key, sourceId) => keyInDoubt(run, key) || (held?.(key, sourceId) ?? false);
  return writer;
}

/** The windows a run reads: the range of a backfill, or from the watermark − lookback; a resumed window first. */
function planRange(options: RunOptions, watermark: number, now: number, cursor: WindowCursor | undefined): TimeWindow[] {
  const inc = options.incremental;
  if (options.range) {
    return planWindows({
      watermark: options.range.from,
      now: options.range.to,
      lookbackMs: 0,
      endLagMs: 0,
      maxWindowMs: inc.windowMs,
      alignToDays: inc.alignToDays,
      timezone: inc.timezone,
    }).windows;
  }
  const { windows } = planWindows({
    watermark,
    now,
    lookbackMs: inc.lookbackMs,
    endLagMs: inc.endLagMs,
    maxWindowMs: inc.windowMs,
    alignToDays: inc.alignToDays,
    // Groups on another field than the windows are built once per run: the windows need not start on a day.
    keepStart: inc.groupsOnWindowField === false,
    timezone: inc.timezone,
  });
  if (!cursor) return windows;
  // Resume: the saved window first, exactly as it was, then whatever follows it.
  // The fresh plan starts at watermark − lookback and need not line up with the saved window: clip, don't filter.
  const rest = windows.filter((w) => w.to > cursor.window.to).map((w) => ({ from: Math.max(w.from, cursor.window.to), to: w.to }));
  return [cursor.window, ...rest];
}
