/**
 * Following a document after it is posted (docs/changes.md, issue 16). The ledger keeps a before-image per
 * posted source document (`img:<id>`: the lines it was posted with) and per merge group (`img-group:<group>`:
 * the posted head and the number of group corrections). When the source document is read again:
 *  - it no longer passes the flow's condition (cancelled, 作废, …) → a reversing document `<key>-R<n>`
 *    (merged member: a group correction `<group>-C<n>` with the member's lines negated);
 *  - its lines changed → `<key>-R<n>` + `<key>-B<n>` (reverse_repost) or `<key>-C<n>` (difference), per target
 *    (connectors/correction.ts); a merged member → `<group>-C<n>` carrying only that member's signed differences;
 *  - its date or warehouse changed (placement.ts) → `<key>-R<n>` on the posted head + `<key>-B<n>` on the current one,
 *    whatever the change mode (a difference cannot move stock); any other head change (a remark) → nothing.
 * Corrections are ordinary documents for the engine: written by the same writeOne (ledger, write marker,
 * verify-existing, poison, dead letters). The image moves only when a correction is written, and in the same
 * ledger batch, so a correction cut short is recomputed under the same key. Pure apart from the ledger view.
 */
import { BridgeError } from "../errors.ts";
import { diffLines, postableLines, sameLines, sumLines, type CorrectionKind, type CorrectionShape, type ImageLine } from "../connectors/correction.ts";
import { lineIdentity } from "../connectors/line-placement.ts";
import type { BeforeImage, LedgerEntry, StoredImageLine } from "../state/records.ts";
import { contentHash } from "./hash.ts";
import { relatedKeys } from "./key-scheme.ts";
import { keptPerItem, olderImageUnknown, samePerItem, splitItems } from "./legacy-images.ts";
import { samePlacement } from "./placement.ts";
import type { BuiltDocument } from "./types.ts";

export type ChangePolicy = "compensate" | "deadLetter" | "ignore";

export const imageKey = (sourceId: string) => `img:${sourceId}`;
export const groupImageKey = (groupKey: string) => `img-group:${groupKey}`;

export interface ChangeSettings {
  policy: ChangePolicy;
  shape: CorrectionShape;
  /**
   * The flow's mapping may place one document's lines in different warehouses (line-placement-mapping.ts): an older
   * image (legacy-images.ts) of a changed or dropped document is then not trusted. Unset: head-only placement.
   */
  linePlacement?: boolean;
}

/** Why a correction was made (the run record and the memo say it). */
export type CorrectionCause = "no_longer_passes" | "lines_changed" | "moved";

/** A correcting document and the ledger entries that settle it once written. */
export interface Correction {
  doc: BuiltDocument;
  sourceId: string;
  /** The document or merge group it corrects. */
  of: string;
  kind: CorrectionKind;
  cause: CorrectionCause;
  /** The source's `modified` (or version) that caused it, when the row carries one. */
  event?: string;
  settle(at: number, runId: string): LedgerEntry[];
}

/** What the run record lists per correction. */
export interface CorrectionRecord {
  externalKey: string;
  of: string;
  sourceId: string;
  kind: CorrectionKind;
  cause: CorrectionCause;
  event?: string;
  status: "written" | "pending";
}

export type Review =
  | { verdict: "new" }
  | { verdict: "unchanged"; adopt?: LedgerEntry[] }
  | { verdict: "corrections"; corrections: Correction[] }
  | { verdict: "unknown"; error: BridgeError }
  | { verdict: "report"; error: BridgeError }
  | { verdict: "ignore" };

export const toStoredLines = (lines: readonly ImageLine[]): StoredImageLine[] =>
  lines.map((l) => {
    const t: StoredImageLine = [l.key, l.qty];
    if (l.amount !== undefined || (l.rest && Object.keys(l.rest).length)) t.push(l.amount ?? null);
    if (l.rest && Object.keys(l.rest).length) t.push(l.rest);
    return t;
  });

export const fromStored = (lines: readonly StoredImageLine[]): ImageLine[] =>
  lines.map(([key, qty, amount, rest]) => ({ key, qty, ...(typeof amount === "number" ? { amount } : {}), ...(rest ? { rest } : {}) }));

