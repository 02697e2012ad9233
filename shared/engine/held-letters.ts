/**
 * Held (period_closed) letters kept up to date with the source (docs/changes.md). A held letter stores what was
 * refused; the held replay (held-replay.ts) writes exactly that once the period reopens, without reading the source
 * again. So whatever the engine learns about the document meanwhile must reach the letter, or the replay books stale
 * content (adversary findings adv16-held-edited-stale, -held-cancelled-replayed, -held-red-stale):
 * - a newer refusal of the same key supersedes the older letter (one held letter per key: the newest holds the
 *   latest content), resolved "superseded";
 * - a run that reads the document when it no longer needs writing withdraws the letter, resolved "withdrawn: …":
 *   cancelled (dropped by the condition) before it was ever posted, or back to its before-image while a correction
 *   of it is held.
 * Only letters that stand for this one document are touched: a merged group's plan (several members) never is.
 */
import type { Logger } from "../ports.ts";
import type { DeadLetter } from "../state/records.ts";
import { imageKey } from "./changes.ts";

export const WITHDRAWN_BY = "auto: source moved on";

type Resolve = (id: string, resolution: { reason: string; by: string }) => Promise<unknown>;

const unitOf = (letter: DeadLetter) => (letter.payload as { outbox?: { unit?: unknown } } | null)?.outbox?.unit;
/** A letter rebuilt from one document's own row (not a merged plan, not a correction). */
const isDocumentLetter = (letter: DeadLetter) =>
  unitOf(letter) === undefined && letter.source !== null && typeof letter.source === "object" && !Array.isArray(letter.source);
/** A letter holding one correction of a document (change-writer.ts plannedLetter: unit `correction:<key>`). */
const isCorrectionLetter = (letter: DeadLetter) => typeof unitOf(letter) === "string" && String(unitOf(letter)).startsWith("correction:");

/** The keys of a correction letter's parts (the refused step and the rest of its event: held-event.ts). */
/** The keys of a letter's planned parts (outbox unit parts). */
export const partKeys = (letter: DeadLetter): string[] => {
  const parts = (letter.payload as { outbox?: { parts?: unknown } } | null)?.outbox?.parts;
  return Array.isArray(parts)
    ? parts.flatMap((p) => (typeof (p as { externalKey?: unknown })?.externalKey === "string" ? [(p as { externalKey: string }).externalKey] : []))
    : [];
};
const partHashes = (letter: DeadLetter): string[] => {
  const parts = (letter.payload as { outbox?: { parts?: unknown } } | null)?.outbox?.parts;
  return Array.isArray(parts)
    ? parts.map((p) => `${String((p as { externalKey?: unknown })?.externalKey)}#${String((p as { contentHash?: unknown })?.contentHash)}`)
    : [];
};

/**
 * Resolves every held letter older than another held letter of the same key AND source document ("superseded");
 * returns the rest in their order. Two members' corrections of one group never supersede each other
 * (adv16b-held-group-number-reuse). Keys with one letter are left as they are.
 */
export async function supersedeHeld(held: DeadLetter[], resolve: Resolve, by: string): Promise<DeadLetter[]> {
  const id = (l: DeadLetter) => `${l.sourceId}\u0000${l.externalKey}`;
  const newest = new Map<string, DeadLetter>();
  for (const l of held) {
    if (l.externalKey === undefined) continue;
    const n = newest.get(id(l));
    if (!n || l.createdAt > n.createdAt || (l.createdAt === n.createdAt && l.id > n.id)) newest.set(id(l), l);
  }
  const kept: DeadLetter[] = [];
  for (const l of held) {
    const n = l.externalKey === undefined ? l : newest.get(id(l))!;
    if (n === l) kept.push(l);
    else await resolve(l.id, { reason: `superseded: ${n.id} holds the newer refusal of ${l.externalKey}`, by });
  }
  return kept;
}

