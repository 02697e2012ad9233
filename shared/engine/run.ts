/**
 * One invocation of one flow: read what changed since the watermark, build target documents, write each
 * exactly once, and settle state. The guarantees, by construction:
 *   - nothing lost: the watermark only moves past a window whose every document is written or dead-lettered;
 *     page drift inside a window is detected (ids seen vs. the source's count) and the window re-read;
 *   - nothing doubled: a ledger of written external keys + content hashes skips the lookback overlap and
 *     re-reads; the target's external-key uniqueness (T+ ExternalCode, KIS FBillNo) catches a crash between
 *     the target commit and the ledger save, and after an unclean stop writes verify existence first;
 *   - bounded: the metered fetch refuses requests past the invocation budget; the run stops at a page
 *     boundary, saves a cursor, and the next invocation continues there.
 */
import { BudgetExhaustedError } from "../errors.ts";
import type { TargetConnector } from "../connectors/target.ts";
import type { Clock, Logger } from "../ports.ts";
import type { CallMeter } from "./meter.ts";
import type { DeadLetterInput, LedgerEntry } from "../state/records.ts";
import type { BuildResult, Checkpoint, RunSummary, RunTrigger, SourceRow, WindowCursor, WindowSource } from "./types.ts";
import type { OutboxPlan } from "../state/outbox-store.ts";
import type { OutboxContext } from "./outbox-writer.ts";
import type { TimeWindow } from "./window.ts";
import type { ChangeSettings } from "./changes.ts";
import type { PeriodPolicy } from "./periods.ts";
import type { HeldLetters } from "./held-letters.ts";
import { advancePast, saveCursor, saveWatermark } from "./checkpoint-writer.ts";
import { writeOne } from "./document-writer.ts";
import { buildUnbuilt, spoolAndBuild } from "./merge-build.ts";
import { type FlowRun, openFlowRun } from "./run-context.ts";
import { fileDeadLetter, flushState } from "./run-ledger.ts";
import { toBridgeError } from "./run-errors.ts";
import { finishRun } from "./run-record.ts";
import { isPendingUnit, resolvePendingWrites } from "./pending-writes.ts";
import { inheritWriteIntents, isIntentUnit } from "./write-intents.ts";
import { cutToSourceClock, openScan, readWholeWindow, type WindowScan, settleResumedPage } from "./window-scan.ts";

export { deadLetterMarker, groupLedgerKey } from "./ledger-keys.ts";
export { HeldGroupError, PageDriftError, toBridgeError } from "./run-errors.ts";

export interface BuildContext {
  /** Epoch ms used for {{LAST_SYNC_TIME}} (the window start) and {{CURRENT_TIME}} (the window end). */
  lastSyncTime: number;
  currentTime: number;
  /** Merge flows: groups whose period ends after this instant are held back. */
  closedBefore?: number;
  /** Merge flows: what was already written per group; late members become numbered supplements. */
  written?: (groupKey: string) => { members: readonly string[]; supplements: number } | undefined;
}

/** The compiled flow as the engine sees it (shared/flow/builder.ts). */
export interface DocumentBuilder {
  /** True when documents are merged per group (then a window is built as a whole, after its last page). */
  readonly merges: boolean;
  build(rows: SourceRow[], context: BuildContext): BuildResult;
}

export interface EngineState {
  loadCheckpoint(flowId: string): Promise<Checkpoint | null>;
  saveCheckpoint(flowId: string, checkpoint: Checkpoint): Promise<void>;
  /** A synchronous view of the flow's ledger, loaded once per run. */
  ledgerView(flowId: string): Promise<(externalKey: string) => LedgerEntry | undefined>;
  ledgerAppend(flowId: string, entries: LedgerEntry[]): Promise<void>;
  addDeadLetters(flowId: string, items: DeadLetterInput[]): Promise<void>;
  recordRun(summary: RunSummary): Promise<void>;
  /** Merge outbox (state/outbox-store.ts): plans of merged groups whose parts are not all written yet. */
  outbox?: {
    list(flowId: string): Promise<OutboxPlan[]>;
    put(flowId: string, plan: OutboxPlan): Promise<void>;
    delete(flowId: string, unit: string): Promise<void>;
  };
  /** "Writes in flight" marker (state/write-marker.ts): recovery decided from state. */
  writeMarker?: {
    unsettled(flowId: string, ownRunId: string): Promise<string[]>;
    mark(flowId: string, runId: string, at: number): Promise<void>;
    clear(flowId: string, runIds: readonly string[]): Promise<void>;
  };
}

export interface IncrementalSettings {
  lookbackMs: number;
  endLagMs: number;
  windowMs: number;
  /** Where the very first run starts, epoch ms. */
  startAt: number;
  alignToDays: boolean;
  timezone?: string;
  /**
   * Merge flows: false when the merge period field is not the field the windows filter by (T+ seed: windows on
   * `modified`, groups by io_date). A group is then closed when its day is over by the run's clock (not the
   * window's end), and a group whose day is not over yet is held without failing: it holds the watermark, so
   * the next run reads it again. Undefined / true: a group still open after its window ended is an error.
   */
  groupsOnWindowField?: boolean;
}

