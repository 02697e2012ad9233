/**
 * Writes whose answer is unknown (adversary 16b: adv16b-lost-red-then-back, adv16b-lost-original-then-cancel).
 * A write can commit in the target and lose its answer; the ledger then lacks it and the before-image still holds
 * the lines before it. If the source changes back (a cancelled bill confirmed again) or away (a new bill cancelled)
 * before the next run, the review no longer needs that write and the document would be judged against a ledger
 * that is wrong: the target keeps a correction (or an original) nobody counts.
 *
 * So such a write is kept as an outbox entry (unit `pending:<key>`: its payload and the ledger entries its answer
 * would have settled) and resolved at the start of the next run, before any document is judged:
 *  - the target holds it with these lines → recorded in the ledger and the images moved, as if the answer had come;
 *  - the target certainly does not hold it → dropped (the review decides afresh what is due);
 *  - the target holds other lines under the key → a conflict dead letter; it cannot tell → a dead letter naming it
 *    (never silent). Either letter holds the write as a planned part, so its replay writes exactly it.
 * A correction is kept before it is sent (rare, and a stop between its commit and the ledger save is covered too);
 * an original only once its write failed with an unknown outcome (one entry per lost answer, not per document).
 */
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { isAccountError, type TargetConnector, type TargetWrite } from "../connectors/target.ts";
import { compareLines, type ReadBack } from "../connectors/content-lines.ts";
import type { OutboxPlan } from "../state/outbox-store.ts";
import type { LedgerEntry } from "../state/records.ts";
import { ChangeBook } from "./changes.ts";
import { heldEventLetter } from "./held-event.ts";
import { writtenEntries } from "./ledger-keys.ts";
import type { FlowRun } from "./run-context.ts";
import { resendInDoubt } from "./pending-resend.ts";
import { fileDeadLetter } from "./run-ledger.ts";
import { redatedSendOf } from "./periods.ts";
import type { BuiltDocument } from "./types.ts";
import { TargetConflictError } from "./verify-existing.ts";

const PENDING_PREFIX = "pending:";
export const isPendingUnit = (unit: string) => unit.startsWith(PENDING_PREFIX);
const pendingUnit = (externalKey: string) => `${PENDING_PREFIX}${externalKey}`;

/** Keys of the pending entries this run opened (closed when the write's answer arrives or it is refused). */
const openByRun = new WeakMap<FlowRun, Set<string>>();
/** Keys whose write this run could not settle (lettered by resolveOne): no correction of this run is numbered onto them. */
const inDoubtByRun = new WeakMap<FlowRun, Set<string>>();
/**
 * Whether `key` names a write an earlier run left in doubt that this run lettered (change numbering:
 * adv16c-pending-key-reuse; letters of earlier runs: stale-letters.ts). This run's own pending writes need no check:
 * a group's numbers advance within the run (changes.ts groupNext) and a document is reviewed once.
 */
export const keyInDoubt = (run: FlowRun, key: string): boolean => inDoubtByRun.get(run)?.has(key) === true;
/** The last `createdAt` this run gave a pending entry: strictly increasing, so they resolve in the order written. */
const lastOpenedAt = new WeakMap<FlowRun, number>();

/**
 * What the answer to writing a not merged original settles: its ledger entry (of `doc`, as built) and the before-image
 * of what was sent (`sent`: the redated payload when the period policy redated it). Shared by the pending writes and
 * the write intents (write-intents.ts), which record a killed invocation's write as if its answer had come.
 */
export function answeredEntries(run: FlowRun, doc: BuiltDocument, targetId?: string, sent: BuiltDocument = doc): LedgerEntry[] {
  const at = run.deps.clock.now();
  const book = new ChangeBook(run.deps.changes!, (key) => run.ledger.get(key));
  return [...writtenEntries(doc, targetId, undefined, at, run.runId), ...book.documentImage(sent, at, run.runId)];
}

/** The pending entry of `doc`, with the entries its answer settles; `createdAt` strictly increasing within the run. */
function pendingPlanOf(run: FlowRun, doc: BuiltDocument, settle: LedgerEntry[]): OutboxPlan {
  const plan: OutboxPlan = {
    v: 1,
    unit: pendingUnit(doc.externalKey),
    groupKey: "",
    supplement: 0,
    parts: [{ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, contentHash: doc.contentHash }],
    members: doc.members,
    planHash: doc.contentHash,
    runId: run.runId,
    createdAt: Math.max(run.deps.clock.now(), (lastOpenedAt.get(run) ?? 0) + 1),
    settle,
  };
  lastOpenedAt.set(run, plan.createdAt);
  return plan;
}

/** Stores `doc` as a pending write with the entries its answer settles (no-op in a dry run or without an outbox). */
export async function openPendingWrite(run: FlowRun, doc: BuiltDocument, settle: LedgerEntry[]): Promise<void> {
  const outbox = run.deps.state.outbox;
  if (run.dryRun || !outbox) return;
  await outbox.put(run.flowId, pendingPlanOf(run, doc, settle));
  const open = openByRun.get(run) ?? new Set<string>();
  open.add(doc.externalKey);
  openByRun.set(run, open);
}

