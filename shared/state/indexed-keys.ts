/**
 * Which ledger entries the flow index (strongly consistent) keeps besides the KV ledger. Workers KV caches each key's
 * read on its own, a negative lookup too, for up to 60 s (https://developers.cloudflare.com/kv/concepts/how-kv-works/),
 * so a run can read one ledger segment as absent while a newer one is there. A document re-sent from such a read is
 * answered "already exists"; a correction is not: its number comes from the group's (or document's) image and its
 * difference from the member's image, and those can come from different segments. Chaos seed 9132 long: the segment of
 * G-C3/G-C4 (member images moved) read absent, a newer one with the group's count 5 read fresh, the members read again
 * got G-C6/G-C7 — the same differences twice (test/core/stale-kv-correction-images.test.ts).
 *
 * So the index keeps, with the group registry (`group:`) and dead-letter markers (`dead:`), what corrections settle:
 * the correction's own entry (`<key>-R<n>`, `-B<n>`, `-C<n>`, `-C<n>-B`), the images of the source documents it
 * corrects and the group or document images it counts on. Images written with an original posting stay in KV only
 * (one per document: too many for the index; read again only after the end lag, when KV is consistent).
 */
import { isCorrectionKey, parseRelatedKey } from "../engine/key-scheme.ts";
import type { LedgerEntry } from "./records.ts";

export const isGroupKey = (key: string) => key.startsWith("group:");
const IMAGE = "img:";
const GROUP_IMAGE = "img-group:";

/** A key whose entry the index keeps whatever the batch (registry entries, dead-letter markers, corrections). */
const alwaysIndexed = (key: string) => isGroupKey(key) || key.startsWith("dead:") || isCorrectionKey(key);

/** The entries of one ledger append that the index keeps too. */
export function indexedEntries(entries: readonly LedgerEntry[]): LedgerEntry[] {
  const sources = new Set<string>();
  const bases = new Set<string>();
  for (const e of entries) {
    if (!isCorrectionKey(e.externalKey)) continue;
    for (const m of e.members ?? []) sources.add(m);
    bases.add(parseRelatedKey(e.externalKey)!.base);
  }
  // An image counting corrections (n > 0) was settled by one, whether or not the correction's entry is in this batch.
  const corrected = (e: LedgerEntry) => (e.before?.n ?? 0) > 0;
  return entries.filter((e) => {
    const k = e.externalKey;
    if (alwaysIndexed(k)) return true;
    if (k.startsWith(GROUP_IMAGE)) return bases.has(k.slice(GROUP_IMAGE.length)) || corrected(e);
    return k.startsWith(IMAGE) && (sources.has(k.slice(IMAGE.length)) || corrected(e));
  });
}