export interface RunDeps {
  flowId: string;
  targetOperation: string;
  source: WindowSource;
  builder: DocumentBuilder;
  /** What to do when a written document's content changed upstream (flow target.onExisting). */
  onChanged?: "skip" | "deadLetter";
  /** Corrections after posting (flow target.onChange, engine/changes.ts); when set it replaces onChanged. */
  changes?: ChangeSettings;
  /** Closed-period / enable-date refusals (flow target.closedPeriod, engine/periods.ts). */
  periods?: PeriodPolicy;
  /** The flow's open held letters, withdrawn when the run finds their document no longer needs writing (held-letters.ts). */
  held?: HeldLetters;
  /** Why a write left in doubt that the target cannot look up may be sent again (pending-writes.ts; doctor/tplus-duplicate.ts). */
  resendInDoubt?: () => Promise<string | undefined>;
  target: TargetConnector;
  state: EngineState;
  meter: CallMeter;
  clock: Clock;
  logger: Logger;
  /** Renews the flow lease when due and throws when it was lost (state/lease-keeper.ts); called before writes and saves. */
  lease?: { keep(): Promise<void> };
}

export interface RunOptions {
  runId: string;
  trigger: RunTrigger;
  /** The instant the run reasons about (cron scheduledTime, request time); defaults to the clock. */
  now?: number;
  incremental: IncrementalSettings;
  /** Explicit range (backfill): read it without consulting or moving the watermark. */
  range?: { from: number; to: number };
  /** Fetch and build but write nothing and change no state; planned payloads are returned. */
  dryRun?: boolean;
  /** The previous holder of the flow lock stopped uncleanly: verify existence before every write. */
  recovering?: boolean;
  /** Failed runs after which a document that keeps failing with a retryable error is dead-lettered (default 3). */
  maxFailedRuns?: number;
  /** How many times a window whose ids disagree with the source's count is re-read before giving up. */
  maxRescans?: number;
  /**
   * Rows written now whose window-field instant lies before this were missed by the runs that read past it: they
   * became visible late (run record `source.late`). Default: the watermark (incremental runs); a re-sweep passes
   * the watermark it sweeps up to; a backfill has none.
   */
  lateBefore?: number;
  /** Called after every page (progress lines in the CLI). */
  onProgress?: (progress: { window: TimeWindow; page: number; read: number; written: number }) => void;
}

export interface RunResult {
  summary: RunSummary;
  /** Dry runs: the documents that would have been written. */
  planned: Array<{ externalKey: string; payload: Record<string, unknown>; members: string[]; status: "new" | "unchanged" | "changed" | "supplement" }>;
}

/**
 * The run, as a sequence of small parts over one FlowRun (run-context.ts): prepare, read and settle each window
 * (window-scan.ts, document-writer.ts, merge-build.ts), move the watermark (checkpoint-writer.ts), build what waited
 * for the run's end, and record the run (run-record.ts). Whatever stops it goes through one stop path (stopRun).
 */
export async function runFlow(deps: RunDeps, options: RunOptions): Promise<RunResult> {
  const run = await openFlowRun(deps, options);
  try {
    await prepareRun(run);
    await readWindows(run);
    await buildAtRunEnd(run);
    if (run.progress.dirty) await saveWatermark(run, true);
    if (run.counts.deadLettered > 0) run.outcome = "partial";
  } catch (error) {
    await stopRun(run, error);
  }
  return finishRun(run);
}

/** Before the first read: the first checkpoint, the ledger, write markers an earlier run left, the merge outbox. */
async function prepareRun(run: FlowRun): Promise<void> {
  const { deps, flowId, runId, recovery } = run;
  const { state } = deps;
  // A flow's first run saves its starting point before it writes anything: a ledger without a checkpoint
  // then always means a lost checkpoint (the runner refuses to guess where to resume).
  if (!run.checkpoint && !run.options.range) await saveWatermark(run, true);
  run.ledger.view = await state.ledgerView(flowId);
  recovery.inherited = run.dryRun ? [] : ((await state.writeMarker?.unsettled(flowId, runId)) ?? []);
  if (recovery.inherited.length) {
    recovery.uncleanBefore = true;
    deps.logger.warn("an earlier run did not settle its writes; verifying every write in the target", { flowId, runs: recovery.inherited });
  }
  if (deps.builder.merges && state.outbox && !run.dryRun) await openOutbox(run, state.outbox);
  // Writes whose answer was lost, before any document is judged (pending-writes.ts); pages a killed invocation was sending (write-intents.ts).
  inheritWriteIntents(run, await resolvePendingWrites(run));
}

