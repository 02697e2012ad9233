/** Keys the engine keeps in a flow's ledger beside the written documents' external keys. */

/** Ledger key of a merge group's registry entry (all members written for the group, supplements so far). */
export const groupLedgerKey = (groupKey: string) => `group:${groupKey}`;
/** Ledger key marking that a document's failure was filed as a dead letter (with the failing content's hash). */
export const deadLetterMarker = (id: string) => `dead:${id}`;
