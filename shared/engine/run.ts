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
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { isAccountError, type TargetConnector, type TargetWriteResult } from "../connectors/target.ts";
import type { Clock, Logger } from "../ports.ts";
import { contentHash } from "./hash.ts";
import { type CallMeter, percentile } from "./meter.ts";
import type { DeadLetterInput, LedgerEntry } from "../state/records.ts";
import type {
  BuildResult,
  BuiltDocument,
  Checkpoint,
  RunSummary,
  RunTrigger,
  SourceRow,
  WindowCursor,
  WindowSource,
  WindowSummary,
} from "./types.ts";
import { attemptLedgerKey, PoisonBook, repeatedFailure } from "./poison.ts";
import type { OutboxPlan } from "../state/outbox-store.ts";
import { closePlan, type OutboxContext, type OutboxRun, settleThroughOutbox } from "./outbox-writer.ts";
import { halveWindow, ownsInstant, planWindows, sourceClockEnd, type TimeWindow } from "./window.ts";
import { startOfDayInZone } from "../util/time.ts";
import { TargetConflictError, verifyExisting } from "./verify-existing.ts";
import { ChangeBook, type ChangeSettings } from "./changes.ts";
import { createChangeWriter, type ChangeWriter } from "./change-writer.ts";
import { writeWithPeriodPolicy, type PeriodPolicy } from "./periods.ts";

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

/** Ledger key of a merge group's registry entry (all members written for the group, supplements so far). */
export const groupLedgerKey = (groupKey: string) => `group:${groupKey}`;
/** Ledger key marking that a document's failure was filed as a dead letter (with the failing content's hash). */
export const deadLetterMarker = (id: string) => `dead:${id}`;

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

/** A window whose drift could not be resolved within the rescans allowed. */
export class PageDriftError extends BridgeError {
  constructor(window: TimeWindow, seen: number, reported: number) {
    super("page_drift", `window ${new Date(window.from).toISOString()}…${new Date(window.to).toISOString()} saw ${seen} distinct documents but the source reports ${reported} after re-reading`, {
      retryable: true,
      hint: "documents kept changing during the scan; the next run re-reads the window (use cursor paging where the endpoint supports start_ts)",
      details: { window, seen, reported },
    });
  }
}

/** Merge groups still open at the end of a window that has passed: the flow cannot move on by itself. */
export class HeldGroupError extends BridgeError {
  constructor(window: TimeWindow, held: number) {
    super("merge_group_held", `${held} merge group(s) read in window ${new Date(window.from).toISOString()}…${new Date(window.to).toISOString()} are still open after the window ended; the watermark cannot pass them`, {
      retryable: false,
      hint: "the merge period field (operation.period.field) must be the field the window filters by (source.timeField / date_type), or a whole day the window covers",
      details: { window, held },
    });
  }
}

