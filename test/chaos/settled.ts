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
