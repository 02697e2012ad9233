/**
 * The late-arrival policy of merged documents (docs/merge-policy.md), as pure functions:
 *  - a group is written only once its period is closed (period end ≤ the engine's `closedBefore`);
 *    open groups are held back and re-presented by a later run;
 *  - a group already written is never rewritten: source documents that arrive later go into a numbered
 *    supplement `<key>-S1`, `-S2` … holding only the new members, so nothing is lost or counted twice.
 * The engine owns persistence: it passes what was written and stores `recordWritten`'s result.
 */
import { BridgeError } from "../errors.ts";
import type { TemplateVars } from "../template/index.ts";
import { compareIds, MergeError, type CompiledMerge, type MergedDocument, type MergeInput } from "./merge.ts";
import { ownGet, ownSet } from "../util/own.ts";

/** What the engine remembers about a written group (keyed by group key). */
export interface WrittenGroup {
  /** Every source id already written for the group (original and supplements). */
  members: readonly string[];
  /** Number of supplements written so far (0 after the original). */
  supplements: number;
}

export type WrittenGroups = Readonly<Record<string, WrittenGroup>>;
export type WrittenLookup = WrittenGroups | ((groupKey: string) => WrittenGroup | undefined);

export interface MergePolicyOptions {
  /** Periods ending at or before this instant are closed. Undefined: every group counts as closed. */
  closedBefore?: number;
  written?: WrittenLookup;
  vars: TemplateVars;
}

export interface HeldGroup {
  groupKey: string;
  members: string[];
  periodEnd: number;
}

export interface SkippedMember {
  id: string;
  groupKey: string;
  reason: string;
}

export interface MergePlan {
  /** Documents to write now: originals of newly closed groups and supplements for late members. */
  documents: MergedDocument[];
  /** Groups whose period is still open: write nothing, present these members again later. */
  held: HeldGroup[];
  /** Members already written in their group (a re-read of the overlap): nothing to do. */
  skipped: SkippedMember[];
  errors: { id: string; error: BridgeError }[];
}

function lookup(written: WrittenLookup | undefined, key: string): WrittenGroup | undefined {
  if (!written) return undefined;
  return typeof written === "function" ? written(key) : Object.prototype.hasOwnProperty.call(written, key) ? written[key] : undefined;
}

/**
 * Decides, for one batch of source records, what to write now. Pure: the same inputs (in any order)
 * give the same plan.
 */
export function planMerge(inputs: readonly MergeInput[], merge: CompiledMerge, options: MergePolicyOptions): MergePlan {
  const { groups, errors } = merge.group(inputs, options.vars);
  const plan: MergePlan = { documents: [], held: [], skipped: [], errors };
  for (const g of groups) {
    // Sorted member ids, computed only when a plan entry needs them.
    let sorted: string[] | undefined;
    const ids = () => (sorted ??= [...new Set(g.inputs.map((i) => i.id))].sort(compareIds));
    try {
      const previous = lookup(options.written, g.groupKey);
      if (!previous) {
        const end = merge.periodEnd(g.inputs);
        if (end !== undefined && options.closedBefore !== undefined && end > options.closedBefore) {
          plan.held.push({ groupKey: g.groupKey, members: ids(), periodEnd: end });
          continue;
        }
        plan.documents.push(...merge.mergeGroup(g.groupKey, g.inputs, 0));
        continue;
      }
      const done = new Set(previous.members);
      const late = g.inputs.filter((i) => !done.has(i.id));
      for (const id of ids()) {
        if (done.has(id)) plan.skipped.push({ id, groupKey: g.groupKey, reason: `already written in group ${g.groupKey}` });
      }
      if (late.length > 0) plan.documents.push(...merge.mergeGroup(g.groupKey, late, previous.supplements + 1));
    } catch (error) {
      const e = error instanceof BridgeError ? error : new MergeError(String(error), { groupKey: g.groupKey });
      for (const id of ids()) plan.errors.push({ id, error: e });
    }
  }
  return plan;
}

/**
 * The registry after `documents` were written: members added, supplement counters raised.
 * Returns a new object; the input is not changed.
 */
export function recordWritten(written: WrittenGroups, documents: readonly Pick<MergedDocument, "groupKey" | "members" | "supplement">[]): WrittenGroups {
  const next: Record<string, WrittenGroup> = { ...written };
  for (const doc of documents) {
    const prev = ownGet(next, doc.groupKey);
    const members = new Set(prev?.members ?? []);
    for (const m of doc.members) members.add(m);
    ownSet(next, doc.groupKey, {
      members: [...members].sort(compareIds),
      supplements: Math.max(prev?.supplements ?? 0, doc.supplement),
    });
  }
  return next;
}
