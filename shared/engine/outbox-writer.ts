/**
 * The outbox path of a run's merged documents (split out of run.ts): a group unit is planned and stored before its
 * first part is written, a stored plan is written as stored, and a settled plan moves into the group registry.
 * The run's shared state is explicit: the open plans and the `late` flag live in OutboxRun, everything else the run
 * owns (ledger, dead letters, writes, poison book) is reached through its context.
 */
import { BridgeError } from "../errors.ts";
import type { TargetConnector, TargetWriteResult } from "../connectors/target.ts";
import type { LedgerEntry } from "../state/records.ts";
import { type OutboxPlan, outboxUnit } from "../state/outbox-store.ts";
import type { ChangeWriter } from "./change-writer.ts";
import { contentHash } from "./hash.ts";
import { type PoisonBook, repeatedFailure } from "./poison.ts";
import type { EngineState, RunResult } from "./run.ts";
import { groupLedgerKey } from "./ledger-keys.ts";
import type { BuiltDocument, SourceRow } from "./types.ts";
import { otherSplitKeys, probeOtherSplit, type TargetConflictError } from "./verify-existing.ts";

export interface OutboxContext {
  flowId: string;
  runId: string;
  target: TargetConnector;
  targetOperation: string;
  outbox: NonNullable<EngineState["outbox"]>;
  now(): number;
  poison: PoisonBook;
  /** The three calls the outbox makes on the run's change writer (change-writer.ts). */
  changeWriter: Pick<ChangeWriter, "planImages" | "imagesOf" | "reviewPlanMembers"> | undefined;
  ledgerGet(key: string): LedgerEntry | undefined;
  remember(entry: LedgerEntry): void;
  writtenGroup(groupKey: string): { members: string[]; supplements: number } | undefined;
  deadLetter(sourceId: string, source: unknown, error: unknown, extra?: { externalKey?: string; payload?: unknown }): void;
  writeOne(
    doc: BuiltDocument,
    rows: SourceRow[],
    status: RunResult["planned"][number]["status"],
    onSettled: (result?: TargetWriteResult) => void,
    onRefused?: (error: BridgeError) => void,
  ): Promise<void>;
  /** A plan is settled: its store entry is deleted once the ledger holds its registry entry (the run's flushState). */
  settled(unit: string): void;
}

/** One run's outbox: its open plans by group key, and whether a started group has members its plan does not hold. */
export interface OutboxRun {
  ctx: OutboxContext;
  plans: Map<string, OutboxPlan>;
  /** A started group also has members its plan does not hold: they become a supplement next run. */
  late: boolean;
}

/**
 * Merged documents go through the outbox: a group unit (original or supplement, all its maxLines parts) is
 * planned and stored before its first part is written; a stored plan is written as stored, never re-planned.
 * Returns the documents left for the ordinary path (units already in the ledger before the outbox existed).
 */
