/**
 * A correction event held whole (docs/changes.md §6). An event can be several documents written in order (KIS
 * reverse_repost: `<key>-R<n>` then `<key>-B<n>`; a group correction split by sign: `<group>-C<n>` then
 * `<group>-C<n>-B`). When one step is refused (a closed period) the dead letter holds that step AND every step after
 * it, plus the before-images the run would have settled after the last one. The replay (engine/replay.ts) writes the
 * steps in order and then moves the images, so a held event is finished even when nothing reads the source again
 * (adversary findings adv16b-held-red-no-repost, adv16b-held-split-no-blue, adv16b-replayed-c-stale-image).
 */
import type { BeforeImage, LedgerEntry } from "../state/records.ts";
import { contentHash } from "./hash.ts";
import type { BuiltDocument } from "./types.ts";

/** An image the replay settles: `from` is the member image's content hash when the event was planned (null: none). */
interface HeldImage {
  key: string;
  before: BeforeImage;
  members?: string[];
  from?: string | null;
}

const GROUP_IMAGE = "img-group:";

/** A dead-letter payload holding an event's remaining steps (outbox parts) and the images to settle after them. */
export function heldEventLetter(
  steps: ReadonlyArray<Pick<BuiltDocument, "externalKey" | "payload" | "members" | "contentHash">>,
  settled: LedgerEntry[],
  imageHash: (key: string) => string | undefined,
) {
  // Per key the last step's image wins (the member image after the event; each group's image once).
  const images = new Map<string, HeldImage>();
  for (const e of settled) {
    if (!e.before) continue;
    const held: HeldImage = { key: e.externalKey, before: e.before, ...(e.members ? { members: e.members } : {}) };
    if (!e.externalKey.startsWith(GROUP_IMAGE)) held.from = imageHash(e.externalKey) ?? null;
    images.set(e.externalKey, held);
  }
  return {
    outbox: {
      unit: `correction:${steps[0]!.externalKey}`,
      parts: steps.map((s) => ({ externalKey: s.externalKey, payload: s.payload, members: s.members, contentHash: s.contentHash })),
      ...(images.size ? { settle: [...images.values()] } : {}),
    },
  };
}

/**
 * The image entries a replayed event settles. A member image moved since the event was planned (a newer event settled
 * it) is left alone; a group image keeps the higher correction number and its posted head.
 */
export function heldEventImages(payload: unknown, ledger: (key: string) => LedgerEntry | undefined, at: number, runId: string): LedgerEntry[] {
  const settle = (payload as { outbox?: { settle?: unknown } } | null)?.outbox?.settle;
  if (!Array.isArray(settle)) return [];
  const out: LedgerEntry[] = [];
  for (const img of settle as HeldImage[]) {
    if (!img || typeof img.key !== "string" || !img.before || typeof img.before !== "object") continue;
    const current = ledger(img.key);
    let before = img.before;
    if (img.key.startsWith(GROUP_IMAGE)) {
      const n = Math.max(current?.before?.n ?? 0, before.n ?? 0);
      before = { ...before, n, ...(current?.before?.h ? { h: current.before.h } : {}) };
    } else if ((current?.contentHash ?? null) !== (img.from ?? null)) continue;
    // Strictly later than the entry it replaces: the ledger keeps the latest entry per key (changes.ts ChangeBook.entry).
    const writtenAt = current && current.writtenAt >= at ? current.writtenAt + 1 : at;
    out.push({
      externalKey: img.key,
      contentHash: contentHash([before.d, before.l, before.n ?? 0]),
      before,
      ...(img.members ? { members: img.members } : {}),
      writtenAt,
      runId,
    });
  }
  return out;
}
