/** Keys the engine keeps in a flow's ledger beside the written documents' external keys. */
import type { LedgerEntry } from "../state/records.ts";

/** Ledger key of a merge group's registry entry (all members written for the group, supplements so far). */
export const groupLedgerKey = (groupKey: string) => `group:${groupKey}`;
/** Ledger key marking that a document's failure was filed as a dead letter (with the failing content's hash). */
export const deadLetterMarker = (id: string) => `dead:${id}`;

/**
 * The ledger entries of one written document: the document, and for a merged one its group's registry entry merged
 * as a union with what the group already had (members, highest supplement). Used by runs and by replays alike.
 */
export function writtenEntries(
  doc: { externalKey: string; contentHash: string; members: string[]; groupKey?: string; supplement?: number },
  targetId: string | undefined,
  previousGroup: { members?: string[]; supplements?: number } | undefined,
  at: number,
  runId: string,
): LedgerEntry[] {
  const entries: LedgerEntry[] = [{ externalKey: doc.externalKey, contentHash: doc.contentHash, targetId, members: doc.members, writtenAt: at, runId }];
  if (doc.groupKey === undefined) return entries;
  entries.push({
    externalKey: groupLedgerKey(doc.groupKey),
    contentHash: "group",
    members: [...new Set([...(previousGroup?.members ?? []), ...doc.members])],
    supplements: Math.max(previousGroup?.supplements ?? 0, doc.supplement ?? 0),
    writtenAt: at,
    runId,
  });
  return entries;
}