export async function runFlow(deps: RunDeps, options: RunOptions): Promise<RunResult> {
  const { clock, logger, meter, state, flowId } = deps;
  const startedAt = clock.now();
  const now = options.now ?? startedAt;
  const dryRun = options.dryRun ?? false;
  const maxRescans = options.maxRescans ?? 2;

  const counts = { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 };
  const deadLetterCodes: Record<string, number> = {};
  const windowsSummary: WindowSummary[] = [];
  const planned: RunResult["planned"] = [];
  const pendingLedger: LedgerEntry[] = [];
  const pendingDead: DeadLetterInput[] = [];

  const checkpoint = options.range ? null : await state.loadCheckpoint(flowId);
  const watermarkBefore = checkpoint?.watermark ?? options.incremental.startAt;
  let watermark = watermarkBefore;
  let cursor: WindowCursor | undefined = checkpoint?.cursor;
  let outcome: RunSummary["outcome"] = "success";
  let continues = false;
  let runError: RunSummary["error"];

  const windows = planRange(options, watermark, now, cursor);
  // Set when a window had a document set aside (poison.ts): later windows are written, the watermark waits.
  let watermarkHeld = cursor?.holdWatermark === true;
  /** The hold waits for documents (set aside, late outbox members), not only for a day still open (run record). */
  let heldForDocuments = watermarkHeld && cursor?.holdFor !== "groups";
  /** How far the source's clock cut a window's end (the host ran ahead of Jushuitan), for the run record. */
  let windowEndCutMs: number | undefined;
  /** Cuts an incremental window at the source's clock − end lag; false when nothing of it is left. */
  const cutToSourceClock = (window: TimeWindow): boolean => {
    if (options.range) return true;
    const cutMs = cutWindowToSourceClock(window, options.incremental, now, deps.source.clockSkewMs?.(), clock);
    if (cutMs === undefined) return true;
    windowEndCutMs = Math.max(windowEndCutMs ?? 0, cutMs);
    return window.to > window.from;
  };

  /** Outbox plans settled (all parts written or dead-lettered): deleted once the ledger holds their registry entry. */
  const settledPlans: string[] = [];
  const flushState = async () => {
    if (dryRun) return;
    await deps.lease?.keep();
    if (pendingLedger.length) await state.ledgerAppend(flowId, pendingLedger.splice(0));
    if (pendingDead.length) await state.addDeadLetters(flowId, pendingDead.splice(0));
    for (const unit of settledPlans.splice(0)) await state.outbox?.delete(flowId, unit);
  };

  /**
   * Visibility lag, measured: rows written now that earlier runs read past without seeing. Their lag was at least
   * lateBefore − instant + end lag (the earlier run's query ended at its clock − end lag, past the row).
   */
  const lateBefore = options.lateBefore ?? (options.range ? undefined : watermarkBefore);
  const late = { rows: 0, minLagMs: 0 };
  const noteLate = (rows: SourceRow[]) => noteLateRows(late, rows, lateBefore, deps.source, options.incremental.endLagMs);

  let ledgerView: ((key: string) => LedgerEntry | undefined) | undefined;
  /** Entries settled in this run, newest last; they shadow the stored ledger. */
  const settled = new Map<string, LedgerEntry>();
  const ledgerGet = (key: string) => settled.get(key) ?? ledgerView?.(key);
  const remember = (entry: LedgerEntry) => {
    settled.set(entry.externalKey, entry);
    pendingLedger.push(entry);
  };
  /**
   * Files a dead letter once: a marker in the ledger (id + content hash) keeps the lookback overlap and
   * re-reads from filing the same failure again; a changed source document is tried afresh.
   */
  const deadLetter = (sourceId: string, source: unknown, error: unknown, extra: { externalKey?: string; payload?: unknown } = {}) => {
    const e = toBridgeError(error);
    const marker = deadLetterMarker(extra.externalKey ?? sourceId);
    // A conflict shows both sides (verify-existing.ts) and is filed once per pair of sides, whichever path found it.
    if (e instanceof TargetConflictError) extra = { ...extra, payload: { ...e.sides, document: extra.payload } };
    const hash = e instanceof TargetConflictError ? contentHash(["conflict", e.sides]) : contentHash([source ?? null, extra.payload ?? null, e.code]);
    if (ledgerGet(marker)?.contentHash === hash) {
      counts.skipped++;
      return;
    }
    counts.deadLettered++;
    deadLetterCodes[e.code] = (deadLetterCodes[e.code] ?? 0) + 1;
    if (dryRun) return;
    remember({ externalKey: marker, contentHash: hash, writtenAt: clock.now(), runId: options.runId });
    pendingDead.push({
      flowId,
      runId: options.runId,
      sourceId,
      externalKey: extra.externalKey,
      source,
      payload: extra.payload,
      error: { code: e.code, message: e.message, hint: e.hint },
      at: clock.now(),
    });
    logger.warn("document dead-lettered", { flowId, sourceId, code: e.code });
  };

  // Outage probe (poison.ts): a read the target answers while it is up. A budget stop escapes; any other failure is "down".
  const probe = deps.target.probe
    ? () =>
        deps.target.probe!(deps.targetOperation).then(
          (answered) => (answered ? true : undefined),
          (error: unknown) => {
            if (error instanceof BudgetExhaustedError) throw error;
            return false;
          },
        )
    : undefined;
  const poison = new PoisonBook((key) => ledgerGet(key), options.maxFailedRuns, probe);
  const inheritedCursor = checkpoint?.cursor;
  poison.inheritRunCreates(inheritedCursor?.createsSeen === true);
  /** Documents set aside by this run's earlier invocations (chaos seed 9036: a tiny budget splits the run). */
  const earlierSetAside = inheritedCursor?.setAsideKeys ?? [];
  /** Markers left by earlier runs (killed, failed after writes, ledger not saved): verify every write. */
  let inherited: string[] = [];
  let uncleanBefore = false;
  /** This run marked its writes in flight. */
  let markedWriting = false;
  let ledgerSaveFailed = false;
  const verifyAll = () => (options.recovering ?? false) || uncleanBefore;

  /** Corrections after posting (engine/change-writer.ts); undefined: the flow keeps the onExisting behaviour. */
  let aloneContext: BuildContext = { lastSyncTime: now, currentTime: now };
  const changeWriter: ChangeWriter | undefined = deps.changes
    ? createChangeWriter({
        book: new ChangeBook(deps.changes, (key) => ledgerGet(key)),
        flowId,
        runId: options.runId,
        dryRun,
        logger,
        now: () => clock.now(),
        buildAlone: (row) => deps.builder.build([row], aloneContext),
        idOf: (row) => deps.source.idOf(row),
        ledgerGet: (key) => ledgerGet(key),
        remember: (entry) => remember(entry),
        deadLetter: (sourceId, source, error, extra) => deadLetter(sourceId, source, error, extra),
        writeOne: (doc, rows, onSettled, onRefused) => writeOne(doc, rows, "changed", onSettled, onRefused),
        exhausted: (doc) => poison.exhausted(doc),
        skipped: () => counts.skipped++,
      })
    : undefined;

  const writtenGroup = (groupKey: string) => {
    const entry = ledgerGet(groupLedgerKey(groupKey));
    return entry ? { members: entry.members ?? [], supplements: entry.supplements ?? 0 } : undefined;
  };

  /** Writes built documents; returns normally or throws BudgetExhausted / a transient error to stop the run. */
  let unresolved: NonNullable<BuildResult["unresolved"]> = [];
  const settleDocuments = async (built: BuildResult, rowsById: Map<string, SourceRow>) => {
    unresolved = built.unresolved ?? [];
    counts.dropped += built.dropped.length;
    counts.skipped += built.skipped?.length ?? 0;
    for (const f of built.failures) deadLetter(f.sourceId, f.source, f.error, { payload: f.payload });
    await changeWriter?.reviewBuilt(built, rowsById, deps.builder.merges);
    const documents = outbox ? await settleThroughOutbox(outbox, built.documents, rowsById) : built.documents;
    for (const doc of poison.order(documents)) {
      const known = ledgerGet(doc.externalKey);
      if (changeWriter && doc.groupKey === undefined) {
        if (await changeWriter.reviewDocument(doc, known, rowsById)) continue;
      } else if (known) {
        if (known.contentHash === doc.contentHash) {
          counts.skipped++;
          if (dryRun) planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status: "unchanged" });
          continue;
        }
        changedAfterWrite(doc, rowsById, { dryRun, planned, counts, onChanged: deps.onChanged, logger, flowId, deadLetter });
        continue;
      }
      if (!dryRun && poison.exhausted(doc)) {
        counts.skipped++; // dead-lettered after failing in maxFailedRuns runs; replay it once fixed
        continue;
      }
      // Set aside by an earlier invocation of this run (the cursor holds the watermark for it): the next run retries it.
      if (earlierSetAside.includes(doc.externalKey)) continue;
      await writeOne(doc, rowsOf(doc, rowsById), (doc.supplement ?? 0) > 0 ? "supplement" : "new", (result) => {
        const at = clock.now();
        remember({
          externalKey: doc.externalKey,
          contentHash: doc.contentHash,
          targetId: result?.targetId ?? result?.targetCode,
          members: doc.members,
          writtenAt: at,
          runId: options.runId,
        });
        changeWriter?.imagesOf(doc, rowsById);
        if (doc.groupKey !== undefined) {
          const previous = writtenGroup(doc.groupKey);
          remember({
            externalKey: groupLedgerKey(doc.groupKey),
            contentHash: "group",
            members: [...new Set([...(previous?.members ?? []), ...doc.members])],
            supplements: Math.max(previous?.supplements ?? 0, doc.supplement ?? 0),
            writtenAt: at,
            runId: options.runId,
          });
        }
      });
    }
  };

  /** The outbox of merge flows that write (engine/outbox-writer.ts); undefined otherwise. */
  let outbox: OutboxRun | undefined;

  const writeOne = async (
    doc: BuiltDocument,
    rows: SourceRow[],
    status: RunResult["planned"][number]["status"],
    onSettled: (result?: TargetWriteResult) => void,
    onRefused?: (error: BridgeError) => void,
  ) => {
    if (dryRun) {
      planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status });
      return;
    }
    await deps.lease?.keep(); // outside the try: a lost lease stops the run, it is not this document's failure
    try {
      if (!markedWriting && state.writeMarker) {
        await state.writeMarker.mark(flowId, options.runId, clock.now());
        markedWriting = true;
      }
      const write = { operation: deps.targetOperation, externalKey: doc.externalKey, payload: doc.payload };
      const writeOptions = { verifyExisting: verifyAll() || poison.triedBefore(doc) };
      const result = await (deps.periods ? writeWithPeriodPolicy(deps.target, write, writeOptions, deps.periods) : deps.target.write(write, writeOptions));
      const conflict = await verifyExisting(deps.target, write, result, logger);
      if (conflict) throw conflict; // the key holds other lines: a conflict dead letter, never "written"
      if (result.status === "created") {
        counts.written++;
        noteLate(rows);
      } else counts.alreadyExisted++;
      poison.succeeded();
      onSettled(result);
    } catch (error) {
      if (error instanceof BudgetExhaustedError) {
        // The budget ran out while retrying this document after a retryable failure (a budget smaller than one
        // write's retries, chaos seed 9053): set it aside for this run, so the continuation goes on with the others
        // instead of spending every invocation on it; the next run tries it again.
        const cause = error.after;
        if (cause instanceof BridgeError && cause.retryable && !isAccountError(cause)) {
          await poison.setAside(doc, rows, cause).catch((e: unknown) => {
            if (!(e instanceof BudgetExhaustedError)) throw e;
          });
        }
        throw error;
      }
      if (error instanceof BridgeError && !error.retryable && !isAccountError(error)) {
        if (onRefused) return onRefused(error);
        // The source rows (every member's, for a merged document), so the letter can be replayed once the cause is fixed.
        deadLetter(doc.members[0] ?? doc.externalKey, doc.groupKey === undefined && rows.length === 1 ? rows[0] : rows, error, { externalKey: doc.externalKey, payload: doc.payload });
        return;
      }
      // Transient and out of retries for this document: set it aside and go on (poison.ts), unless the failures
      // look like an outage. About the account (credentials, quota) rather than this document: stop here.
      if (error instanceof BridgeError && error.retryable && !isAccountError(error)) {
        if (!(await poison.setAside(doc, rows, error))) {
          logger.warn("write failed after retries; document set aside for this run", { flowId, externalKey: doc.externalKey, code: error.code });
          return;
        }
      }
      throw error;
    }
  };

  const groupsElsewhere = options.incremental.groupsOnWindowField === false;
  /**
   * Incremental runs of a merged flow that windows on `modified` and groups by io_date build once, after every
   * window of the run is read: a day's members may lie in any of them, so building per window would write a
   * day from part of what the run reads and the rest as supplements (a range backfill reads by the group field).
   */
  const deferToRunEnd = deps.builder.merges && groupsElsewhere && !options.range;
  /** Rows read by merge flows and not built yet, by id (the spool a budget stop saves). */
  const unbuilt = new Map<string, SourceRow>();
  /** The last window whose rows are in `unbuilt` (the deferred build's window). */
  let lastRead: TimeWindow | undefined;
  /** Summaries of windows read whose rows wait in `unbuilt`: complete once built. */
  const readUnbuilt: WindowSummary[] = [];
  /** Merged flows build at period ends: a window halved below a day waits for the half that closes the day. */
  const closesPeriod = (window: TimeWindow) => !options.incremental.alignToDays || startOfDayInZone(window.to, options.incremental.timezone) === window.to;
  /** Groups on another field than the windows: the earliest window-field instant of a held group's members. */
  let heldFrom: number | undefined;
  const buildContext = (window: TimeWindow): BuildContext => ({
    ...(aloneContext = { lastSyncTime: window.from, currentTime: window.to }),
    // Groups on another field close when their day is over by the run's clock: the end of its last window.
    closedBefore: groupsElsewhere && !deferToRunEnd ? Math.max(window.to, windows[windows.length - 1]?.to ?? window.to) : window.to,
    written: writtenGroup,
  });

  /** Builds and writes the merged groups of everything read since the last build. */
  const buildUnbuilt = async (window: TimeWindow) => {
    const rows = new Map(unbuilt);
    const built = deps.builder.build([...rows.values()], buildContext(window));
    const heldGroups = built.held ?? [];
    await settleDocuments(built, rows);
    unbuilt.clear();
    for (const read of readUnbuilt.splice(0)) read.complete = true;
    lastRead = undefined;
    await flushState();
    if (heldGroups.length > 0 && groupsElsewhere) {
      // Windows on `modified`, groups by another day field: the group's day is not over yet (a document dated
      // ahead of its save). Not an error: the watermark stops before its earliest member, so the next run reads
      // it again (and only what follows), and writes the day once it is over.
      logger.info("merge groups of a day not yet over are held; the watermark waits for them", { flowId, held: heldGroups.length });
      if (options.range) return;
      const held = heldGroupsStart(heldGroups, rows, deps.source);
      if (held.untimed) watermarkHeld = true;
      if (held.from !== undefined) heldFrom = Math.min(heldFrom ?? Infinity, held.from);
    } else if (heldGroups.length > 0) {
      // Every row is in [from, to) on the window's field and windows end on period boundaries, so a group still open
      // at the end of a past window means the group field is not the window field: the watermark must not pass
      // it, and stopping quietly would stall the flow for good. Fail the run so it is seen and alerted.
      throw new HeldGroupError(window, heldGroups.length);
    }
  };

  /** A window is settled: move the watermark past it unless something holds it. */
  const advancePast = async (window: TimeWindow) => {
    await flushState();
    if (poison.takeWindowCount() > 0 || outbox?.late) watermarkHeld = heldForDocuments = true;
    if (!options.range && !watermarkHeld) {
      watermark = Math.max(watermark, Math.min(window.to, heldFrom ?? Infinity));
      checkpointDirty = !(await saveCheckpoint({ watermark, runId: options.runId, updatedAt: clock.now() }, false));
    } else if (!options.range) {
      // Held (a document set aside or a group still open): the watermark stays, but a cursor inherited from an
      // earlier invocation must not outlive this run — it would make every later run resume past the held window
      // and never read the set-aside document again. The final save writes the held watermark without a cursor.
      checkpointDirty = true;
    }
  };
  /** End of run: count the set-aside documents' failed runs; dead-letter the ones that reached the limit. */
  const settleSetAside = () => {
    if (dryRun || poison.size === 0) return { pending: false, list: [] as NonNullable<RunSummary["setAside"]> };
    const setAsideCount = poison.size;
    const { entries, exhausted, setAside, tookNothing } = poison.settle(options.runId, clock.now());
    if (tookNothing && outcome !== "failed") {
      // Every write failed and none counted as poison (no create seen to work): report it as the outage it may be.
      outcome = "failed";
      runError = { code: tookNothing.code, message: `the target took no document in this run (${setAsideCount} set aside): ${tookNothing.message}`, hint: tookNothing.hint };
    }
    for (const entry of entries) remember(entry);
    for (const item of exhausted) fileExhausted(item, outbox, { ledgerGet, deadLetter, changeWriter });
    if (outcome === "success") outcome = "partial";
    return { pending: true, list: setAside };
  };
  // KV allows one write per second per key: the checkpoint is saved per window only when a second has passed.
  let lastCheckpointSave = -Infinity;
  /** Saves now (waiting out the per-key second when forced) or, unforced, only if a second has passed; returns whether it saved. */
  const saveCheckpoint = async (cp: Checkpoint, force: boolean): Promise<boolean> => {
    if (dryRun || options.range) return true;
    const since = clock.now() - lastCheckpointSave;
    if (since < 1000) {
      if (!force) return false;
      await clock.sleep(1000 - since);
    }
    await deps.lease?.keep();
    await state.saveCheckpoint(flowId, cp);
    lastCheckpointSave = clock.now();
    savedWatermark = cp.watermark;
    return true;
  };
  let checkpointDirty = false;
  /** The watermark the stored checkpoint holds (the run record reports this, not one only held in memory). */
  let savedWatermark = watermarkBefore;

  try {
    // A flow's first run saves its starting point before it writes anything: a ledger without a checkpoint
    // then always means a lost checkpoint (the runner refuses to guess where to resume).
    if (!checkpoint && !options.range) await saveCheckpoint({ watermark, runId: options.runId, updatedAt: clock.now() }, true);
    ledgerView = await state.ledgerView(flowId);
    inherited = dryRun ? [] : ((await state.writeMarker?.unsettled(flowId, options.runId)) ?? []);
    if (inherited.length) {
      uncleanBefore = true;
      logger.warn("an earlier run did not settle its writes; verifying every write in the target", { flowId, runs: inherited });
    }
    if (deps.builder.merges && state.outbox && !dryRun) {
      const plans = new Map((await state.outbox.list(flowId)).map((p) => [p.groupKey, p]));
      const ctx: OutboxContext = {
        flowId,
        runId: options.runId,
        target: deps.target,
        targetOperation: deps.targetOperation,
        outbox: state.outbox,
        now: () => clock.now(),
        poison,
        changeWriter,
        ledgerGet,
        remember,
        writtenGroup,
        deadLetter,
        writeOne,
        settled: (unit) => settledPlans.push(unit),
      };
      outbox = { ctx, plans, late: false };
    }
    for (const window of windows) {
      const resume = cursor && cursor.window.from === window.from && cursor.window.to === window.to ? cursor : undefined;
      // A resumed spool holds every row read since the last build (earlier windows of the run included).
      cursor = undefined;
      if (!cutToSourceClock(window)) break;
      const summary: WindowSummary = { from: window.from, to: window.to, pages: 0, rows: 0, rescans: resume?.rescans ?? 0, complete: false };
      windowsSummary.push(summary);
      const seen = new Set<string>(resume?.seenIds ?? []);
      // Latest version of every row read in this window (merge flows build the window from it).
      const rowsById = new Map<string, SourceRow>();
      for (const row of resume?.spool ?? []) rowsById.set(deps.source.idOf(row), row);
      // Never resume by page number: rows shift between invocations. A position (rowversion / time) or page 1.
      let page = 1;
      let position = resume?.position;
      let lastCount: number | undefined;

      const saveCursor = async (nextPage: number, pending?: SourceRow[], pageWasLast = false) => {
        continues = true;
        outcome = "incomplete";
        await flushState();
        const merges = deps.builder.merges;
        await saveCheckpoint(
          {
            watermark,
            cursor: {
              window,
              page: nextPage,
              position,
              seenIds: [...seen],
              rescans: summary.rescans,
              // Merge flows: every row not built yet (earlier windows of a deferred build and this one).
              spool: merges ? [...new Map([...unbuilt, ...rowsById]).values()] : pending,
              readComplete: merges ? readComplete : pageWasLast || undefined,
              holdWatermark: watermarkHeld || (heldForDocuments ||= poison.takeWindowCount() > 0) || undefined,
              holdFor: heldForDocuments ? "documents" : watermarkHeld ? "groups" : undefined,
              createsSeen: poison.createsSeenInRun || undefined,
              setAsideKeys: earlierSetAside.length || poison.size ? [...new Set([...earlierSetAside, ...poison.setAsideKeys()])] : undefined,
            },
            runId: options.runId,
            updatedAt: clock.now(),
          },
          true,
        );
        checkpointDirty = false;
      };
      let readComplete = resume?.readComplete ?? false;
      let halved = false;

      // Rows of a page whose writes the previous invocation could not finish: settle them without reading the page again.
      if (!deps.builder.merges && resume?.spool?.length) {
        try {
          await settleDocuments(deps.builder.build(resume.spool, buildContext(window)), rowsById);
        } catch (error) {
          if (error instanceof BudgetExhaustedError) {
            await saveCursor(page, resume.spool, readComplete);
            return finish();
          }
          throw error;
        }
      }

      scan: for (; !readComplete; ) {
        try {
          for await (const p of deps.source.readWindow(window, page, position)) {
            summary.pages++;
            // The first answers tell the source's clock: rows past it − end lag belong to a later run.
            cutToSourceClock(window);
            summary.to = window.to;
            // More rows than the request cap can read: halve the window (the second half is read next) and start again.
            const cap = deps.source.maxWindowRows;
            if (!resume && summary.pages === 1 && cap !== undefined && p.dataCount !== undefined && p.dataCount > cap) {
              const mid = halveWindow(window, options.incremental.alignToDays, options.incremental.timezone);
              if (mid !== undefined) {
                windows.splice(windows.indexOf(window) + 1, 0, { from: mid, to: window.to });
                window.to = mid;
                summary.to = mid;
                halved = true;
                break;
              }
            }
            if (p.mode && !summary.paging?.split("+").includes(p.mode)) summary.paging = summary.paging ? `${summary.paging}+${p.mode}` : p.mode;
            summary.rows += p.rows.length;
            counts.read += p.rows.length;
            if (p.dataCount !== undefined) lastCount = p.dataCount;
            const fresh: SourceRow[] = [];
            for (const row of p.rows) {
              const id = deps.source.idOf(row);
              // Counted for the drift check (the source's count includes it), but only the window it lies in builds it.
              const owned = ownsInstant(window, deps.source.timeOf?.(row));
              if (owned) rowsById.set(id, row);
              if (owned && !seen.has(id)) fresh.push(row);
              seen.add(id);
            }
            if (!deps.builder.merges) {
              try {
                await settleDocuments(deps.builder.build(fresh, buildContext(window)), rowsById);
              } catch (error) {
                if (error instanceof BudgetExhaustedError) {
                  // Part of this page is written (and in the ledger); keep the page's rows in the cursor so the next
                  // invocation settles the rest without reading the page again (the ledger skips the written ones).
                  position = p.position;
                  await saveCursor(p.pageIndex + 1, fresh, !p.hasMore);
                  return finish();
                }
                throw error;
              }
            }
            page = p.pageIndex + 1;
            position = p.position;
            options.onProgress?.({ window, page: p.pageIndex, read: counts.read, written: counts.written });
            if (p.hasMore && meter.exhausted()) {
              await saveCursor(page);
              return finish();
            }
          }
        } catch (error) {
          if (error instanceof BudgetExhaustedError) {
            await saveCursor(page);
            return finish();
          }
          // The window needed more requests than the cap after all (keyset repeats, agreeing passes, rows added
          // since the first answer): halve it and read the first half again, instead of failing on every run.
          if (error instanceof BridgeError && error.code === "jst_paging_stuck" && error.details?.maxPages !== undefined) {
            const mid = halveWindow(window, options.incremental.alignToDays, options.incremental.timezone);
            if (mid === undefined) throw windowTooBig(window, error, deps.builder.merges === true);
            windows.splice(windows.indexOf(window) + 1, 0, { from: mid, to: window.to });
            window.to = mid;
            summary.to = mid;
            // Rows past the new end belong to the second half (written ones are in the ledger and found there).
            for (const [id, row] of rowsById) if (!ownsInstant({ from: -Infinity, to: window.to }, deps.source.timeOf?.(row))) rowsById.delete(id);
            halved = true;
          } else throw error;
        }
        if (halved) {
          halved = false;
          summary.pages = 0;
          page = 1;
          position = undefined;
          lastCount = undefined;
          continue scan;
        }
        // Drift: fewer distinct ids than the source counts means rows shifted between pages while we read.
        if (lastCount !== undefined && seen.size < lastCount) {
          if (summary.rescans >= maxRescans) throw new PageDriftError(window, seen.size, lastCount);
          summary.rescans++;
          logger.info("page drift detected, re-reading window", { flowId, seen: seen.size, reported: lastCount });
          page = 1;
          position = undefined;
          lastCount = undefined;
          continue scan;
        }
        readComplete = true;
      }

      if (deps.builder.merges) {
        for (const [id, row] of rowsById) unbuilt.set(id, row);
        lastRead = window;
        // Merged groups are built from every row read since the last build: at a day boundary (a window halved
        // below a day builds with its other half), or, when groups are on another field than the windows, once
        // at the end of the run (a day's members may lie in any window of the run).
        if (deferToRunEnd || !closesPeriod(window)) {
          readUnbuilt.push(summary); // complete once built
          continue;
        }
        try {
          await buildUnbuilt(window);
        } catch (error) {
          if (error instanceof BudgetExhaustedError) {
            // The whole window is read; keep the spool so the next invocation only writes what is left.
            await saveCursor(page);
            return finish();
          }
          throw error;
        }
      }
      summary.complete = true;
      await advancePast(window);
    }
    if (deferToRunEnd && lastRead) {
      const window = lastRead;
      try {
        await buildUnbuilt(window);
      } catch (error) {
        if (error instanceof BudgetExhaustedError) {
          continues = true;
          outcome = "incomplete";
          await flushState();
          const spool = [...unbuilt.values()];
          const holdWatermark = watermarkHeld || (heldForDocuments ||= poison.takeWindowCount() > 0) || undefined;
          const cursor = {
            window,
            page: 1,
            seenIds: [],
            rescans: 0,
            spool,
            readComplete: true,
            holdWatermark,
            holdFor: heldForDocuments ? ("documents" as const) : watermarkHeld ? ("groups" as const) : undefined,
            createsSeen: poison.createsSeenInRun || undefined,
            setAsideKeys: earlierSetAside.length || poison.size ? [...new Set([...earlierSetAside, ...poison.setAsideKeys()])] : undefined,
          };
          await saveCheckpoint({ watermark, cursor, runId: options.runId, updatedAt: clock.now() }, true);
          checkpointDirty = false;
          return finish();
        }
        throw error;
      }
      await advancePast(window);
    }
    if (checkpointDirty) await saveCheckpoint({ watermark, runId: options.runId, updatedAt: clock.now() }, true);
    if (counts.deadLettered > 0) outcome = "partial";
  } catch (error) {
    const e = toBridgeError(error);
    outcome = "failed";
    runError = { code: e.code, message: e.message, hint: e.hint };
    logger.error("run failed", { flowId, code: e.code, message: e.message });
    try {
      await flushState();
    } catch (flushError) {
      ledgerSaveFailed = true;
      logger.error("could not save ledger after failure", { flowId, message: toBridgeError(flushError).message });
    }
    // Windows completed before the failure keep their progress: the save skipped within the per-key second is made now
    // (only after the ledger is saved, so the watermark never passes documents whose writes are not recorded).
    if (checkpointDirty && !ledgerSaveFailed) {
      try {
        await saveCheckpoint({ watermark, runId: options.runId, updatedAt: clock.now() }, true);
        checkpointDirty = false;
      } catch (saveError) {
        logger.error("could not save the checkpoint after failure", { flowId, message: toBridgeError(saveError).message });
      }
    }
  }
  return finish();

  /** Whether this run's writes are settled (run record `writesSettled`); a recovering run that settled clears what it inherited. */
  async function settleWriteMarker(): Promise<boolean> {
    const clean = !ledgerSaveFailed && outcome !== "failed" && !(uncleanBefore && outcome === "incomplete");
    if (dryRun || !clean || !state.writeMarker || inherited.length === 0) return clean;
    try {
      await state.writeMarker.clear(flowId, inherited);
    } catch (error) {
      logger.error("could not clear write markers", { flowId, message: toBridgeError(error).message });
    }
    return clean;
  }

  async function finish(): Promise<RunResult> {
    // A document an earlier invocation of this run set aside before any create worked: this invocation's creates show
    // the target takes them, so its failure counts in later runs (which find the others written and create nothing).
    let upgraded = false;
    if (!dryRun && poison.createsInInvocation > 0) {
      for (const key of earlierSetAside) {
        const entry = ledgerGet(attemptLedgerKey(key));
        if (entry && !entry.createsSeen) {
          // Later than the entry it replaces: the ledger keeps the latest writtenAt per key (a tie is either one).
          remember({ ...entry, createsSeen: true, writtenAt: Math.max(clock.now(), entry.writtenAt + 1) });
          upgraded = true;
        }
      }
    }
    const setAside = settleSetAside();
    if (setAside.pending || upgraded) {
      try {
        await flushState();
      } catch (error) {
        ledgerSaveFailed = true;
        logger.error("could not save set-aside documents", { flowId, message: toBridgeError(error).message });
      }
    }
    const writesSettled = await settleWriteMarker();
    const finishedAt = clock.now();
    const summary: RunSummary = {
      runId: options.runId,
      flowId,
      trigger: options.trigger,
      dryRun,
      startedAt,
      finishedAt,
      durationMs: finishedAt - startedAt,
      outcome,
      counts,
      windows: windowsSummary,
      api: apiSummary(meter),
      subrequests: meter.used(),
      source: {
        clockSkewMs: deps.source.clockSkewMs?.(),
        ...(windowEndCutMs !== undefined ? { windowEndCutMs } : {}),
        ...(late.rows > 0 ? { late: { rows: late.rows, minLagMs: late.minLagMs } } : {}),
        paging: [...new Set(windowsSummary.flatMap((w) => w.paging?.split("+") ?? []))],
      },
      watermarkBefore,
      watermarkAfter: dryRun || options.range ? watermark : savedWatermark,
      continues,
      ...(watermarkHeld && !options.range ? { watermarkHeld: heldForDocuments ? ("documents" as const) : ("groups" as const) } : {}),
      error: runError,
      ...(setAside.list.length ? { setAside: setAside.list } : {}),
      ...(changeWriter?.records.length ? { corrections: changeWriter.records } : {}),
      ...(counts.deadLettered > 0 ? { deadLetterCodes } : {}),
      ...(markedWriting || inherited.length ? { writesSettled } : {}),
    };
    if (unresolved.length > 0) {
      summary.warnings = unresolved.map((u) => ({ code: "unresolved_path" as const, ...u }));
      logger.warn("template paths resolved to nothing", { flowId, paths: unresolved.map((u) => `${u.flowPath}: ${u.path}`) });
    }
    if (!dryRun) await state.recordRun(summary);
    return { summary, planned };
  }
}

