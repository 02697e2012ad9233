/**
 * A `write_failed_repeatedly` letter filed while nothing vouched that the target takes creates (poison.ts: counted
 * only because a known-good read answered and fewer than three documents failed in a row) may be a healthy document
 * met by a create-only outage (adv6-create-outage: KIS answering 500 to every create for an hour, reads fine, two
 * bills waiting). Such a letter is marked `unvouched` and retried by the runs themselves: after each invocation that
 * read its source to the end, through the normal replay path (engine/replay.ts: the flow's lock, verify-existing first
 * so nothing is booked twice, the ledger, the letter resolved "by auto: the target took the write"), once per
 * invocation, for UNVOUCHED_RETRY_MS after it was filed. After the read, not before (adv7-unvouched-cancelled): the
 * letter replays the rows it stored, so a document cancelled meanwhile was booked before the run could see the
 * cancellation; read first, the run withdraws such a letter (stale-letters.ts) and the retry skips it. The invocation
 * runs on the budget less the retries' share (held-replay.ts), so the retries still get it. A real poison document fails each retry and its letter stays open for the
 * operator; a healthy one is written once the target takes creates again and its letter is resolved. The letter is
 * visible (and listed as open) until then.
 */
import type { Clock, Logger } from "../ports.ts";
import type { DeadLetter } from "../state/records.ts";
import type { Budget } from "./meter.ts";
import { replayDeadLetter } from "./replay.ts";
import { newerLetter } from "./superseded-letters.ts";
import type { RunnerPorts } from "./runner.ts";
import type { RunSummary } from "./types.ts";

export const UNVOUCHED_BY = "auto: the target took the write";
/** How long after it was filed an unvouched letter is retried by the runs (a day: outages longer than that need the operator). */
export const UNVOUCHED_RETRY_MS = 24 * 3600_000;
/** The share of a run's budget the retries may use, and the least a retry needs to be worth starting. */
const SHARE = 0.25;
const MIN_PER_RETRY = 3;

/** A letter a run retries by itself (see above). */
export const retriedByRuns = (letter: DeadLetter, now: number): boolean =>
  !letter.resolved &&
  letter.error?.code === "write_failed_repeatedly" &&
  letter.error.details?.unvouched === true &&
  now - letter.createdAt < UNVOUCHED_RETRY_MS;

type Resolve = (id: string, resolution: { reason: string; by: string }) => Promise<unknown>;

/** The retry an invocation leaves for after it released the flow's lock (runner.ts runFlowById): set when letters are due. */
export interface UnvouchedLater {
  retry?: (summary: RunSummary) => Promise<void>;
}

/** The subrequests an invocation keeps back for the retries: a quarter of its budget when a letter is due, else none. */
export const unvouchedReserve = (letters: DeadLetter[], budget: Budget, now: number): number =>
  letters.some((l) => retriedByRuns(l, now)) ? Math.floor(budget.maxSubrequests * SHARE) : 0;

/**
 * Whether the invocation read its source to the end, so a cancellation or edit of a lettered document was seen (and
 * its letter withdrawn or superseded): not when it was skipped, stopped on its budget (a later invocation reads on),
 * or failed before its windows were read (a failure with documents set aside read them: the target took nothing).
 */
export const readToEnd = (summary: RunSummary): boolean =>
  summary.outcome !== "skipped_locked" && !summary.continues && (summary.outcome !== "failed" || (summary.setAside?.length ?? 0) > 0);

/** After the invocation (see above): the flow's letters as the run left them, retried on the budget's share. */
export async function retryAfterRun(
  ports: RunnerPorts,
  summary: RunSummary,
  budget: Budget,
  deps: { clock: Clock; logger: Logger; resolve: Resolve; list: () => Promise<DeadLetter[]> },
): Promise<void> {
  if (!readToEnd(summary)) {
    deps.logger.info("unvouched letters wait for a run that reads its source to the end", { flowId: summary.flowId, outcome: summary.outcome });
    return;
  }
  try {
    await retryUnvouched(ports, await deps.list(), budget, deps);
  } catch (error) {
    deps.logger.warn("unvouched letters not retried this run", { flowId: summary.flowId, message: error instanceof Error ? error.message : String(error) });
  }
}

/** Retries the flow's unvouched letters; returns the letters without the ones it resolved and the subrequests it used. */
export async function retryUnvouched(
  ports: RunnerPorts,
  letters: DeadLetter[],
  budget: Budget,
  deps: { clock: Clock; logger: Logger; resolve?: Resolve },
): Promise<{ letters: DeadLetter[]; used: number }> {
  const due = letters.filter((l) => retriedByRuns(l, deps.clock.now()));
  if (due.length === 0) return { letters, used: 0 };
  const share = Math.floor(budget.maxSubrequests * SHARE);
  let used = 0;
  const written = new Set<string>();
  const superseded = new Set<string>();
  for (const letter of due) {
    const newer = deps.resolve && newerLetter(letter, letters);
    if (newer) {
      await deps.resolve!(letter.id, { reason: `superseded: ${newer.id} holds the newer content of ${letter.externalKey}`, by: UNVOUCHED_BY });
      superseded.add(letter.id);
      continue;
    }
    if (share - used < MIN_PER_RETRY || (budget.deadline !== undefined && deps.clock.now() >= budget.deadline)) break;
    const result = await replayDeadLetter(ports, letter.id, {
      by: UNVOUCHED_BY,
      budget: { maxSubrequests: share - used, ...(budget.deadline !== undefined ? { deadline: budget.deadline } : {}) },
    }).catch((error: unknown) => ({
      replayed: false,
      subrequests: 0,
      error: { code: "replay_failed", message: error instanceof Error ? error.message : String(error) },
    }));
    used += result.subrequests;
    if (result.replayed) written.add(letter.id);
    else if (result.error?.code === "changed_after_write" && deps.resolve) {
      // The run read the document changed and wrote its newer content under the key (adv7-unvouched-edited): this
      // letter's stored rows are stale, and nothing else can have written the key since it was lettered unwritten.
      await deps.resolve(letter.id, { reason: `superseded: ${letter.externalKey} was written with the document's newer content`, by: UNVOUCHED_BY });
      superseded.add(letter.id);
    } else deps.logger.info("unvouched letter retried, still not written", { flowId: letter.flow, letter: letter.id, code: result.error?.code });
  }
  if (written.size) deps.logger.info("unvouched letters written: the target takes creates again", { flowId: due[0]?.flow, written: written.size });
  return { letters: letters.filter((l) => !written.has(l.id) && !superseded.has(l.id)), used };
}
