/**
 * When the chaos driver may stop invoking a flow: its last run neither continues nor failed, and set no document
 * aside. A set-aside document (engine poison.ts: a retryable failure after the client's retries) is neither written
 * nor dead-lettered; the run is "partial" and does not continue, but the watermark waits for it and only a later
 * run settles it (writes it, or dead-letters it after MAX_FAILED_RUNS). Stopping there judged it lost (seed 20261368).
 */
export interface SettledView {
  outcome?: string;
  continues?: boolean;
  setAside?: ReadonlyArray<unknown>;
  watermarkHeld?: string;
}

export function flowSettled(run: SettledView | null | undefined): boolean {
  if (!run || run.outcome === "skipped_locked") return false;
  if (run.setAside?.length) return false;
  // Seed 9054: an earlier invocation of the run set a document aside; the last one did not, but the watermark waits.
  if (run.watermarkHeld === "documents") return false;
  return !run.continues && (run.outcome === "success" || run.outcome === "partial");
}

/** A run record's windows (RunSummary.windows): what the invocation read. */
export interface ReadView extends SettledView {
  windows?: ReadonlyArray<{ from: number; to: number; complete?: boolean }>;
}

/**
 * The driver's rule across invocations. `reach`: the furthest window end read by any run since the flow was last
 * settled that set a document aside or held the watermark for one; the flow is settled only by a run that read
 * complete windows up to there, setting nothing aside (every document set aside before is then written, lettered or
 * no longer in the source's range: the watermark passed it). Seed 4254 long: a bill re-stamped to 5 minutes before
 * now by an edit was set aside by a run reading to there; the next shared-cron tick, dated 20 minutes behind the host
 * (the engine takes scheduledTime as now), read only to 25 minutes before now, set nothing aside and held nothing, and
 * the driver stopped; the engine's watermark still waited before the bill and the next real tick reads it again.
 */
export function settleAfter(run: ReadView | null | undefined, reach: number | undefined): { settled: boolean; reach?: number } {
  if (!run || run.outcome === "skipped_locked") return { settled: false, ...(reach !== undefined ? { reach } : {}) };
  const ends = (run.windows ?? []).map((w) => w.to);
  if (run.setAside?.length || run.watermarkHeld === "documents") {
    const next = ends.length > 0 ? Math.max(reach ?? -Infinity, ...ends) : reach;
    return { settled: false, ...(next !== undefined ? { reach: next } : {}) };
  }
  const settled = flowSettled(run);
  const readTo = Math.max(-Infinity, ...(run.windows ?? []).filter((w) => w.complete !== false).map((w) => w.to));
  if (reach === undefined || (settled && readTo >= reach)) return { settled };
  return { settled: false, reach };
}

/**
 * How long the driver sleeps before invoking a flow that waits only for a run to read up to `reach` (settleAfter)
 * while no run can read that far yet: the engine cuts every window at Jushuitan's clock minus the end lag
 * (`readableNow`), and a set-aside run dated ahead (shared cron, up to 4 min) recorded windows past that. Invoking
 * without waiting spent the 160-invocation limit in 14–19 s (seeds 9016 and 4346 long, 2026-12-06, final batches on
 * 64e83f5: "did not settle within 160 invocations; last run: success"). 0 when the flow is not waiting for the clock.
 */
export function reachWaitMs(last: SettledView | null | undefined, reach: number | undefined, readableNow: number): number {
  if (reach === undefined || !flowSettled(last) || reach <= readableNow) return 0;
  return Math.min(reach - readableNow + 1000, 30_000);
}
