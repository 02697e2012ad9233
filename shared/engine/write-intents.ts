/**
 * Write intents: the originals a page is about to send, stored before the first is sent (chaos seed 4436 long,
 * test/core/killed-original-edited). An invocation killed between a bill's commit and the saving of its ledger entry
 * (a lost answer, or the CPU limit, an eviction, a deploy) leaves the target holding documents the ledger does not
 * know. Unchanged, they are found again by the next run's verified write ("already exists" with the same lines). But
 * once the source changes meanwhile, the next run no longer knows what the killed one sent:
 *  - edited: the target holds other lines than the new build, which is a `conflict` letter when nothing says whose
 *    lines they are. A hand-entered document under the key looks the same;
 *  - cancelled: the document no longer passes the condition and has no ledger entry, so nothing reverses the bill.
 * So a flow that follows changes stores, per page of new not merged originals, one outbox entry with their parts
 * (unit `intent:<run>:<at>:<n>`). It costs one write per page, not per document (one Durable Object commit on the
 * Worker, charged to the run's budget after an invocation's first; a put and a delete on a file or KV-REST host).
 * It is closed when the page is settled, and an
 * invocation that stops cleanly closes it as well. Only a killed one leaves it.
 *
 * A later run meets the killed page's documents again. It re-reads them because the watermark never passed them, or
 * it sees them dropped by the condition. Before judging such a document it asks the target once for the part's key:
 *  - it holds the part's lines: the write was ours. It is recorded in the ledger with its before-image, as if the
 *    answer had arrived. The review then corrects an edit (`-B`/`-R`) or reverses a cancellation, like any posted
 *    document;
 *  - absent or other lines: the intent says nothing and the normal path decides (a write verified first after an
 *    unclean stop, or a conflict letter for lines that are not ours);
 *  - the target cannot tell (T+ without FindVoucherList): see adoptIfOurs.
 * Matching lines, not a memo, decide (connectors/content-lines.ts says why). A hand-entered document is adopted only
 * when its lines are exactly what our write would have booked, which verify-existing.ts already does for any write.
 */
import { compareLines } from "../connectors/content-lines.ts";
import type { TargetWriteResult } from "../connectors/target.ts";
import type { OutboxPlan } from "../state/outbox-store.ts";
import { imageKey } from "./changes.ts";
import { answeredEntries, holdInDoubt, lookUp } from "./pending-writes.ts";
import type { FlowRun } from "./run-context.ts";
import type { BuildResult, BuiltDocument } from "./types.ts";

const INTENT_PREFIX = "intent:";
export const isIntentUnit = (unit: string) => unit.startsWith(INTENT_PREFIX);

type IntentPart = OutboxPlan["parts"][number];

/** Intents earlier invocations left (loaded once per invocation), by member source id. */
interface Inherited {
  plans: Map<string, OutboxPlan>;
  /** Several when a page was killed more than once (adv19-intents-killed-twice): each intent is met. */
  bySource: Map<string, Array<{ unit: string; part: IntentPart }>>;
  /** Parts this invocation asked the target about (settled or found not ours), by askedKey: per intent, since two intents
   * of one key may hold different lines (a page killed twice with an edit between, adv20-intents-twice-edited). */
  asked: Set<string>;
}

const inheritedByRun = new WeakMap<FlowRun, Inherited>();
/** Built documents whose killed write the target could not be asked about: their own write's answer decides. */
const undecidedByRun = new WeakMap<FlowRun, Map<string, IntentPart>>();
const askedKey = (unit: string, part: IntentPart) => `${unit}\u0000${part.externalKey}`;
const openedByRun = new WeakMap<FlowRun, number>();
/** This invocation's open intents by unit (a redated send rewrites its part). */
const ownByRun = new WeakMap<FlowRun, Map<string, OutboxPlan>>();

/** Whether this flow keeps intents: it follows changes and writes (a dry run sends nothing). */
const keepsIntents = (run: FlowRun) => !run.dryRun && run.deps.changes !== undefined && run.deps.state.outbox !== undefined;

/**
 * Stores the intent of the page's new not merged originals before any is sent. Returns its unit, to close once the
 * page is settled (or the invocation stops cleanly); undefined when there is nothing to store.
 */
