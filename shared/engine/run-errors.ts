/** The errors a run raises about its own reading (split out of run.ts), and the one normalisation of unknown throws. */
import { BridgeError } from "../errors.ts";
import type { TimeWindow } from "./window.ts";

const span = (window: TimeWindow) => `${new Date(window.from).toISOString()}…${new Date(window.to).toISOString()}`;

/** A window whose drift could not be resolved within the rescans allowed. */
export class PageDriftError extends BridgeError {
  constructor(window: TimeWindow, seen: number, reported: number) {
    super("page_drift", `window ${span(window)} saw ${seen} distinct documents but the source reports ${reported} after re-reading`, {
      retryable: true,
      hint: "documents kept changing during the scan; the next run re-reads the window (use cursor paging where the endpoint supports start_ts)",
      details: { window, seen, reported },
    });
  }
}

/** Merge groups still open at the end of a window that has passed: the flow cannot move on by itself. */
export class HeldGroupError extends BridgeError {
  constructor(window: TimeWindow, held: number) {
    super("merge_group_held", `${held} merge group(s) read in window ${span(window)} are still open after the window ended; the watermark cannot pass them`, {
      retryable: false,
      hint: "the merge period field (operation.period.field) must be the field the window filters by (source.timeField / date_type), or a whole day the window covers",
      details: { window, held },
    });
  }
}

/** A window the request cap cannot read that cannot be halved (one second: more rows saved in it than the cap reads). */
export function windowTooBig(window: TimeWindow, cause: BridgeError, merged: boolean): BridgeError {
  return new BridgeError(
    "jst_paging_stuck",
    `window ${span(window)} needs more requests than the cap and cannot be split (one second)${merged ? "; the merged groups read so far are not written" : ""}`,
    {
      cause,
      hint: "raise JST_MAX_PAGES_PER_WINDOW (or the page size): more documents were saved in one second than the cap reads",
      details: { window, ...cause.details },
    },
  );
}

export function toBridgeError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  if (error instanceof Error) return new BridgeError("internal", error.message, { cause: error });
  return new BridgeError("internal", String(error));
}