const abs = (lines: readonly ImageLine[]) =>
  lines.map((l) => ({ ...l, qty: Math.abs(l.qty), ...(l.amount !== undefined ? { amount: Math.abs(l.amount) } : {}) }));

export function changeUnknown(what: string): BridgeError {
  return new BridgeError(
    "change_unknown",
    `${what} changed after it was posted, but the ledger holds no before-image of what was posted (written before corrections existed)`,
    {
      hint: "compare the source with the target and post the correction by hand (a red/reversal document), then resolve this dead letter",
    },
  );
}

function changedAfterWrite(what: string, cancelled: boolean): BridgeError {
  return new BridgeError(
    cancelled ? "cancelled_after_write" : "changed_after_write",
    `${what} ${cancelled ? "no longer passes the flow's condition (cancelled?)" : "changed"} after it was written to the target`,
    {
      hint: 'post the correction in the target by hand (or set the flow\'s target.onChange to "compensate"), then resolve this dead letter',
    },
  );
}

/**
 * The change book of one run: reads images through the run's ledger view, plans corrections, and numbers
 * group corrections so that several members of one group corrected in one run get distinct keys.
 */
export class ChangeBook {
  private readonly groupNext = new Map<string, number>();
  readonly settings: ChangeSettings;
  private readonly ledgerGet: (key: string) => LedgerEntry | undefined;
  /** A held (period_closed) letter of another source document holds this key: its number is taken too (held-letters.ts). */
  heldByOther?: (key: string, sourceId: string) => boolean;
  constructor(settings: ChangeSettings, ledgerGet: (key: string) => LedgerEntry | undefined) {
    this.settings = settings;
    this.ledgerGet = ledgerGet;
  }

  get policy(): ChangePolicy {
    return this.settings.policy;
  }

  private image(sourceId: string): BeforeImage | undefined {
    return this.ledgerGet(imageKey(sourceId))?.before;
  }

  /**
   * An image entry. Its writtenAt is strictly later than the image it replaces: the ledger keeps the latest entry
   * per key by writtenAt, and two steps of one event (red, then blue) can be saved within one clock millisecond.
   */
  private entry(key: string, before: BeforeImage, at: number, runId: string, members?: string[]): LedgerEntry {
    const previous = this.ledgerGet(key)?.writtenAt;
    const writtenAt = previous !== undefined && previous >= at ? previous + 1 : at;
    // p: 1 — lines kept per item and placement (legacy-images.ts reads the images older versions wrote).
    const image: BeforeImage = { ...before, p: 1 };
    return {
      externalKey: key,
      contentHash: contentHash([before.d, before.l, before.n ?? 0]),
      before: image,
      ...(members ? { members } : {}),
      writtenAt,
      runId,
    };
  }

  /** The image of a posted (not merged) document. */
  documentImage(doc: BuiltDocument, at: number, runId: string): LedgerEntry[] {
    const shape = this.settings.shape;
    return doc.members.map((id) =>
      this.entry(imageKey(id), { d: doc.externalKey, l: toStoredLines(shape.lines(doc.payload)), h: shape.head(doc.payload) }, at, runId, [id]),
    );
  }

  /** The images of a merge group's members (their lines alone) and, once, the group's head. */
  memberImages(
    groupKey: string,
    members: ReadonlyArray<{ id: string; lines: ImageLine[] }>,
    payload: Record<string, unknown> | undefined,
    at: number,
    runId: string,
  ): LedgerEntry[] {
    const out = members.map((m) => this.entry(imageKey(m.id), { d: groupKey, g: 1, l: toStoredLines(m.lines) }, at, runId, [m.id]));
    const group = this.ledgerGet(groupImageKey(groupKey))?.before;
    if (!group && payload) out.push(this.entry(groupImageKey(groupKey), { d: groupKey, l: [], n: 0, h: this.settings.shape.head(payload) }, at, runId));
    return out;
  }