export async function openWriteIntents(run: FlowRun, documents: readonly BuiltDocument[]): Promise<string | undefined> {
  if (!keepsIntents(run)) return undefined;
  const parts = documents
    .filter((d) => d.groupKey === undefined && !run.ledger.get(d.externalKey) && !run.earlierSetAside.includes(d.externalKey) && !run.poison.exhausted(d))
    .map((d) => ({ externalKey: d.externalKey, payload: d.payload, members: d.members, contentHash: d.contentHash }));
  if (parts.length === 0) return undefined;
  const n = (openedByRun.get(run) ?? 0) + 1;
  openedByRun.set(run, n);
  const at = run.deps.clock.now();
  const plan: OutboxPlan = {
    v: 1,
    unit: `${INTENT_PREFIX}${run.runId}:${run.startedAt}:${n}`,
    groupKey: "",
    supplement: 0,
    parts,
    members: parts.flatMap((p) => p.members),
    planHash: "",
    runId: run.runId,
    createdAt: at,
  };
  // One state call per page (Worker: a DO commit). The state reserve (STATE_SUBREQUEST_RESERVE, 15 by default; the
  // run's fixed state calls measured about 5) holds an invocation's first; every further one is charged to the run's
  // own budget (adv19: 11 in one invocation). Charging the first too halved what a tiny budget writes per invocation
  // (chaos 9102 long: 149 invocations on b84ca6c, over the 160 limit).
  if (n > 1) run.deps.meter.charge("state:write-intent");
  await run.deps.state.outbox!.put(run.flowId, plan);
  ownByRun.set(run, (ownByRun.get(run) ?? new Map()).set(plan.unit, plan));
  return plan.unit;
}

/**
 * A document of an open intent is sent again redated (periods.ts, `closedPeriod: redate`): its part names the
 * redated payload before it is sent, so an adoption images the date the target booked (adv19-intents-redate; the
 * answered path images `writtenPayload`, adv16-redate-correction-other-day). One more write, for redated sends only.
 */
export async function redatedIntent(run: FlowRun, externalKey: string, payload: Record<string, unknown>): Promise<void> {
  for (const [unit, plan] of ownByRun.get(run) ?? []) {
    if (!plan.parts.some((p) => p.externalKey === externalKey)) continue;
    const next = { ...plan, parts: plan.parts.map((p) => (p.externalKey === externalKey ? { ...p, payload } : p)) };
    await run.deps.state.outbox!.put(run.flowId, next);
    ownByRun.get(run)!.set(unit, next);
  }
}

/**
 * The page is settled, or the invocation stops cleanly: its intent is deleted with the next ledger save, and the
 * inherited intents its documents met are closed (or trimmed) now that their writes are recorded (a part whose own
 * write answered for it, adoptedOnDuplicate, is known only now).
 */
export async function closeWriteIntents(run: FlowRun, unit: string | undefined): Promise<void> {
  if (unit) {
    ownByRun.get(run)?.delete(unit);
    run.ledger.settledPlans.push(unit);
  }
  const inherited = inheritedByRun.get(run);
  if (inherited) for (const met of [...inherited.plans.keys()]) await closeIfMet(run, inherited, met);
}

/** Takes the intents earlier invocations left (from the outbox list the run made at its start). */
export function inheritWriteIntents(run: FlowRun, listed: readonly OutboxPlan[]): void {
  if (!keepsIntents(run)) return;
  const inherited: Inherited = { plans: new Map(), bySource: new Map(), asked: new Set() };
  // No expiry by age: a paused flow meets its documents whenever it runs again (adv19-intents-expiry). An intent
  // whose documents left the source query stays, one small entry, until they come back.
  // Newest first: a document in two intents was last sent by the newer one (adv20-intents-twice-moved: the older one's
  // lines, in another warehouse, matched too and were adopted; the reversal then booked the wrong warehouse).
  for (const plan of [...listed].sort((a, b) => b.createdAt - a.createdAt)) {
    if (!isIntentUnit(plan.unit)) continue;
    inherited.plans.set(plan.unit, plan);
    for (const part of plan.parts)
      for (const id of part.members) inherited.bySource.set(id, [...(inherited.bySource.get(id) ?? []), { unit: plan.unit, part }]);
  }
  if (inherited.plans.size) inheritedByRun.set(run, inherited);
}

/**
 * Before a build is judged: each of its documents (built or dropped) that a killed invocation's intent names, and the
 * ledger does not know, is looked up once; found with the intent's lines, it is recorded as written.
 */
export async function resolveWriteIntents(run: FlowRun, built: BuildResult): Promise<void> {
  const inherited = inheritedByRun.get(run);
  if (!inherited) return;
  const dropped = new Set(built.dropped.map((d) => d.sourceId));
  const ids = [...built.documents.filter((d) => d.groupKey === undefined).flatMap((d) => d.members), ...dropped];
  for (const id of ids) {
    for (const found of inherited.bySource.get(id) ?? []) {
      const key = askedKey(found.unit, found.part);
      if (inherited.asked.has(key)) continue;
      // Marked asked once answered (a part handed to the pending writes: once that entry is stored). A lookup the
      // budget stopped, or an undecided part (its document's own write answers for it), stays for later. What was
      // asked is kept by closeWriteIntents, also when a lookup stops the run (chaos 9014/9059/4242 long on f1dfee7:
      // every invocation asked the same parts again and none finished).
      if (!knownToLedger(run, found.part) && !(await adoptIfOurs(run, found.part, dropped.has(id), () => inherited.asked.add(key)))) continue;
      inherited.asked.add(key);
    }
  }
}

