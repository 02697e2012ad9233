/**
 * One invocation's state, shared by the parts of a run (run.ts orchestrates them): what it counted, what it settled
 * in the ledger but has not saved yet, how far the watermark got, and the books it keeps (poison, corrections,
 * outbox). One object instead of closures over a dozen variables, so each part is a small function of it.
 */
import { BudgetExhaustedError } from "../errors.ts";
import type { DeadLetterInput, LedgerEntry } from "../state/records.ts";
import { ChangeBook } from "./changes.ts";
import { type ChangeWriter, createChangeWriter } from "./change-writer.ts";
import type { WatermarkProgress } from "./checkpoint-writer.ts";
import { writeOne } from "./document-writer.ts";
import { contentHash } from "./hash.ts";
import { deadLetterMarker, groupLedgerKey } from "./ledger-keys.ts";
import type { MergeSpool } from "./merge-build.ts";
import type { OutboxRun } from "./outbox-writer.ts";
import { PoisonBook } from "./poison.ts";
import { toBridgeError } from "./run-errors.ts";
import type { BuildContext, RunDeps, RunOptions, RunResult } from "./run.ts";
import type { BuildResult, Checkpoint, RunOutcome, RunSummary, WindowCursor, WindowSummary } from "./types.ts";
import { TargetConflictError } from "./verify-existing.ts";
import { planWindows, type TimeWindow } from "./window.ts";
import type { WindowScan } from "./window-scan.ts";

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

/** The run's view of the flow ledger: entries settled in this run shadow the stored one until flushState saves them. */
export class RunLedger {
  view?: (key: string) => LedgerEntry | undefined;
  /** Entries settled in this run, newest last. */
  private readonly settled = new Map<string, LedgerEntry>();
  readonly pending: LedgerEntry[] = [];
  readonly pendingDead: DeadLetterInput[] = [];
  /** Outbox plans settled (all parts written or dead-lettered): deleted once the ledger holds their registry entry. */
  readonly settledPlans: string[] = [];

  get(key: string): LedgerEntry | undefined {
    return this.settled.get(key) ?? this.view?.(key);
  }

  remember(entry: LedgerEntry): void {
    this.settled.set(entry.externalKey, entry);
    this.pending.push(entry);
  }

  /** What was already written for a merge group (its registry entry). */
  writtenGroup(groupKey: string): { members: string[]; supplements: number } | undefined {
    const entry = this.get(groupLedgerKey(groupKey));
    return entry ? { members: entry.members ?? [], supplements: entry.supplements ?? 0 } : undefined;
  }
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
    progress: { before: watermarkBefore, watermark: watermarkBefore, saved: watermarkBefore, lastSaveAt: -Infinity, dirty: false, held, heldForDocuments: held && cursor?.holdFor !== "groups" },
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
  return createChangeWriter({
    book: new ChangeBook(settings, (key) => ledger.get(key)),
    flowId: run.flowId,
    runId: run.runId,
    dryRun: run.dryRun,
    logger: deps.logger,
    now: () => deps.clock.now(),
    buildAlone: (row) => deps.builder.build([row], run.aloneContext),
    idOf: (row) => deps.source.idOf(row),
    ledgerGet: (key) => ledger.get(key),
    remember: (entry) => ledger.remember(entry),
    deadLetter: (sourceId, source, error, extra) => fileDeadLetter(run, sourceId, source, error, extra),
    writeOne: (doc, rows, onSettled, onRefused) => writeOne(run, doc, rows, "changed", onSettled, onRefused),
    exhausted: (doc) => run.poison.exhausted(doc),
    skipped: () => run.counts.skipped++,
  });
}

/** The extra a dead letter can carry: the document's key and the payload that failed. */
export type DeadLetterExtra = { externalKey?: string; payload?: unknown };

/**
 * Files a dead letter once: a marker in the ledger (id + content hash) keeps the lookback overlap and
 * re-reads from filing the same failure again; a changed source document is tried afresh.
 */
export function fileDeadLetter(run: FlowRun, sourceId: string, source: unknown, error: unknown, extra: DeadLetterExtra = {}): void {
  const { clock, logger } = run.deps;
  const e = toBridgeError(error);
  const marker = deadLetterMarker(extra.externalKey ?? sourceId);
  // A conflict shows both sides (verify-existing.ts) and is filed once per pair of sides, whichever path found it.
  if (e instanceof TargetConflictError) extra = { ...extra, payload: { ...e.sides, document: extra.payload } };
  const hash = e instanceof TargetConflictError ? contentHash(["conflict", e.sides]) : contentHash([source ?? null, extra.payload ?? null, e.code]);
  if (run.ledger.get(marker)?.contentHash === hash) {
    run.counts.skipped++;
    return;
  }
  run.counts.deadLettered++;
  run.deadLetterCodes[e.code] = (run.deadLetterCodes[e.code] ?? 0) + 1;
  if (run.dryRun) return;
  run.ledger.remember({ externalKey: marker, contentHash: hash, writtenAt: clock.now(), runId: run.runId });
  run.ledger.pendingDead.push({
    flowId: run.flowId,
    runId: run.runId,
    sourceId,
    externalKey: extra.externalKey,
    source,
    payload: extra.payload,
    error: { code: e.code, message: e.message, hint: e.hint },
    at: clock.now(),
  });
  logger.warn("document dead-lettered", { flowId: run.flowId, sourceId, code: e.code });
}

/** Saves what the run settled: ledger entries, dead letters, and the deletion of settled outbox plans. */
export async function flushState(run: FlowRun): Promise<void> {
  if (run.dryRun) return;
  const { state, lease } = run.deps;
  const { ledger, flowId } = run;
  await lease?.keep();
  if (ledger.pending.length) await state.ledgerAppend(flowId, ledger.pending.splice(0));
  if (ledger.pendingDead.length) await state.addDeadLetters(flowId, ledger.pendingDead.splice(0));
  for (const unit of ledger.settledPlans.splice(0)) await state.outbox?.delete(flowId, unit);
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