  /**
   * A not merged document built again. `known`: its ledger entry. New when neither the ledger nor an image has
   * it; unchanged when its lines equal the image's (or, without an image, its hash equals the ledger's).
   */
  reviewDocument(doc: BuiltDocument, known: LedgerEntry | undefined, event?: string): Review {
    const sourceId = doc.members[0] ?? doc.externalKey;
    const img = doc.members.length === 1 ? this.image(sourceId) : undefined;
    if (!img) {
      if (!known) return { verdict: "new" };
      if (known.contentHash === doc.contentHash) return { verdict: "unchanged", adopt: this.documentImage(doc, known.writtenAt, known.runId) };
      if (this.policy === "ignore") return { verdict: "ignore" };
      return this.policy === "compensate"
        ? { verdict: "unknown", error: changeUnknown(`document ${doc.externalKey}`) }
        : { verdict: "report", error: changedAfterWrite(`document ${doc.externalKey}`, false) };
    }
    const shape = this.settings.shape;
    // A reversal of the image written but never settled into it (a dead letter replayed after the source went back
    // to what was posted): the target no longer holds the image's lines, so the document is posted again.
    const next = relatedKeys.red(img.d, (img.n ?? 0) + 1);
    const reversed = img.l.length > 0 && (this.ledgerGet(next)?.members ?? []).includes(sourceId);
    const before = reversed ? [] : postableLines(fromStored(img.l));
    const after = postableLines(shape.lines(doc.payload));
    const head = shape.head(doc.payload);
    // Its date or head warehouse edited too: no "unchanged per item" for an older image then (it cannot be reversed exactly).
    const headMoved = img.h !== undefined && !samePlacement(shape, { head: img.h, lines: [] }, { head, lines: [] });
    const older = this.olderImage(img, before, after, `document ${img.d}`, headMoved, {
      same: known !== undefined && known.contentHash === doc.contentHash,
      adopt: () => this.documentImage(doc, known!.writtenAt, known!.runId),
    });
    if (older) return older;
    // Its date or warehouse edited (adv16b-kis-head-move): the stock counts elsewhere now, lines equal or not.
    const moved = before.length > 0 && after.length > 0 && img.h !== undefined && !samePlacement(shape, { head: img.h, lines: before }, { head, lines: after });
    if (!moved && sameLines(before, after)) return { verdict: "unchanged" };
    if (this.policy === "ignore") return { verdict: "ignore" };
    if (this.policy === "deadLetter") return { verdict: "report", error: changedAfterWrite(`document ${img.d}`, before.length > 0 && after.length === 0) };
    // The red reverses on the head that was posted (adv16b-kis-red-current-head), the repost uses the current one.
    const heads = { posted: img.h ?? head, current: head };
    return { verdict: "corrections", corrections: this.documentCorrections(sourceId, img, heads, before, after, event, moved) };
  }

  /** A source document the condition now drops. Nothing unless it was posted (an image with lines). */
  reviewDropped(sourceId: string, event?: string): Review {
    const img = this.image(sourceId);
    if (!img || img.l.length === 0) return { verdict: "new" };
    if (this.policy === "ignore") return { verdict: "ignore" };
    const what = img.g ? `member ${sourceId} of group ${img.d}` : `document ${img.d}`;
    if (this.policy === "deadLetter") return { verdict: "report", error: changedAfterWrite(what, true) };
    // An older image in a flow that places lines per line: what was booked in which warehouse is not known (adv6-older-image-cancel).
    if (keptPerItem(img) && this.settings.linePlacement) return { verdict: "unknown", error: olderImageUnknown(what, img.l, [], true) };
    const before = postableLines(fromStored(img.l));
    if (img.g) return this.groupCorrection(sourceId, img, undefined, before, [], "no_longer_passes", event);
    if (!img.h) return { verdict: "unknown", error: changeUnknown(what) };
    return { verdict: "corrections", corrections: this.documentCorrections(sourceId, img, { posted: img.h, current: img.h }, before, [], event) };
  }