/**
 * Whether the ledger already knows what stands for the part: its key, or a before-image of one of its documents (a
 * correction a later invocation posted and settled, adv19-intents-killed-correction: adopting again would put the
 * killed write's lines back over the corrected image).
 */
function knownToLedger(run: FlowRun, part: IntentPart): boolean {
  return run.ledger.get(part.externalKey) !== undefined || part.members.some((id) => run.ledger.get(imageKey(id)) !== undefined);
}

/**
 * The target holds exactly the part's lines under its key: the killed invocation's write, recorded as answered. When
 * the target cannot tell (T+ without FindVoucherList): a document the condition now drops (cancelled) becomes a write
 * in doubt (pending-writes.ts holdInDoubt: sent again where a duplicate answer is proof, else a `write_unknown`
 * letter), never a silent drop (adv19-intents-tplus); a built one is written as usual and its answer decides
 * (adoptedOnDuplicate), never a duplicate answer trusted over the edited lines (adv20-intents-tplus-nofind-edit).
 */
async function adoptIfOurs(run: FlowRun, part: IntentPart, dropped: boolean, handedOver: () => void): Promise<boolean> {
  const { deps } = run;
  const doc: BuiltDocument = { externalKey: part.externalKey, payload: part.payload, members: part.members, contentHash: part.contentHash };
  const back = await lookUp(deps.target, { operation: deps.targetOperation, externalKey: part.externalKey, payload: part.payload });
  if (back === undefined && dropped) {
    await holdInDoubt(run, doc, handedOver);
    return true;
  }
  if (back === undefined) {
    undecidedByRun.set(run, (undecidedByRun.get(run) ?? new Map()).set(part.externalKey, part));
    return false;
  }
  if (back === null || compareLines(back.ours, back.theirs).length > 0) return true;
  // T+ without GetVoucherDTO: found by its key, lines unreadable ({[], []}); taken as ours like any write in doubt
  // (pending-writes.ts lookUp: the key is deterministic and only this flow writes it). Named in docs/changes.md.
  if (back.theirs.length === 0 && back.ours.length === 0)
    deps.logger.warn("a killed invocation's write found by its key, lines unreadable: taken as ours", { flowId: run.flowId, externalKey: part.externalKey });
  recordAsSent(run, doc, back.targetId);
  return true;
}

/** The killed invocation's write recorded as if its answer had arrived: its ledger entry and before-image. */
function recordAsSent(run: FlowRun, sent: BuiltDocument, targetId: string | undefined): void {
  for (const e of answeredEntries(run, sent, targetId)) run.ledger.remember(e);
  run.deps.logger.info("a write a killed invocation sent is in the target with the lines it sent; recorded", {
    flowId: run.flowId,
    externalKey: sent.externalKey,
  });
}

/**
 * The write of a document whose killed write the target could not be asked about was answered: created, so the killed
 * write never stood (nothing to adopt); "already exists", so it stands with the lines it sent (the key is ours alone,
 * and T+ refuses a second ExternalCode): recorded as sent, and the caller reviews the document against it. True then.
 */
export function adoptedOnDuplicate(run: FlowRun, doc: BuiltDocument, result: TargetWriteResult | undefined): boolean {
  const part = undecidedByRun.get(run)?.get(doc.externalKey);
  if (!part) return false;
  undecidedByRun.get(run)!.delete(doc.externalKey);
  if (result?.status !== "already_exists") return false;
  recordAsSent(run, { externalKey: part.externalKey, payload: part.payload, members: part.members, contentHash: part.contentHash }, result.targetId);
  return true;
}

/**
 * An intent every part of which was met (recorded, or found not ours) is closed with this run's ledger save; one met
 * only in part is stored again without the parts found not ours, so no later run asks about them again. Recorded
 * parts stay until their ledger entries are saved (a run killed before that asks again).
 */
async function closeIfMet(run: FlowRun, inherited: Inherited, unit: string): Promise<void> {
  const plan = inherited.plans.get(unit);
  if (!plan) return;
  const known = (p: IntentPart) => run.ledger.get(p.externalKey) !== undefined;
  const asked = (p: IntentPart) => inherited.asked.has(askedKey(unit, p));
  if (plan.parts.every((p) => asked(p) || known(p))) {
    inherited.plans.delete(unit);
    run.ledger.settledPlans.push(unit);
    return;
  }
  const parts = plan.parts.filter((p) => known(p) || !asked(p));
  if (parts.length === plan.parts.length) return;
  const trimmed = { ...plan, parts, members: parts.flatMap((p) => p.members) };
  await run.deps.state.outbox!.put(run.flowId, trimmed);
  inherited.plans.set(unit, trimmed);
}