export async function settleThroughOutbox(w: OutboxRun, docs: BuiltDocument[], rowsById: Map<string, SourceRow>): Promise<BuiltDocument[]> {
  const ctx = w.ctx;
  const plans = w.plans;
  const rest: BuiltDocument[] = [];
  const units = new Map<string, BuiltDocument[]>();
  /** Units of plans an earlier invocation started whose group this build read again (its members may have changed). */
  const resumed = new Set<string>();
  for (const doc of docs) {
    if (doc.groupKey === undefined) {
      rest.push(doc);
      continue;
    }
    const started = plans.get(doc.groupKey);
    if (started) {
      if (doc.members.some((m) => !started.members.includes(m))) w.late = true;
      units.set(started.unit, []);
      resumed.add(started.unit);
      continue;
    }
    const unit = outboxUnit(doc.groupKey, doc.supplement ?? 0);
    units.set(unit, [...(units.get(unit) ?? []), doc]);
  }
  // A started plan whose group no longer builds (its members read again were cancelled) is finished and corrected too.
  for (const p of plans.values())
    if (!units.has(p.unit) && p.members.some((m) => rowsById.has(m))) {
      units.set(p.unit, []);
      resumed.add(p.unit);
    }
  for (const [unit, parts] of units) {
    let plan = [...plans.values()].find((p) => p.unit === unit);
    if (!plan) {
      const written = parts.filter((d) => ctx.ledgerGet(d.externalKey)).length;
      const orphan = strayPart(ctx, parts, written);
      if (written > 0 || orphan) {
        const changed = parts.findIndex(
          (d) => ctx.ledgerGet(d.externalKey)?.contentHash !== undefined && ctx.ledgerGet(d.externalKey)!.contentHash !== d.contentHash,
        );
        if (changed >= 0 || orphan) lostPlan(w, unit, parts, orphan && changed < 0 ? { orphan } : { changed }, rowsById);
        else if (written === parts.length) rest.push(...parts); // every part written (before the outbox): the ledger decides
        if (changed >= 0 || orphan || written === parts.length) continue;
        // Some parts written as rebuilt, the others not (its plan lost between parts): planned again, so its members
        // join the registry only once every part is written. Finished part by part outside the outbox, a stop between
        // parts left a member of a written part registered with lines in one not written: never booked (adv16d-lost-plan-stops).
      }
      plan = newPlan(ctx, unit, parts, rowsById);
      // A new group (or one whose registry was lost): its key under the other maxLines split must not be taken.
      const clash =
        written === 0 && plan.supplement === 0 && !ctx.writtenGroup(plan.groupKey)
          ? await probeOtherSplit(ctx.target, ctx.targetOperation, plan.parts)
          : undefined;
      if (clash) {
        conflictPlan(w, plan, clash, rowsById);
        continue;
      }
      await ctx.outbox.put(ctx.flowId, plan); // before the first part: a stop between parts resumes this plan
      plans.set(plan.groupKey, plan);
    }
    const closed = await writePlan(w, plan, rowsById);
    // Finished as planned, with the lines its members had then: members read again since are corrected against it.
    if (closed && resumed.has(unit)) await ctx.changeWriter?.reviewPlanMembers(plan.groupKey, plan.members, rowsById, plan.images);
  }
  return rest;
}

/** The plan of a unit (original or supplement, all its maxLines parts), with its members' images when changes are followed. */
function newPlan(ctx: OutboxContext, unit: string, parts: BuiltDocument[], rowsById: Map<string, SourceRow>): OutboxPlan {
  return {
    v: 1,
    unit,
    groupKey: parts[0]!.groupKey!,
    supplement: parts[0]!.supplement ?? 0,
    parts: parts.map((d) => ({ externalKey: d.externalKey, payload: d.payload, members: d.members, contentHash: d.contentHash })),
    members: [...new Set(parts.flatMap((d) => d.members))],
    planHash: contentHash(parts.map((d) => [d.externalKey, d.contentHash])),
    runId: ctx.runId,
    createdAt: ctx.now(),
    ...(ctx.changeWriter
      ? {
          images: ctx.changeWriter.planImages(
            parts.flatMap((d) => d.members),
            rowsById,
          ),
        }
      : {}),
  };
}

/**
 * Parts of a unit are in the ledger but its plan is gone (a reset flow index, a plan written before the outbox) and
 * the rebuild no longer matches a written part (a late member's lines): skipping that part (onExisting: skip) would
 * drop the new lines, and writing the other parts could book lines shifted between parts twice. The unit's parts not
 * written as rebuilt become one letter with every member's rows (adversary 12, test/core/adv12-index-reset.test.ts);
 * its members are settled by it, like a conflict plan's.
 */