/**
 * Same key, different content: the target already holds a posted document. Never overwritten silently: surfaced as
 * a dead letter, or skipped with a warning when the flow says onExisting: "skip" (a dry run plans it as "changed").
 */
function changedAfterWrite(
  doc: BuiltDocument,
  rowsById: Map<string, SourceRow>,
  run: {
    dryRun: boolean;
    planned: RunResult["planned"];
    counts: RunSummary["counts"];
    onChanged: RunDeps["onChanged"];
    logger: Logger;
    flowId: string;
    deadLetter: (sourceId: string, source: unknown, error: unknown, extra: { externalKey?: string; payload?: unknown }) => void;
  },
): void {
  if (run.dryRun) {
    run.planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status: "changed" });
    return;
  }
  if (run.onChanged === "skip") {
    run.counts.skipped++;
    run.logger.warn("document changed after it was written; skipped (onExisting: skip)", { flowId: run.flowId, externalKey: doc.externalKey });
    return;
  }
  run.deadLetter(
    doc.members[0] ?? doc.externalKey,
    doc.members.length === 1 ? rowsById.get(doc.members[0]!) : doc.members.map((m) => rowsById.get(m)),
    new BridgeError("changed_after_write", `document ${doc.externalKey} changed after it was written to the target`, {
      hint: "post the correction in the target by hand (or a red/reversal document), then resolve this dead letter",
    }),
    { externalKey: doc.externalKey, payload: doc.payload },
  );
}

