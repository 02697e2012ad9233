/**
 * Which open letter stands for a document when it has several (unvouched-retry.ts retries letters oldest first, so an
 * older letter written first leaves the target with stale content and the newer one refused):
 *  - a document letter (rebuilt from one row) and a newer one of the same document and key: its content changed and
 *    failed again (adv7-unvouched-superseded);
 *  - a correction letter (outbox unit `correction:…`, held-event.ts) and a newer one of the same document planned
 *    from the same before-image: the document changed again before the first correction was written, and the newer
 *    event corrects the same image to the current content (adv7-unvouched-two-corrections), as held-letters.ts
 *    `planned` withdraws held ones.
 * The older one is resolved as superseded, not retried.
 */
import type { DeadLetter } from "../state/records.ts";

const unitOf = (l: DeadLetter) => (l.payload as { outbox?: { unit?: unknown } } | null)?.outbox?.unit;

/** A letter rebuilt from one document's row (not a merged plan's parts, not a correction). */
const documentLetter = (l: DeadLetter) =>
  l.externalKey !== undefined && l.source !== null && typeof l.source === "object" && !Array.isArray(l.source) && unitOf(l) === undefined;

/** A correction letter's member images and the image hash each was planned from (`key#from`; null: none). */
function plannedFrom(l: DeadLetter): string[] {
  const unit = unitOf(l);
  if (typeof unit !== "string" || !unit.startsWith("correction:")) return [];
  const settle = (l.payload as { outbox?: { settle?: unknown } }).outbox?.settle;
  if (!Array.isArray(settle)) return [];
  return settle.flatMap((e: { key?: unknown; from?: unknown }) => (typeof e?.key === "string" && e.from !== undefined ? [`${e.key}#${String(e.from)}`] : []));
}

const newer = (a: DeadLetter, b: DeadLetter) => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);

/** An open letter newer than `letter` that stands for the same document (see above), if there is one. */
export function newerLetter(letter: DeadLetter, letters: DeadLetter[]): DeadLetter | undefined {
  const candidates = letters.filter((l) => l !== letter && !l.resolved && l.sourceId === letter.sourceId && newer(l, letter));
  if (documentLetter(letter)) return candidates.find((l) => documentLetter(l) && l.externalKey === letter.externalKey);
  const from = plannedFrom(letter);
  if (from.length === 0) return undefined;
  return candidates.find((l) => plannedFrom(l).some((f) => from.includes(f)));
}