  /**
   * A member of a written merge group read again (`lines`: what it alone maps to now; `head`: the head it alone
   * maps to). No image: adopt the current lines (a ledger from before corrections existed: see docs/changes.md).
   */
  reviewMember(
    sourceId: string,
    groupKey: string,
    current: ImageLine[],
    head: Record<string, unknown> | undefined,
    event?: string,
    standing: ImageLine[] = [],
  ): Review {
    const img = this.image(sourceId);
    // Adopted with the group's head when the group has no image either, so a later cancellation can be reversed.
    if (!img) return { verdict: "unchanged", adopt: this.memberImages(groupKey, [{ id: sourceId, lines: current }], head, 0, "adopted") };
    const before = postableLines(fromStored(img.l));
    const lines = postableLines(current);
    const moved = img.d !== groupKey;
    const older = moved ? undefined : this.olderImage(img, before, lines, `member ${sourceId} of group ${img.d}`, false);
    if (older) return older;
    if (moved ? before.length === 0 && lines.length === 0 : sameLines(before, lines)) return { verdict: "unchanged" };
    if (this.policy === "ignore") return { verdict: "ignore" };
    if (this.policy === "deadLetter") return { verdict: "report", error: changedAfterWrite(`member ${sourceId} of group ${img.d}`, false) };
    if (!moved) return this.groupCorrection(sourceId, img, head, before, lines, "lines_changed", event);
    // A member whose group changed (its day or warehouse was edited) is reversed in the group it was posted in.
    // A new group takes it as a late member (a supplement: `lines` is empty here); a group that already lists it
    // (it was moved away and back) does not build it again, so it is posted there as a group correction.
    // `standing`: what that group still holds of it because its reversal there is held (adv16c-held-move-out-back):
    // only the difference is due there (the held reversal is withdrawn as superseded by this event).
    const home = postableLines(standing);
    const corrections: Correction[] = [];
    for (const [img2, from, to] of [
      [img, before, []],
      [{ d: groupKey, g: 1, l: toStoredLines(home) } as BeforeImage, home, lines],
    ] as const) {
      if (sameLines([...from], [...to])) continue;
      const review = this.groupCorrection(sourceId, img2, head, [...from], [...to], "lines_changed", event);
      if (review.verdict !== "corrections") return review;
      corrections.push(...review.corrections);
    }
    if (home.length && sameLines(home, lines) && corrections.length) corrections.push(this.settleOnly(sourceId, groupKey, home, corrections.pop()!));
    return { verdict: "corrections", corrections };
  }

  /**
   * A resumed plan booked `lines` of a member in `groupKey` after another group's write of this run imaged it there
   * (adv16c-resumed-plan-move): reversed in `groupKey`; the member's image stays where it is.
   */
  reversePlanned(sourceId: string, groupKey: string, lines: ImageLine[], event?: string): Review {
    const before = postableLines(lines);
    if (before.length === 0) return { verdict: "unchanged" };
    if (this.policy === "ignore") return { verdict: "ignore" };
    if (this.policy === "deadLetter") return { verdict: "report", error: changedAfterWrite(`member ${sourceId} of group ${groupKey}`, false) };
    const review = this.groupCorrection(sourceId, { d: groupKey, g: 1, l: toStoredLines(before) }, undefined, before, [], "moved", event);
    if (review.verdict !== "corrections") return review;
    const key = imageKey(sourceId);
    const corrections = review.corrections.map((c) => ({
      ...c,
      settle: (at: number, runId: string) => c.settle(at, runId).filter((e) => e.externalKey !== key),
    }));
    return { verdict: "corrections", corrections };
  }

  /**
   * An image written by an older version (lines per item alone: legacy-images.ts) in a flow that places lines per
   * line, or read against current lines that split an item over warehouses: unchanged only where provable (`posted`:
   * the document's hash equals the ledger's — adopted exactly when not corrected since; a member, without a hash,
   * read exactly as imaged), otherwise a `change_unknown` letter (adv6-older-image-split, -unsplit). Undefined:
   * compare as usual (head-only placement: the older image is exact).
   */
  private olderImage(
    img: BeforeImage,
    before: ImageLine[],
    after: ImageLine[],
    what: string,
    headMoved: boolean,
    posted?: { same: boolean; adopt: () => LedgerEntry[] },
  ): Review | undefined {
    if (!keptPerItem(img) || before.length === 0) return undefined;
    const split = splitItems(after);
    if (split.length === 0 && !this.settings.linePlacement) return undefined;
    if (posted?.same && !img.n) return { verdict: "unchanged", adopt: posted.adopt() };
    if (posted?.same && !headMoved && samePerItem(before, after)) return { verdict: "unchanged" };
    if (!posted && split.length === 0 && !headMoved && sameLines(before, after)) return { verdict: "unchanged" };
    if (this.policy === "ignore") return { verdict: "ignore" };
    if (this.policy === "deadLetter") return { verdict: "report", error: changedAfterWrite(what, false) };
    return { verdict: "unknown", error: olderImageUnknown(what, img.l, split) };
  }

