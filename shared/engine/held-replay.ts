/**
 * Closed periods, policy `hold` (engine/periods.ts, docs/changes.md): documents the target refused because their
 * accounting period is closed wait as `period_closed` dead letters. When the accountant reopens the period
 * (反结账) they are replayed by themselves: before each incremental run the held letter of the flow's newest
 * document date is replayed through the normal replay path (engine/replay.ts: the flow's lock, verify-existing, the
 * ledger, the letter resolved "by auto: period reopened"). Periods close in order and reopen from the latest back
 * (反结账 goes back one period at a time), so a refused date means every older date is closed too: while closed that
 * one refusal is all it costs; once accepted, the same date's other letters (in age order) and then older dates
 * follow until one is refused. Probing by creation age instead let a letter of a period closed for good block every
 * later reopened one (adversary finding adv16-held-head-of-line). Exactly once: a replay resolves its letter, and one
 * already resolved (or whose document the ledger already holds) is not written again.
 * The replays spend a share of the run's subrequest budget; the run gets what they left.
 */
import type { Clock, Logger } from "../ports.ts";
import { composeHost } from "../compose/index.ts";
import type { DeadLetter } from "../state/records.ts";
import type { Budget } from "./meter.ts";
import { heldLetters, supersedeHeld, type HeldLetters } from "./held-letters.ts";
import { replayDeadLetter } from "./replay.ts";
import { retryAfterRun, unvouchedReserve, type UnvouchedLater } from "./unvouched-retry.ts";
import { withStaleLetters } from "./stale-letters.ts";
import type { RunnerPorts } from "./runner.ts";

export const HELD_BY = "auto: period reopened";
/** The share of a run's budget held letters may use, and the least a replay needs to be worth starting. */
const SHARE = 0.5;
const MIN_PER_REPLAY = 3;

/** The document date a held letter names (periods.ts periodError: "… the document dated YYYY-MM-DD …"); "" if none. */
export const heldDate = (letter: DeadLetter) => /dated (\d{4}-\d{2}-\d{2})/.exec(letter.error?.message ?? "")?.[1] ?? "";

/** Held letters of a flow: newest document date first (no date last), each date's letters oldest first. */
function listHeld(open: DeadLetter[]) {
  const byDate = (a: DeadLetter, b: DeadLetter) =>
    heldDate(a) === heldDate(b) ? 0 : heldDate(a) === "" ? 1 : heldDate(b) === "" ? -1 : heldDate(a) < heldDate(b) ? 1 : -1;
  return open
    .filter((l) => l.error?.code === "period_closed")
    .sort((a, b) => byDate(a, b) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Replays the flow's held letters when their period has reopened (an older letter of a key a newer one holds is
 * superseded first: held-letters.ts); returns the budget left for the run and the letters still held, which the run
 * keeps up to date (RunDeps.held). Nothing for a dry run or a range backfill (an operator's explicit command).
 */
export async function replayHeldLetters(
  ports: RunnerPorts,
  flowId: string,
  request: { budget: Budget; dryRun?: boolean; range?: unknown },
  deps: { clock: Clock; logger: Logger; later?: UnvouchedLater },
): Promise<{ budget: Budget; held?: HeldLetters }> {
  if (request.dryRun || request.range) return { budget: request.budget };
  const { clock, logger } = deps;
  const store = composeHost({ ...ports, clock, logger }).stateStore();
  const resolve = (id: string, resolution: { reason: string; by: string }) => store.resolveDeadLetter(id, resolution);
  let held;
  let ordinary: DeadLetter[] = []; // withdrawn too when their document is cancelled unposted (stale-letters.ts)
  let reserve = 0; // unvouched poison letters are retried after the run's read, on this share (unvouched-retry.ts)
  try {
    const all = await store.listDeadLetters(flowId);
    reserve = unvouchedReserve(all, request.budget, clock.now());
    if (reserve > 0 && deps.later)
      deps.later.retry = (summary) => retryAfterRun(ports, summary, request.budget, { clock, logger, resolve, list: () => store.listDeadLetters(flowId) });
    ordinary = all.filter((l) => l.error?.code !== "period_closed");
    held = await supersedeHeld(listHeld(all), resolve, HELD_BY);
  } catch (error) {
    logger.warn("held letters not listed; replay skipped this run", { flowId, message: error instanceof Error ? error.message : String(error) });
    return { budget: request.budget };
  }
  const budget = { ...request.budget, maxSubrequests: Math.max(0, request.budget.maxSubrequests - reserve) };
  const view = (h: HeldLetters | undefined) => {
    const v = withStaleLetters(h, ordinary, resolve, logger);
    return v ? { held: v } : {};
  };
  if (held.length === 0) return { budget, ...view(undefined) };
  const share = Math.floor(budget.maxSubrequests * SHARE);
  let used = 0;
  const replayed: string[] = [];
  for (const letter of held) {
    if (share - used < MIN_PER_REPLAY || (request.budget.deadline !== undefined && clock.now() >= request.budget.deadline)) break;
    const result = await replayDeadLetter(ports, letter.id, {
      by: HELD_BY,
      budget: { maxSubrequests: share - used, ...(request.budget.deadline !== undefined ? { deadline: request.budget.deadline } : {}) },
    }).catch((error: unknown) => ({
      replayed: false,
      subrequests: 0,
      error: { code: "replay_failed", message: error instanceof Error ? error.message : String(error) },
    }));
    used += result.subrequests;
    if (result.replayed) {
      replayed.push(letter.id);
      continue;
    }
    // The first letter of its date refused: that date's period (and so every older one's) is still closed.
    if (held.find((l) => heldDate(l) === heldDate(letter)) === letter) {
      logger.info("held letters: the newest date still held is refused; it and older dates stay held", {
        flowId,
        held: held.length,
        letter: letter.id,
        date: heldDate(letter),
        code: result.error?.code,
      });
      break;
    }
    logger.warn("held letter still refused after another of its date was accepted; it stays held", {
      flowId,
      letter: letter.id,
      code: result.error?.code,
      message: result.error?.message,
    });
  }
  if (replayed.length)
    logger.info("held letters replayed: their period reopened", { flowId, replayed: replayed.length, stillHeld: held.length - replayed.length });
  const open = heldLetters(
    held.filter((l) => !replayed.includes(l.id)),
    resolve,
    logger,
  );
  return { budget: { ...budget, maxSubrequests: Math.max(0, budget.maxSubrequests - used) }, ...view(open) };
}
