/**
 * The watermark's progress and its checkpoint saves (split out of run.ts): a settled window moves the watermark
 * unless something holds it, saves are spaced a second apart per key (KV), and a budget stop saves a cursor so the
 * next invocation continues exactly where this one stopped.
 */
import type { FlowRun } from "./run-context.ts";
import { flushState } from "./run-ledger.ts";
import type { Checkpoint, WindowCursor } from "./types.ts";
import type { TimeWindow } from "./window.ts";
import type { WindowScan } from "./window-scan.ts";

export interface WatermarkProgress {
  /** The watermark the run started from (run record). */
  readonly before: number;
  watermark: number;
  /** The watermark the stored checkpoint holds (the run record reports this, not one only held in memory). */
  saved: number;
  /** When the checkpoint was last saved (KV allows one write per second per key). */
  lastSaveAt: number;
  /** A save is owed: skipped within the per-key second, or a held watermark must drop an inherited cursor. */
  dirty: boolean;
  /** A window had a document set aside or a group is still open: later windows are written, the watermark waits. */
  held: boolean;
  /** The hold waits for documents (set aside, late outbox members), not only for a day still open (run record). */
  heldForDocuments: boolean;
  /** Groups on another field than the windows: the earliest window-field instant of a held group's members. */
  heldFrom?: number;
}

/** Saves now (waiting out the per-key second when forced) or, unforced, only if a second has passed; returns whether it saved. */
export async function saveCheckpoint(run: FlowRun, checkpoint: Checkpoint, force: boolean): Promise<boolean> {
  if (run.dryRun || run.options.range) return true;
  const { clock, lease, state } = run.deps;
  const { progress } = run;
  const since = clock.now() - progress.lastSaveAt;
  if (since < 1000) {
    if (!force) return false;
    await clock.sleep(1000 - since);
  }
  await lease?.keep();
  await state.saveCheckpoint(run.flowId, checkpoint);
  progress.lastSaveAt = clock.now();
  progress.saved = checkpoint.watermark;
  return true;
}

/** Saves the watermark without a cursor. */
export function saveWatermark(run: FlowRun, force: boolean): Promise<boolean> {
  return saveCheckpoint(run, { watermark: run.progress.watermark, runId: run.runId, updatedAt: run.deps.clock.now() }, force);
}

/** A window is settled: move the watermark past it unless something holds it. */
export async function advancePast(run: FlowRun, window: TimeWindow): Promise<void> {
  const { progress } = run;
  await flushState(run);
  if (run.poison.takeWindowCount() > 0 || run.outbox?.late) progress.held = progress.heldForDocuments = true;
  if (run.options.range) return;
  if (!progress.held) {
    progress.watermark = Math.max(progress.watermark, Math.min(window.to, progress.heldFrom ?? Infinity));
    progress.dirty = !(await saveWatermark(run, false));
  } else {
    // Held (a document set aside or a group still open): the watermark stays, but a cursor inherited from an
    // earlier invocation must not outlive this run — it would make every later run resume past the held window
    // and never read the set-aside document again. The final save writes the held watermark without a cursor.
    progress.dirty = true;
  }
}

/** The budget stop: the run continues from where the read of `scan`'s window stands, in the next invocation. */
export async function saveCursor(run: FlowRun, scan: WindowScan): Promise<void> {
  run.continues = true;
  run.outcome = "incomplete";
  await flushState(run);
  await saveCheckpoint(run, { watermark: run.progress.watermark, cursor: cursorAt(run, scan), runId: run.runId, updatedAt: run.deps.clock.now() }, true);
  run.progress.dirty = false;
}

function cursorAt(run: FlowRun, scan: WindowScan): WindowCursor {
  const merges = run.deps.builder.merges;
  const { progress, poison, earlierSetAside } = run;
  return {
    window: scan.window,
    page: scan.page,
    position: scan.position,
    seenIds: [...scan.seen],
    rescans: scan.summary.rescans,
    // Merge flows: every row not built yet (earlier windows of a deferred build and this one).
    spool: merges ? [...new Map([...run.spool.unbuilt, ...scan.rowsById]).values()] : scan.pending,
    readComplete: merges ? scan.readComplete : scan.pendingWasLast || undefined,
    holdWatermark: progress.held || (progress.heldForDocuments ||= poison.takeWindowCount() > 0) || undefined,
    holdFor: progress.heldForDocuments ? "documents" : progress.held ? "groups" : undefined,
    createsSeen: poison.createsSeenInRun || undefined,
    setAsideKeys: earlierSetAside.length || poison.size ? [...new Set([...earlierSetAside, ...poison.setAsideKeys()])] : undefined,
  };
}