  /** `last` settling the member's image in `groupKey` with `lines` (nothing is written there: it holds them already). */
  private settleOnly(sourceId: string, groupKey: string, lines: ImageLine[], last: Correction): Correction {
    const key = imageKey(sourceId);
    return {
      ...last,
      settle: (at, runId) => [
        ...last.settle(at, runId).filter((e) => e.externalKey !== key),
        this.entry(key, { d: groupKey, g: 1, l: toStoredLines(lines) }, at, runId, [sourceId]),
      ],
    };
  }

  /**
   * The first correction number from `n` whose keys no other document holds in the ledger: a flow's own key can
   * look like a correction's (a source id "<A>-R1" under "{io_id}"), and writing A's reversal under it would be
   * taken for that document. Deterministic (the ledger decides), so a cut-short event is redone under the same keys.
   */
  private freeNumber(n: number, sourceId: string, keys: (n: number) => string[]): number {
    const taken = (k: string) => {
      const e = this.ledgerGet(k);
      return (e !== undefined && !(e.members ?? []).includes(sourceId)) || (this.heldByOther?.(k, sourceId) ?? false);
    };
    while (keys(n).some(taken)) n++;
    return n;
  }

  private documentCorrections(
    sourceId: string,
    img: BeforeImage,
    heads: { posted: Record<string, unknown>; current: Record<string, unknown> },
    before: ImageLine[],
    after: ImageLine[],
    event?: string,
    moved = false,
  ): Correction[] {
    const shape = this.settings.shape;
    const key = img.d;
    const n = this.freeNumber((img.n ?? 0) + 1, sourceId, (m) => [
      relatedKeys.red(key, m),
      relatedKeys.blue(key, m),
      relatedKeys.correction(key, m),
      relatedKeys.correctionBlue(relatedKeys.correction(key, m)),
    ]);
    const cause: CorrectionCause = after.length === 0 ? "no_longer_passes" : moved ? "moved" : "lines_changed";
    const steps: Array<{ key: string; kind: CorrectionKind; lines: ImageLine[]; after: ImageLine[] }> = [];
    if (after.length === 0) {
      steps.push({ key: relatedKeys.red(key, n), kind: "red", lines: before, after: [] });
    } else if (shape.changeMode === "reverse_repost" || before.length === 0 || moved) {
      // A difference cannot move stock to another day or warehouse: a moved document is reversed and posted again.
      if (before.length) steps.push({ key: relatedKeys.red(key, n), kind: "red", lines: before, after: [] });
      steps.push({ key: relatedKeys.blue(key, n), kind: "blue", lines: after, after });
    } else {
      steps.push(...differenceSteps(shape, relatedKeys.correction(key, n), before, after));
    }
    return steps.map((step, i) => {
      const last = i === steps.length - 1;
      const note = `${step.kind === "red" ? "红冲" : "更正"} ${key} (${cause === "no_longer_passes" ? "源单已取消" : "源单已修改"} ${sourceId}${event ? ` ${event}` : ""})`;
      // A red reversing everything that was posted stands on the posted head; every other step on the current one.
      const reversal = step.kind === "red" && step.after.length === 0;
      const head = reversal ? heads.posted : heads.current;
      const payload = shape.compose(head, step.key, step.kind === "signed" ? step.lines : abs(step.lines), step.kind, note);
      // The image advances its number only with the event's last document: a cut-short event is redone under the same keys.
      const image: BeforeImage = { d: key, l: toStoredLines(step.after), n: last ? n : n - 1, h: head };
      return {
        doc: { externalKey: step.key, payload, members: [sourceId], contentHash: contentHash(payload) },
        sourceId,
        of: key,
        kind: step.kind,
        cause,
        ...(event ? { event } : {}),
        settle: (at: number, runId: string) => [this.entry(imageKey(sourceId), image, at, runId, [sourceId])],
      };
    });
  }