/** A set-aside document that reached the failure limit (poison.ts), dead-lettered at the end of the run. */
function fileExhausted(
  item: ReturnType<PoisonBook["settle"]>["exhausted"][number],
  outbox: OutboxRun | undefined,
  run: {
    ledgerGet: (key: string) => LedgerEntry | undefined;
    deadLetter: (sourceId: string, source: unknown, error: unknown, extra: { externalKey?: string; payload?: unknown }) => void;
    changeWriter: ChangeWriter | undefined;
  },
): void {
  const plan = item.doc.groupKey === undefined ? undefined : outbox?.plans.get(item.doc.groupKey);
  const at = plan?.parts.findIndex((p) => p.externalKey === item.doc.externalKey) ?? -1;
  if (outbox && plan && at >= 0) {
    // A part of a merged group's plan: the letter holds the plan's remainder from this part on (as a refusal's
    // does), so replaying it writes exactly those parts; the plan is settled now that none of it waits.
    const remainder = plan.parts.slice(at).filter((p) => !run.ledgerGet(p.externalKey));
    run.deadLetter(item.doc.members[0] ?? item.doc.externalKey, item.rows, repeatedFailure(item.doc.externalKey, item.attempts, item.error), {
      externalKey: item.doc.externalKey,
      payload: { outbox: { unit: plan.unit, parts: remainder } },
    });
    closePlan(outbox, plan);
    return;
  }
  run.deadLetter(item.doc.members[0] ?? item.doc.externalKey, item.doc.groupKey === undefined && item.rows.length === 1 ? item.rows[0] : item.rows, repeatedFailure(item.doc.externalKey, item.attempts, item.error), {
    externalKey: item.doc.externalKey,
    payload: run.changeWriter ? run.changeWriter.letterPayload(item.doc) : item.doc.payload,
  });
}