/** The write's answer arrived (or it was refused into a letter): the entry is deleted once the ledger is saved. */
export function closePendingWrite(run: FlowRun, externalKey: string): void {
  if (openByRun.get(run)?.delete(externalKey)) run.ledger.settledPlans.push(pendingUnit(externalKey));
}

/** A failure after which the document may be in the target: a lost answer, a retry cut short, a stop mid-write. */
function outcomeUnknown(error: unknown): boolean {
  // A budget stop refuses the request before it is sent: unknown only when a failed attempt came before it.
  if (error instanceof BudgetExhaustedError) return error.after !== undefined && outcomeUnknown(error.after);
  if (error instanceof BridgeError) return error.retryable && !isAccountError(error);
  return true;
}

/**
 * A not merged original whose write failed with an unknown outcome, in a flow that follows changes: kept pending
 * with its ledger entry and before-image, so a cancellation read before its answer is known still reverses it.
 */
export async function notePendingOriginal(run: FlowRun, doc: BuiltDocument, error: unknown): Promise<void> {
  const changes = run.deps.changes;
  if (!changes || doc.groupKey !== undefined || run.dryRun || !outcomeUnknown(error)) return;
  if (openByRun.get(run)?.has(doc.externalKey) || run.ledger.get(doc.externalKey)) return; // a correction: opened before its write
  // Redated (periods.ts): the send in doubt is the redated one; it is what may stand in the target (adv7-redate-lost-answer).
  const redated = redatedSendOf(error);
  const sent = redated ? { ...doc, payload: redated } : doc;
  await openPendingWrite(run, sent, answeredEntries(run, doc, undefined, sent));
}

/**
 * Resolves the pending writes earlier runs left, before this run judges any document. A target that does not answer
 * stops the run here (its documents are judged once the writes are known). Returns the outbox as listed (one list per run).
 */
export async function resolvePendingWrites(run: FlowRun): Promise<OutboxPlan[]> {
  const outbox = run.deps.state.outbox;
  if (run.dryRun || !outbox || !run.deps.changes) return [];
  const listed = await outbox.list(run.flowId);
  // In the order they were written (the outbox lists by key: `-B1` before `-R1`). A killed R1/B1 pair settled the
  // other way round leaves the image R1 moved to ("nothing posted"), and B1 is never reversed (chaos seed 9056).
  const pending = listed.filter((p) => isPendingUnit(p.unit)).sort((a, b) => a.createdAt - b.createdAt);
  for (const plan of pending) await resolveOne(run, plan);
  return listed;
}

/**
 * A killed invocation's write the target cannot be asked about (write-intents.ts: T+ without FindVoucherList, a KIS
 * lookup it cannot make): kept as a pending entry, with the ledger entries and image its answer would settle, and
 * resolved at once like any write in doubt (sent again where a duplicate answer is proof, else a `write_unknown`
 * letter): never dropped silently (adv19-intents-tplus). A run stopped meanwhile keeps the entry for the next one.
 */
export async function holdInDoubt(run: FlowRun, doc: BuiltDocument, stored?: () => void): Promise<void> {
  const outbox = run.deps.state.outbox;
  const changes = run.deps.changes;
  if (run.dryRun || !outbox || !changes) return;
  // Already resolved by this run's pending pass (a resend that failed too often, lettered): decided, and a fresh entry
  // would restart its failure count and be deleted with the earlier one (adv20-intents-resend-poison).
  if (run.ledger.settledPlans.includes(pendingUnit(doc.externalKey)) || keyInDoubt(run, doc.externalKey)) return stored?.();
  const plan = pendingPlanOf(run, doc, answeredEntries(run, doc));
  await outbox.put(run.flowId, plan);
  stored?.(); // the entry carries it now: the intent need not ask again
  await resolveOne(run, plan);
}