  private groupCorrection(
    sourceId: string,
    img: BeforeImage,
    head: Record<string, unknown> | undefined,
    before: ImageLine[],
    after: ImageLine[],
    cause: CorrectionCause,
    event?: string,
  ): Review {
    const shape = this.settings.shape;
    const groupKey = img.d;
    const group = this.ledgerGet(groupImageKey(groupKey))?.before;
    const base = head ?? group?.h;
    if (!base) return { verdict: "unknown", error: changeUnknown(`member ${sourceId} of group ${groupKey}`) };
    const n = this.freeNumber(Math.max(this.groupNext.get(groupKey) ?? 0, (group?.n ?? 0) + 1), sourceId, (m) => [
      relatedKeys.correction(groupKey, m),
      relatedKeys.correctionBlue(relatedKeys.correction(groupKey, m)),
    ]);
    this.groupNext.set(groupKey, n + 1);
    const steps = differenceSteps(shape, relatedKeys.correction(groupKey, n), before, after);
    const corrections = steps.map((step, i): Correction => {
      const last = i === steps.length - 1;
      const note = `更正 ${groupKey} (${cause === "no_longer_passes" ? "源单已取消" : "源单已修改"} ${sourceId}${event ? ` ${event}` : ""})`;
      const lines = step.kind === "signed" ? step.lines : abs(step.lines);
      const payload = shape.compose(group?.h ?? base, step.key, lines, step.kind, note);
      return {
        doc: { externalKey: step.key, payload, members: [sourceId], contentHash: contentHash(payload) },
        sourceId,
        of: groupKey,
        kind: step.kind,
        cause,
        ...(event ? { event } : {}),
        settle: (at: number, runId: string) => {
          const current = this.ledgerGet(groupImageKey(groupKey))?.before;
          const groupImage: BeforeImage = { d: groupKey, l: [], n: Math.max(current?.n ?? 0, last ? n : n - 1), h: current?.h ?? base };
          return [
            this.entry(imageKey(sourceId), { d: groupKey, g: 1, l: toStoredLines(step.after) }, at, runId, [sourceId]),
            this.entry(groupImageKey(groupKey), groupImage, at, runId),
          ];
        },
      };
    });
    return { verdict: "corrections", corrections };
  }
}

/**
 * The signed difference after − before as documents: one signed document when the target mixes signs, else a
 * red document of the decreases (`<key>`) then a blue one of the increases (`<key>-B`). Each step says the
 * image after it.
 */
function differenceSteps(shape: CorrectionShape, key: string, before: ImageLine[], after: ImageLine[]) {
  const delta = diffLines(before, after);
  // An amount-only difference (改价) cannot be a quantity line (the target refuses quantity 0): that item is
  // reversed with its posted line and posted again with its current one (adv16-amount-only-zero-qty-line).
  // Per item and placement: a sku repriced in one warehouse is not repriced in another (adv16c-line-warehouses).
  const repriced = new Set(delta.filter((l) => Math.abs(l.qty) <= 1e-9).map(lineIdentity));
  const negate = (l: ImageLine) => ({ ...l, qty: -l.qty, ...(l.amount !== undefined ? { amount: -l.amount } : {}) });
  const decreases = [...delta.filter((l) => l.qty < 0), ...before.filter((l) => repriced.has(lineIdentity(l))).map(negate)];
  const increases = [...delta.filter((l) => l.qty > 0), ...after.filter((l) => repriced.has(lineIdentity(l)))];
  if (shape.mixedSigns || decreases.length === 0 || increases.length === 0) {
    if (shape.mixedSigns && decreases.length && increases.length)
      return [{ key, kind: "signed" as CorrectionKind, lines: [...decreases, ...increases], after }];
    if (increases.length === 0) return [{ key, kind: "red" as CorrectionKind, lines: decreases, after }];
    return [{ key, kind: "blue" as CorrectionKind, lines: increases, after }];
  }
  const middle = sumLines([...before, ...decreases]);
  return [
    { key, kind: "red" as CorrectionKind, lines: decreases, after: middle },
    { key: relatedKeys.correctionBlue(key), kind: "blue" as CorrectionKind, lines: increases, after },
  ];
}