function lostPlan(w: OutboxRun, unit: string, parts: BuiltDocument[], at: { changed: number } | { orphan: string }, rowsById: Map<string, SourceRow>) {
  const ctx = w.ctx;
  const changed = "changed" in at ? at.changed : -1;
  const remainder = parts.filter((d, i) => i === changed || ctx.ledgerGet(d.externalKey)?.contentHash !== d.contentHash);
  const members = [...new Set(parts.flatMap((d) => d.members))];
  const key = "orphan" in at ? at.orphan : parts[changed]!.externalKey;
  // An orphaned part's own members first: the letter names the member no longer built (cancelled or moved).
  const named = [...new Set([...("orphan" in at ? (ctx.ledgerGet(key)?.members ?? []) : []), ...members])];
  const hint =
    "compare the target's document with this letter's parts, post the missing lines by hand (or void the target's documents and replay this letter), then resolve it";
  ctx.deadLetter(
    named[0] ?? key,
    named.map((m) => rowsById.get(m)).filter((r): r is SourceRow => r !== undefined),
    new BridgeError(
      "changed_after_write",
      "orphan" in at
        ? `merged document ${key} is in the target but ${unit} rebuilds without it, to ${parts.length} part(s) (the group's stored plan is gone, and members it held were cancelled or moved since); no further part of ${unit} is written`
        : `merged document ${key} is in the target with other content than its group rebuilds to (the group's stored plan is gone); no further part of ${unit} is written`,
      { hint },
    ),
    {
      externalKey: key,
      payload: {
        outbox: { unit, parts: remainder.map((d) => ({ externalKey: d.externalKey, payload: d.payload, members: d.members, contentHash: d.contentHash })) },
      },
    },
  );
  // Imaged as the rebuild holds them (the written parts that match it, and the letter's): a member edited or cancelled
  // later is corrected against it, never adopted with its new lines (adv16d-lost-plan-letter), as conflictPlan's.
  for (const part of parts) ctx.changeWriter?.imagesOf(part, rowsById);
  const groupKey = parts[0]!.groupKey!;
  const previous = ctx.writtenGroup(groupKey);
  ctx.remember({
    externalKey: groupLedgerKey(groupKey),
    contentHash: "group",
    members: [...new Set([...(previous?.members ?? []), ...members])],
    supplements: Math.max(previous?.supplements ?? 0, parts[0]!.supplement ?? 0),
    writtenAt: ctx.now(),
    runId: ctx.runId,
  });
}

/**
 * A part of this unit the ledger holds and the rebuild lacks, its plan gone (members only it held were cancelled or
 * moved before the plan closed, their images lost with it): past the rebuild's last when every rebuilt part is as
 * written (`<key>-<n+1>`: adv16d-lost-plan-orphan), or under the other maxLines split when none is written (a
 * supplement rebuilt as one part after `-S1-1` was written books its lines twice: adv16d-lost-plan-supplement-split;
 * an original is probed in the target as well, below).
 */
function strayPart(ctx: OutboxContext, parts: BuiltDocument[], written: number): string | undefined {
  if (written === 0) return otherSplitKeys(parts.map((d) => d.externalKey)).find((k) => ctx.ledgerGet(k));
  const last = parts[parts.length - 1]!.externalKey;
  const suffix = `-${parts.length}`;
  if (written < parts.length || parts.length < 2 || !last.endsWith(suffix)) return undefined;
  const next = `${last.slice(0, -suffix.length)}-${parts.length + 1}`;
  return ctx.ledgerGet(next) ? next : undefined;
}

/** A group whose key is taken under another split: one conflict letter with every member's rows; its members are settled by it. */
function conflictPlan(w: OutboxRun, plan: OutboxPlan, clash: TargetConflictError, rowsById: Map<string, SourceRow>) {
  const ctx = w.ctx;
  ctx.deadLetter(
    plan.members[0] ?? plan.groupKey,
    plan.members.map((m) => rowsById.get(m)).filter((r): r is SourceRow => r !== undefined),
    clash,
    {
      externalKey: plan.parts[0]!.externalKey,
      payload: { outbox: { unit: plan.unit, parts: plan.parts } },
    },
  );
  for (const part of plan.parts) ctx.changeWriter?.imagesOf({ ...part, groupKey: plan.groupKey }, rowsById, plan.images); // as writePlan's refused parts
  const previous = ctx.writtenGroup(plan.groupKey);
  ctx.remember({
    externalKey: groupLedgerKey(plan.groupKey),
    contentHash: "group",
    members: [...new Set([...(previous?.members ?? []), ...plan.members])],
    supplements: previous?.supplements ?? 0,
    writtenAt: ctx.now(),
    runId: ctx.runId,
  });
}