/** The merge outbox (outbox-writer.ts): the plans earlier runs stored, and the run's parts it writes them with. */
async function openOutbox(run: FlowRun, outbox: NonNullable<EngineState["outbox"]>): Promise<void> {
  const { deps, ledger, flowId } = run;
  const plans = new Map((await outbox.list(flowId)).filter((p) => !isPendingUnit(p.unit) && !isIntentUnit(p.unit)).map((p) => [p.groupKey, p]));
  const ctx: OutboxContext = {
    flowId,
    runId: run.runId,
    target: deps.target,
    targetOperation: deps.targetOperation,
    outbox,
    now: () => deps.clock.now(),
    poison: run.poison,
    changeWriter: run.changeWriter,
    ledgerGet: (key) => ledger.get(key),
    remember: (entry) => ledger.remember(entry),
    writtenGroup: (groupKey) => ledger.writtenGroup(groupKey),
    deadLetter: (sourceId, source, error, extra) => fileDeadLetter(run, sourceId, source, error, extra),
    writeOne: (doc, rows, status, onSettled, onRefused) => writeOne(run, doc, rows, status, onSettled, onRefused),
    settled: (unit) => ledger.settledPlans.push(unit),
  };
  run.outbox = { ctx, plans, late: false };
}

/** Reads and settles the planned windows in order, moving the watermark past each settled one. */
async function readWindows(run: FlowRun): Promise<void> {
  let cursor = run.checkpoint?.cursor;
  for (const window of run.windows) {
    const resume = cursor && cursor.window.from === window.from && cursor.window.to === window.to ? cursor : undefined;
    cursor = undefined;
    if (!cutToSourceClock(run, window)) break;
    if (await readAndSettle(run, window, resume)) await advancePast(run, window);
  }
}

/** One window read and its documents settled; false when a merge build waits for a later window. */
async function readAndSettle(run: FlowRun, window: TimeWindow, resume: WindowCursor | undefined): Promise<boolean> {
  const scan = openScan(run, window, resume);
  run.resumeAt = scan; // a budget stop from here on saves this window's cursor
  await settleResumedPage(run, scan, resume);
  await readWholeWindow(run, scan);
  const settled = !run.deps.builder.merges || (await spoolAndBuild(run, scan));
  run.resumeAt = undefined;
  if (settled) scan.summary.complete = true;
  return settled;
}

/** Merge flows that build once per run (groups on another field than the windows): build everything read. */
async function buildAtRunEnd(run: FlowRun): Promise<void> {
  const window = run.spool.lastRead;
  if (!run.spool.deferToRunEnd || !window) return;
  // A budget stop during the build keeps the whole spool: the next invocation only writes what is left.
  run.resumeAt = spoolScan(window);
  await buildUnbuilt(run, window);
  run.resumeAt = undefined;
  await advancePast(run, window);
}

/** The resume point of a deferred build: every page is read, the rows wait in the spool. */
function spoolScan(window: TimeWindow): WindowScan {
  const summary = { from: window.from, to: window.to, pages: 0, rows: 0, rescans: 0, complete: false };
  return { window, summary, resumed: true, seen: new Set(), rowsById: new Map(), page: 1, readComplete: true, pendingWasLast: false };
}

/**
 * The one stop path. A budget stop while a window is read or built saves the cursor where it stands (incomplete:
 * the next invocation continues there). Anything else — a budget spent outside a window, a 5xx or account error
 * after retries, a lost lease, a failed save — fails the run, keeping what it settled.
 */
async function stopRun(run: FlowRun, error: unknown): Promise<void> {
  if (error instanceof BudgetExhaustedError && run.resumeAt) {
    try {
      await saveCursor(run, run.resumeAt);
      return;
    } catch (saveError) {
      error = saveError;
    }
  }
  await failRun(run, error);
}

/** A failed run saves its ledger and, only then, the progress of the windows it completed. */
async function failRun(run: FlowRun, error: unknown): Promise<void> {
  const { logger } = run.deps;
  const { flowId, progress, recovery } = run;
  const e = toBridgeError(error);
  run.outcome = "failed";
  run.error = { code: e.code, message: e.message, hint: e.hint };
  logger.error("run failed", { flowId, code: e.code, message: e.message });
  try {
    await flushState(run);
  } catch (flushError) {
    recovery.ledgerSaveFailed = true;
    logger.error("could not save ledger after failure", { flowId, message: toBridgeError(flushError).message });
  }
  // Windows completed before the failure keep their progress: the save skipped within the per-key second is made now
  // (only after the ledger is saved, so the watermark never passes documents whose writes are not recorded).
  if (!progress.dirty || recovery.ledgerSaveFailed) return;
  try {
    await saveWatermark(run, true);
    progress.dirty = false;
  } catch (saveError) {
    logger.error("could not save the checkpoint after failure", { flowId, message: toBridgeError(saveError).message });
  }
}
