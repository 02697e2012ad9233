/**
 * Building what a run read (split out of run.ts): the build context of a window, and for merge flows the spool of
 * rows read but not built yet, built into groups at a period's end (or once at the run's end) and written.
 */
import { settleDocuments } from "./document-writer.ts";
import type { FlowRun } from "./run-context.ts";
import { flushState } from "./run-ledger.ts";
import { HeldGroupError } from "./run-errors.ts";
import type { BuildContext } from "./run.ts";
import type { BuildResult, SourceRow, WindowSource, WindowSummary } from "./types.ts";
import type { TimeWindow } from "./window.ts";
import type { WindowScan } from "./window-scan.ts";
import { startOfDayInZone } from "../util/time.ts";

export interface MergeSpool {
  /** Merge groups are on another field than the windows (T+ seed: windows on `modified`, groups by io_date). */
  readonly groupsElsewhere: boolean;
  /**
   * Incremental runs of a merged flow that windows on `modified` and groups by io_date build once, after every
   * window of the run is read: a day's members may lie in any of them, so building per window would write a
   * day from part of what the run reads and the rest as supplements (a range backfill reads by the group field).
   */
  readonly deferToRunEnd: boolean;
  /** Rows read by merge flows and not built yet, by id (the spool a budget stop saves). */
  readonly unbuilt: Map<string, SourceRow>;
  /** The last window whose rows are in `unbuilt` (the deferred build's window). */
  lastRead?: TimeWindow;
  /** Summaries of windows read whose rows wait in `unbuilt`: complete once built. */
  readonly readUnbuilt: WindowSummary[];
}

/** What the builder needs to know about the window it builds; also the context a correction builds one row alone in. */
export function buildContext(run: FlowRun, window: TimeWindow): BuildContext {
  const { spool, windows } = run;
  run.aloneContext = { lastSyncTime: window.from, currentTime: window.to };
  return {
    ...run.aloneContext,
    // Groups on another field close when their day is over by the run's clock: the end of its last window.
    closedBefore: spool.groupsElsewhere && !spool.deferToRunEnd ? Math.max(window.to, windows[windows.length - 1]?.to ?? window.to) : window.to,
    written: (groupKey) => run.ledger.writtenGroup(groupKey),
  };
}

/**
 * Merge flows: the window's rows join the spool; merged groups are built from every row read since the last build:
 * at a day boundary (a window halved below a day builds with its other half), or, when groups are on another field
 * than the windows, once at the end of the run (a day's members may lie in any window of the run).
 * Returns false when the build waits for a later window (the window's summary is completed by that build).
 */
export async function spoolAndBuild(run: FlowRun, scan: WindowScan): Promise<boolean> {
  const { spool } = run;
  for (const [id, row] of scan.rowsById) spool.unbuilt.set(id, row);
  spool.lastRead = scan.window;
  if (spool.deferToRunEnd || !closesPeriod(run, scan.window)) {
    spool.readUnbuilt.push(scan.summary); // complete once built
    return false;
  }
  await buildUnbuilt(run, scan.window);
  return true;
}

/** Merged flows build at period ends: a window halved below a day waits for the half that closes the day. */
function closesPeriod(run: FlowRun, window: TimeWindow): boolean {
  const inc = run.options.incremental;
  return !inc.alignToDays || startOfDayInZone(window.to, inc.timezone) === window.to;
}

/** Builds and writes the merged groups of everything read since the last build. */
export async function buildUnbuilt(run: FlowRun, window: TimeWindow): Promise<void> {
  const { spool, deps } = run;
  const rows = new Map(spool.unbuilt);
  const built = deps.builder.build([...rows.values()], buildContext(run, window));
  const heldGroups = built.held ?? [];
  await settleDocuments(run, built, rows);
  spool.unbuilt.clear();
  for (const read of spool.readUnbuilt.splice(0)) read.complete = true;
  spool.lastRead = undefined;
  await flushState(run);
  if (heldGroups.length === 0) return;
  if (!spool.groupsElsewhere) {
    // Every row is in [from, to) on the window's field and windows end on period boundaries, so a group still open
    // at the end of a past window means the group field is not the window field: the watermark must not pass
    // it, and stopping quietly would stall the flow for good. Fail the run so it is seen and alerted.
    throw new HeldGroupError(window, heldGroups.length);
  }
  // Windows on `modified`, groups by another day field: the group's day is not over yet (a document dated
  // ahead of its save). Not an error: the watermark stops before its earliest member, so the next run reads
  // it again (and only what follows), and writes the day once it is over.
  deps.logger.info("merge groups of a day not yet over are held; the watermark waits for them", { flowId: run.flowId, held: heldGroups.length });
  if (run.options.range) return;
  const held = heldGroupsStart(heldGroups, rows, deps.source);
  if (held.untimed) run.progress.held = true;
  if (held.from !== undefined) run.progress.heldFrom = Math.min(run.progress.heldFrom ?? Infinity, held.from);
}

/** Where held merge groups start on the window field (earliest member, whole seconds); untimed: a member has no time. */
function heldGroupsStart(
  heldGroups: NonNullable<BuildResult["held"]>,
  rows: Map<string, SourceRow>,
  source: WindowSource,
): { from?: number; untimed: boolean } {
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