/** Writes a plan's parts not yet written; true once it is closed (every part written or refused into a letter). */
async function writePlan(w: OutboxRun, plan: OutboxPlan, rowsById: Map<string, SourceRow>): Promise<boolean> {
  const ctx = w.ctx;
  const partDoc = (i: number): BuiltDocument => ({ ...plan.parts[i]!, groupKey: plan.groupKey, supplement: plan.supplement });
  let refused: { at: number; error: BridgeError } | undefined;
  for (let i = 0; i < plan.parts.length && !refused; i++) {
    const doc = partDoc(i);
    if (ctx.ledgerGet(doc.externalKey)) continue; // written by an earlier invocation of this plan
    if (ctx.poison.exhausted(doc)) {
      // Dead-lettered already (settleSetAside files the remainder and closes the plan; this is a plan whose close
      // was not saved, or a letter filed before that): the parts after it go with a remainder letter. Replay
      // checks the ledger per part, so letters that overlap never write a part twice.
      refused = { at: i + 1, error: repeatedFailure(doc.externalKey, ctx.poison.maxFailedRuns, new BridgeError("write_failed", "dead-lettered earlier")) };
      break;
    }
    let written = false;
    // A part set aside carries the rows of every member from it on: if it is dead-lettered as poison, its letter
    // holds the plan's remainder (settleSetAside) with those rows.
    const remainderRows = [
      ...new Set(
        plan.parts
          .slice(i)
          .filter((p) => !ctx.ledgerGet(p.externalKey))
          .flatMap((p) => p.members),
      ),
    ]
      .map((m) => rowsById.get(m))
      .filter((r): r is SourceRow => r !== undefined);
    await ctx.writeOne(
      doc,
      remainderRows,
      doc.supplement ? "supplement" : "new",
      (result) => {
        written = true;
        ctx.remember({
          externalKey: doc.externalKey,
          contentHash: doc.contentHash,
          targetId: result?.targetId ?? result?.targetCode,
          members: doc.members,
          writtenAt: ctx.now(),
          runId: ctx.runId,
        });
      },
      (error) => (refused = { at: i, error }),
    );
    if (!written && !refused) return false; // set aside (or dry run): the plan stays open, its later parts wait
  }
  if (refused) {
    // Refused for good: the remainder (this part and every later one not written) is one dead letter with the
    // stored payloads and its members' source rows; replaying it writes exactly those parts.
    const remainder = plan.parts.slice(refused.at).filter((p) => !ctx.ledgerGet(p.externalKey));
    if (remainder.length) {
      const members = [...new Set(remainder.flatMap((p) => p.members))];
      ctx.deadLetter(
        members[0] ?? plan.groupKey,
        members.map((m) => rowsById.get(m)).filter((r): r is SourceRow => r !== undefined),
        refused.error,
        { externalKey: remainder[0]!.externalKey, payload: { outbox: { unit: plan.unit, parts: remainder } } },
      );
    }
  }
  // Before-images of the members (engine/changes.ts): of the parts written, and of the parts refused into the letter,
  // as the letter holds them (its replay books exactly those lines): the group registry settles those members, so a
  // member edited or cancelled later is corrected against the letter, never adopted with its new lines or taken for
  // new (chaos seeds 9042, 9182 long: a conflict with a voucher entered by hand, test/core/changes-conflict-group).
  for (const part of plan.parts)
    if (refused || ctx.ledgerGet(part.externalKey)) ctx.changeWriter?.imagesOf({ ...part, groupKey: plan.groupKey }, rowsById, plan.images);
  closePlan(w, plan);
  return true;
}

/**
 * Every part is written or dead-lettered: the group registry takes the plan's members (union, max supplement).
 * Members of a conflicting remainder are settled by the conflict letter (it holds their rows and both sides):
 * they must not also go into a supplement, which would book them a second time once the letter is resolved.
 */
export function closePlan(w: OutboxRun, plan: OutboxPlan) {
  const ctx = w.ctx;
  const previous = ctx.writtenGroup(plan.groupKey);
  ctx.remember({
    externalKey: groupLedgerKey(plan.groupKey),
    contentHash: "group",
    members: [...new Set([...(previous?.members ?? []), ...plan.members])],
    supplements: Math.max(previous?.supplements ?? 0, plan.supplement),
    writtenAt: ctx.now(),
    runId: ctx.runId,
  });
  w.plans.delete(plan.groupKey);
  ctx.settled(plan.unit);
}
