/**
 * Before-images written by a version that summed a document's lines per item alone (before adv16c-line-warehouses):
 * one sku on two lines in two warehouses was kept as one line, in the first line's warehouse. Such an image is exact
 * for every document whose lines all stand where its head says (the seed flows map the warehouse from the head), and
 * compares as before there: its lines carry their `rest`, so their placement is read from it. What it cannot say is
 * how an item on several lines was placed when posted. So, when the flow maps a per-line placement
 * (ChangeSettings.linePlacement, line-placement-mapping.ts) or the current document splits an item over warehouses:
 *  - provably what was posted (same content hash as the ledger's, no correction since) → unchanged, and the exact
 *    image is adopted (an upgrade in place: a later edit or cancellation is corrected per line);
 *  - provably what was posted but corrected since, the same per item → unchanged (as the older version judged it);
 *  - a merged member (no hash of its own) read exactly as imaged, one line per item → unchanged;
 *  - otherwise (changed, or cancelled / dropped by the condition) → `change_unknown`: what to reverse in which
 *    warehouse is not known; the letter names the older image and the operator corrects per warehouse by hand
 *    (adv6-older-image-split / -cancel / -unsplit).
 * Images written since carry `p: 1` (records.ts BeforeImage).
 */
import { BridgeError } from "../errors.ts";
import { sameLines, type ImageLine } from "../connectors/correction.ts";
import { placementOf } from "../connectors/line-placement.ts";
import type { BeforeImage, StoredImageLine } from "../state/records.ts";

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

/** The older image's lines as the letter shows them: `item qty @placement`. */
const shown = (lines: readonly StoredImageLine[]): string =>
  lines.map(([item, qty, , rest]) => `${item} ${qty}${placementOf(rest) ? ` @${JSON.stringify(stockFieldsOf(rest))}` : ""}`).join("; ");

const stockFieldsOf = (rest: Record<string, unknown> | undefined) => Object.fromEntries(JSON.parse(placementOf(rest) || "[]") as Array<[string, string]>);

/**
 * The letter of a change (or, `dropped`, a cancellation) of a document whose older image cannot say where its lines
 * were booked; `split`: the items the current lines spread over warehouses.
 */
export function olderImageUnknown(what: string, image: readonly StoredImageLine[], split: readonly string[], dropped = false): BridgeError {
  const why = split.length ? `its item ${split.join(", ")} now stands on lines in more than one warehouse` : "this flow maps each line's own warehouse";
  const change = dropped ? "no longer passes the flow's condition (cancelled?)" : "changed";
  return new BridgeError(
    "change_unknown",
    `${what} ${change} after it was posted; ${why}, but the before-image was written by an older version that kept one line per item (in its first line's warehouse), so where each line was booked is not known (older image: ${shown(image)})`,
    {
      hint: `check the document in the target per warehouse against the source (the letter's rows), post the ${dropped ? "reversal" : "correction"} by hand (a red/blue document per warehouse), then resolve this dead letter; nothing was written for it. Documents posted or re-read unchanged since the upgrade are followed per line`,
    },
  );
}