async function resolveOne(run: FlowRun, plan: OutboxPlan): Promise<void> {
  const { deps, ledger } = run;
  const part = plan.parts[0];
  const done = (): void => {
    ledger.settledPlans.push(plan.unit);
  };
  if (!part || ledger.get(part.externalKey)?.contentHash === part.contentHash) return done(); // its answer was recorded after all
  const write: TargetWrite = { operation: deps.targetOperation, externalKey: part.externalKey, payload: part.payload };
  const back = await lookUp(deps.target, write);
  // The letter holds the write AND the images its answer would have settled (held-event.ts): its replay moves them as
  // the answer would have, so a later run corrects against what the target then holds, even when the source changed
  // meanwhile (adv16c-pending-letter-replay: a replayed G-C1 (−m) after m came back is followed by G-C2 (+m)).
  const letter = (error: BridgeError) => {
    inDoubtByRun.set(run, (inDoubtByRun.get(run) ?? new Set<string>()).add(part.externalKey));
    fileDeadLetter(run, part.members[0] ?? part.externalKey, null, error, {
      externalKey: part.externalKey,
      payload: heldEventLetter([part], plan.settle ?? [], (key) => ledger.get(key)?.contentHash),
    });
  };
  if (back === null) {
    deps.logger.info("a write whose answer was lost is not in the target; the documents are judged afresh", {
      flowId: run.flowId,
      externalKey: part.externalKey,
    });
    return done();
  }
  if (back === undefined) {
    // Sent again where a duplicate answer proves it is there (pending-resend.ts); else the operator decides.
    const resent = await resendInDoubt(run, write, plan);
    if (resent && "conflict" in resent) letter(resent.conflict);
    else if (resent && "gaveUp" in resent) letter(writeUnknown(part.externalKey, resent.gaveUp, run.poison.maxFailedRuns));
    else if (resent && !("refused" in resent)) settleWritten(run, plan, part, resent.targetId);
    else letter(writeUnknown(part.externalKey, resent?.refused));
    return done();
  }
  const diff = compareLines(back.ours, back.theirs);
  if (diff.length) {
    letter(
      new TargetConflictError({
        externalKey: part.externalKey,
        ...(back.targetId ? { targetId: back.targetId } : {}),
        ours: back.ours,
        theirs: back.theirs,
        diff,
      }),
    );
    return done();
  }
  settleWritten(run, plan, part, back.targetId);
  done();
}

/** The letter of a write the target cannot be asked about (and, when it was sent again, the refusal it met). */
function writeUnknown(key: string, refused: BridgeError | undefined, failedRuns?: number): BridgeError {
  const resent = !refused
    ? ""
    : failedRuns
      ? `; sent again, it failed in ${failedRuns} runs (last: ${refused.code}: ${refused.message})`
      : `; sent again, it was refused (${refused.code}: ${refused.message})`;
  return new BridgeError("write_unknown", `the answer to writing ${key} was lost and the target cannot be asked whether it holds it${resent}`, {
    hint: `replay it whether or not ${key} is in the target: the replay writes it only if it is missing (an existing one is found or refused as a duplicate) and then settles the ledger and before-images, then sync the window its source documents changed in again (POST /flows/:id/sync with from/to) so what changed since is corrected; resolving it by hand leaves the write uncounted. On T+, once \`doctor --write-probe\` has seen this account refuse a duplicate ExternalCode, runs send such writes again by themselves (docs/changes.md)`,
  });
}

/** In the target as planned: settled as if its answer had arrived, each entry later than the one it replaces. */
function settleWritten(run: FlowRun, plan: OutboxPlan, part: OutboxPlan["parts"][number], targetId: string | undefined): void {
  const { deps, ledger } = run;
  const now = deps.clock.now();
  ledger.remember({
    externalKey: part.externalKey,
    contentHash: part.contentHash,
    targetId,
    members: part.members,
    writtenAt: now,
    runId: run.runId,
  });
  for (const e of plan.settle ?? []) {
    if (e.externalKey === part.externalKey) continue;
    const previous = ledger.get(e.externalKey)?.writtenAt ?? 0;
    ledger.remember({ ...e, writtenAt: Math.max(now, previous + 1), runId: run.runId });
  }
  deps.logger.info("a write whose answer was lost is in the target; recorded", { flowId: run.flowId, externalKey: part.externalKey });
}

/**
 * The target's document under the key: its lines, null when it certainly holds none, undefined when it cannot tell
 * (no read-back, a lookup it cannot make, or T+ without a known-good voucher query).
 */
export async function lookUp(target: TargetConnector, write: TargetWrite): Promise<ReadBack | null | undefined> {
  if (!target.readBack) return undefined;
  try {
    const back = await target.readBack(write);
    if (back) return back;
    // KIS answers null only when no bill carries the key (it throws kis_lookup_failed when it cannot tell); T+ also
    // answers null without voucher queries, so there a known-good read must show the lookup was possible.
    if (target.system === "kis") return null;
    if (target.findKey) {
      const found = await target.findKey(write);
      if (found === null) return null;
      // Found by its key but its lines cannot be read (T+ without GetVoucherDTO, adv16c-pending-no-dto): taken as
      // ours, as written. The key is deterministic, only this write uses it (numbering skips every key a pending
      // entry or an open letter names, changes.ts), and the entry was opened before the write was sent; the same
      // trust as an unreadable "already exists" (verify-existing.ts). Never "absent": that leaves it uncounted.
      if (found) return { targetId: found.targetId, ours: [], theirs: [] };
      return undefined;
    }
    return (await target.probe?.(write.operation)) === true ? null : undefined;
  } catch (error) {
    // A budget stop (or a transient failure) says nothing about the target: it ends the run with the entry kept, and
    // the next invocation asks again (adv16c-pending-budget-letter). Only a lookup the target cannot make is "unknown".
    if (error instanceof BudgetExhaustedError || !(error instanceof BridgeError)) throw error;
    if (!error.retryable && !isAccountError(error)) return undefined; // e.g. kis_lookup_failed
    throw error;
  }
}
