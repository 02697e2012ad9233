/**
 * "Already exists" is verified, not trusted (issue 12 item 3, engine-review finding 3). A duplicate-key answer (or a
 * document found by the pre-write lookup) only says the key is taken; after a ledger loss the taken key may hold a
 * group built from fewer members, or another flow's document. The engine reads the target's document back
 * (connector `readBack`: T+ FindVoucherList + GetVoucherDTO, KIS getdetail) and compares lines and quantities
 * (connectors/content-lines.ts says why lines rather than a memo hash). Same → written; different → a conflict.
 */
import { BridgeError } from "../errors.ts";
import type { Logger } from "../ports.ts";
import type { TargetConnector, TargetWrite, TargetWriteResult } from "../connectors/target.ts";
import { compareLines, type ContentLine, type LineDifference } from "../connectors/content-lines.ts";

/** Both sides of a conflict, as the dead letter shows them. */
export interface ConflictSides {
  externalKey: string;
  targetId?: string;
  ours: ContentLine[];
  theirs: ContentLine[];
  diff: LineDifference[];
}

/** The key is taken in the target by a document whose lines differ from ours: never recorded as written. */
export class TargetConflictError extends BridgeError {
  readonly sides: ConflictSides;
  constructor(sides: ConflictSides) {
    const shown = sides.diff
      .slice(0, 5)
      .map((d) => `${d.item}: ours ${d.ours}, target ${d.theirs}`)
      .join("; ");
    super(
      "conflict",
      `the target already holds ${sides.externalKey}${sides.targetId ? ` (id ${sides.targetId})` : ""} with other lines than this run would write (${shown}${sides.diff.length > 5 ? "; …" : ""})`,
      {
        retryable: false,
        hint: "compare both sides in this dead letter: post the missing lines by hand (or void the target's document and replay this letter), then resolve it",
        details: { ...sides },
      },
    );
    this.sides = sides;
  }
}

/**
 * Checks a write the target answered "already_exists" (or a document found after our lost answer): returns a TargetConflictError when the document it holds
 * differs, undefined when it matches (or when the connector cannot read documents back: then the answer is trusted,
 * as before, with a warning).
 */
export async function verifyExisting(
  target: TargetConnector,
  write: TargetWrite,
  result: TargetWriteResult,
  logger: Logger,
): Promise<TargetConflictError | undefined> {
  // A document found after our own lost answer is assumed ours, but after a ledger loss it may be the earlier
  // document under the key (chaos seeds 20261205 / 20261260: a late member was recorded as written and lost).
  if ((result.status !== "already_exists" && !result.recovered) || !target.readBack) return undefined;
  const back = await target.readBack(write, { targetId: result.targetId });
  if (!back) {
    logger.warn("the target's document could not be read back; 'already exists' trusted", { externalKey: write.externalKey });
    return undefined;
  }
  const diff = compareLines(back.ours, back.theirs);
  if (diff.length === 0) return undefined;
  return new TargetConflictError({
    externalKey: write.externalKey,
    ...((back.targetId ?? result.targetId) ? { targetId: back.targetId ?? result.targetId } : {}),
    ours: back.ours,
    theirs: back.theirs,
    diff,
  });
}

/** The key forms a group's original takes under another `maxLines` split: `<K>` ↔ `<K>-1`. */
export function otherSplitKeys(partKeys: readonly string[]): string[] {
  if (partKeys.length === 0) return [];
  if (partKeys.length === 1) return [`${partKeys[0]}-1`];
  const base = /^(.*)-1$/.exec(partKeys[0]!)?.[1];
  return base ? [base] : [];
}

/**
 * Before a group's original is planned with no registry entry (a new group, or a registry lost with the ledger), looks
 * the group's key under the other split up in the target (1 lookup per new group): a rebuilt group that now crosses
 * `maxLines` (or no longer does) would otherwise get new ExternalCodes and book the day twice. The key under our own
 * split needs no probe: the create answers "already exists" and verifyExisting compares it.
 */
export async function probeOtherSplit(
  target: TargetConnector,
  operation: string,
  parts: ReadonlyArray<{ externalKey: string; payload: Record<string, unknown> }>,
): Promise<TargetConflictError | undefined> {
  if (!target.readBack) return undefined;
  for (const key of otherSplitKeys(parts.map((p) => p.externalKey))) {
    const back = await target.readBack({ operation, externalKey: key, payload: parts[0]!.payload });
    if (!back) continue;
    // Our side is the whole group (every part): the target's document under the other split is one piece of it.
    const all = target.contentLines ? parts.flatMap((p) => target.contentLines!({ operation, externalKey: p.externalKey, payload: p.payload })) : back.ours;
    return new TargetConflictError({
      externalKey: key,
      ...(back.targetId ? { targetId: back.targetId } : {}),
      ours: all,
      theirs: back.theirs,
      diff: compareLines(all, back.theirs),
    });
  }
  return undefined;
}
