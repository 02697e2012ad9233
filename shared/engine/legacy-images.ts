/**
 * Before-images written by a version that summed a document's lines per item alone (before adv16c-line-warehouses):
 * one sku on two lines in two warehouses was kept as one line, in the first line's warehouse. Such an image is exact
 * for every document whose items stand in one place each (the seed flows map the warehouse from the head), and
 * compares as before: its lines carry their `rest`, so their placement is read from it. What it cannot say is where
 * each line of a sku split over warehouses was booked. So, when the current document splits an item:
 *  - unchanged since it was posted (same content hash, no correction since) → unchanged, and the exact image is
 *    adopted (an upgrade in place: a later cancellation reverses each line where it was booked);
 *  - the same per item (quantities, amounts) → unchanged, as the older version judged it: no spurious correction;
 *  - otherwise → `change_unknown`: what to reverse where is not known, the operator corrects by hand.
 * Images written since carry `p: 1` (records.ts BeforeImage).
 */
import { BridgeError } from "../errors.ts";
import { sameLines, type ImageLine } from "../connectors/correction.ts";
import { placementOf } from "../connectors/line-placement.ts";
import type { BeforeImage } from "../state/records.ts";

/** True for an image with lines written before lines were kept per placement. */
export const keptPerItem = (img: BeforeImage): boolean => img.p !== 1 && img.l.length > 0;

/** The items of `lines` that stand on lines of more than one placement (what an item-keyed image cannot hold). */
export function splitItems(lines: readonly ImageLine[]): string[] {
  const seen = new Map<string, string>();
  const split = new Set<string>();
  for (const l of lines) {
    const p = placementOf(l.rest);
    const was = seen.get(l.key);
    if (was === undefined) seen.set(l.key, p);
    else if (was !== p) split.add(l.key);
  }
  return [...split].sort();
}

/** Lines summed per item alone, without their other fields: the older image's view of a document. */
const perItem = (lines: readonly ImageLine[]): ImageLine[] =>
  lines.map((l) => ({ key: l.key, qty: l.qty, ...(l.amount !== undefined ? { amount: l.amount } : {}) }));

/** The same quantities and amounts per item, wherever they stand. */
export const samePerItem = (a: readonly ImageLine[], b: readonly ImageLine[]): boolean => sameLines(perItem(a), perItem(b));

/** The letter of a change to a document an older image cannot place. */
export function splitUnknown(what: string, items: readonly string[]): BridgeError {
  return new BridgeError(
    "change_unknown",
    `${what} changed after it was posted; its item ${items.join(", ")} now stands on lines in more than one warehouse, but the before-image was written by an older version that kept one line per item, so where each line was booked is not known`,
    {
      hint: "compare the source with the target per warehouse and post the correction by hand (a red/reversal document), then resolve this dead letter; documents posted since the upgrade are followed per line",
    },
  );
}