/** A member of a merged group whose plan is held: the group, the member's row as planned, a planned part's payload. */
export interface HeldMember {
  groupKey: string;
  row: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** What a run may do with the flow's open held letters (RunDeps.held). */
export interface HeldLetters {
  /**
   * The document was read, the condition drops it and its image holds no lines: withdraw its held letter (never
   * posted) and its held corrections (they would post lines of a cancelled document). Resolves the withdrawn letters' keys.
   */
  dropped(sourceId: string): Promise<string[]>;
  /**
   * A member of a held group plan (outbox unit `<groupKey>#S<n>`): the replay will post it as planned, so a change
   * read meanwhile is corrected against the plan (change-writer.ts), held behind it (adv16-held-group-cancelled-member).
   */
  member(sourceId: string, idOf: (row: Record<string, unknown>) => string): HeldMember | undefined;
  /** The document equals what was posted (its image): withdraw held corrections of it. */
  unchanged(sourceId: string, documentKey: string): Promise<void>;
  /**
   * A new correction event of the document was planned from its image (which a held event never moved): withdraw
   * its held corrections that are not part of this event (adv16b-held-cancel-then-edit-difference).
   */
  planned(sourceId: string, steps: ReadonlyArray<{ externalKey: string; contentHash: string }>): Promise<void>;
  /**
   * The part payloads of a held correction of this member that reverses it whole in `groupKey` (its image after the
   * event: in that group, no lines): the group still holds the member's lines until it is booked.
   */
  reversalHeld(sourceId: string, groupKey: string): Record<string, unknown>[] | undefined;
  /** Whether a held correction of another source document holds this key (group correction numbering). */
  heldByOther(key: string, sourceId: string): boolean;
}

export function heldLetters(open: DeadLetter[], resolve: Resolve, logger: Logger): HeldLetters | undefined {
  const pending = [...open];
  if (pending.length === 0) return undefined;
  const withdraw = async (pick: (l: DeadLetter) => boolean, reason: string) => {
    const keys: string[] = [];
    for (const l of pending.filter(pick)) {
      pending.splice(pending.indexOf(l), 1);
      await resolve(l.id, { reason, by: WITHDRAWN_BY });
      if (l.externalKey !== undefined) keys.push(l.externalKey);
      logger.info("held letter withdrawn: the source moved on", { letter: l.id, externalKey: l.externalKey, reason });
    }
    return keys;
  };
  return {
    member(sourceId, idOf) {
      for (const l of pending) {
        const groupKey = typeof unitOf(l) === "string" ? /^(.*)#S\d+$/.exec(String(unitOf(l)))?.[1] : undefined;
        const parts = (l.payload as { outbox?: { parts?: Array<{ members?: unknown; payload?: unknown }> } }).outbox?.parts ?? [];
        const part = parts.find((p) => Array.isArray(p.members) && p.members.includes(sourceId));
        const rows = Array.isArray(l.source) ? (l.source as unknown[]) : [];
        const row = rows.find((r): r is Record<string, unknown> => r !== null && typeof r === "object" && idOf(r as Record<string, unknown>) === sourceId);
        if (groupKey !== undefined && part && row && part.payload && typeof part.payload === "object")
          return { groupKey, row, payload: part.payload as Record<string, unknown> };
      }
      return undefined;
    },
    // Its image holds no lines, so a held correction of it would post lines (the blue of a move whose red was
    // written: adv16c-move-held-cancel): superseded by the cancellation, whose image already says "nothing posted".
    dropped: (sourceId) =>
      withdraw(
        (l) => l.sourceId === sourceId && (isDocumentLetter(l) || isCorrectionLetter(l)),
        `withdrawn: ${sourceId} no longer passes the flow's condition (cancelled?) and nothing of it stands posted`,
      ),
    planned: async (sourceId, steps) => {
      const event = new Set(steps.map((s) => `${s.externalKey}#${s.contentHash}`));
      await withdraw(
        (l) => l.sourceId === sourceId && isCorrectionLetter(l) && !partHashes(l).every((p) => event.has(p)),
        `superseded: a newer change of ${sourceId} was planned from the same before-image (${steps.map((s) => s.externalKey).join(", ")})`,
      );
    },
    reversalHeld(sourceId, groupKey) {
      const image = imageKey(sourceId);
      for (const l of pending) {
        if (l.sourceId !== sourceId || !isCorrectionLetter(l) || !partKeys(l).every((k) => k.startsWith(`${groupKey}-C`))) continue;
        const settle = (l.payload as { outbox?: { settle?: Array<{ key?: unknown; before?: { d?: unknown; l?: unknown[] } }> } }).outbox?.settle ?? [];
        const after = settle.find((e) => e?.key === image)?.before;
        if (after?.d !== groupKey || !Array.isArray(after.l) || after.l.length > 0) continue;
        const parts = (l.payload as { outbox?: { parts?: Array<{ payload?: unknown }> } }).outbox?.parts ?? [];
        return parts.flatMap((p) => (p.payload && typeof p.payload === "object" ? [p.payload as Record<string, unknown>] : []));
      }
      return undefined;
    },
    heldByOther: (key, sourceId) => pending.some((l) => l.sourceId !== sourceId && isCorrectionLetter(l) && partKeys(l).includes(key)),
    unchanged: async (sourceId, documentKey) => {
      await withdraw(
        (l) => l.sourceId === sourceId && l.externalKey !== documentKey && isCorrectionLetter(l),
        `withdrawn: ${sourceId} is back to what was posted in ${documentKey}; the correction is no longer due`,
      );
    },
  };
}