/** Counts rows written now that earlier runs read past without seeing (read before `lateBefore`), and their least lag. */
function noteLateRows(late: { rows: number; minLagMs: number }, rows: SourceRow[], lateBefore: number | undefined, source: WindowSource, endLagMs: number): void {
  if (lateBefore === undefined) return;
  for (const row of rows) {
    const at = source.timeOf?.(row);
    if (at === undefined || at >= lateBefore) continue;
    late.rows++;
    late.minLagMs = Math.max(late.minLagMs, lateBefore - at + Math.max(0, endLagMs));
  }
}

/** The run record's per-endpoint API figures. */
function apiSummary(meter: CallMeter): RunSummary["api"] {
  return meter.stats().map((s) => ({
    endpoint: s.endpoint,
    calls: s.calls,
    errors: s.errors,
    throttles: s.throttles,
    p50Ms: percentile(s.latenciesMs, 50),
    p95Ms: percentile(s.latenciesMs, 95),
    latenciesMs: s.latenciesMs,
  }));
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

/** Where held merge groups start on the window field (earliest member, whole seconds); untimed: a member has no time. */
function heldGroupsStart(heldGroups: NonNullable<BuildResult["held"]>, rows: Map<string, SourceRow>, source: WindowSource): { from?: number; untimed: boolean } {
  let from: number | undefined;
  let untimed = false;
  for (const group of heldGroups) {
    for (const member of group.members) {
      const at = source.timeOf?.(rows.get(member) ?? {});
      if (at === undefined) untimed = true;
      else from = Math.min(from ?? Infinity, Math.floor(at / 1000) * 1000);
    }
  }
  return { ...(from !== undefined ? { from } : {}), untimed };
}

/** A window the request cap cannot read that cannot be halved (one second: more rows saved in it than the cap reads). */
function windowTooBig(window: TimeWindow, cause: BridgeError, merged: boolean): BridgeError {
  const span = `${new Date(window.from).toISOString()}…${new Date(window.to).toISOString()}`;
  return new BridgeError("jst_paging_stuck", `window ${span} needs more requests than the cap and cannot be split (one second)${merged ? "; the merged groups read so far are not written" : ""}`, {
    cause,
    hint: "raise JST_MAX_PAGES_PER_WINDOW (or the page size): more documents were saved in one second than the cap reads",
    details: { window, ...cause.details },
  });
}

function rowsOf(doc: BuiltDocument, rowsById: Map<string, SourceRow>): SourceRow[] {
  return doc.members.map((m) => rowsById.get(m)).filter((r): r is SourceRow => r !== undefined);
}

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

export function toBridgeError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  if (error instanceof Error) return new BridgeError("internal", error.message, { cause: error });
  return new BridgeError("internal", String(error));
}
