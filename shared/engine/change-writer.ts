/**
 * The run's side of corrections (engine/changes.ts): reviews what a build found (dropped documents, merged members
 * read again, changed documents), writes corrections through the run's own writeOne (so they share the ledger,
 * write marker, verify-existing, poison and dead-letter paths of every other write) and records before-images
 * of what was posted. Kept out of run.ts so the engine's main loop only gains a few calls.
 */
import type { Logger } from "../ports.ts";
import type { LedgerEntry, StoredImageLine } from "../state/records.ts";
import { sumLines, type ImageLine } from "../connectors/correction.ts";
import { changeUnknown, fromStored, imageKey, toStoredLines, type ChangeBook, type Correction, type CorrectionRecord, type Review } from "./changes.ts";
import type { BuildResult, BuiltDocument, SourceRow } from "./types.ts";
import type { TargetWriteResult } from "../connectors/target.ts";
import type { BridgeError } from "../errors.ts";
import type { HeldLetters } from "./held-letters.ts";
import { withdrawnEntries } from "./poison.ts";
import { heldEventLetter } from "./held-event.ts";
import { contributionLines, memberUnfollowed } from "./member-lines.ts";
import { groupLedgerKey } from "./ledger-keys.ts";

export interface ChangeWriterContext {
  book: ChangeBook;
  flowId: string;
  runId: string;
  dryRun: boolean;
  logger: Logger;
  now(): number;
  /** Builds one source row alone (a merged member's own lines). */
  buildAlone(row: SourceRow): Pick<BuildResult, "documents" | "failures" | "dropped">;
  /** Builds rows together in the same context (a member's share of its group: member-lines.ts). */
  buildRows(rows: SourceRow[]): Pick<BuildResult, "documents" | "failures">;
  idOf(row: SourceRow): string;
  ledgerGet(key: string): LedgerEntry | undefined;
  remember(entry: LedgerEntry): void;
  deadLetter(sourceId: string, source: unknown, error: BridgeError, extra?: { externalKey?: string; payload?: unknown }): void;
  writeOne(doc: BuiltDocument, rows: SourceRow[], onSettled: (result?: TargetWriteResult) => void, onRefused: (error: BridgeError) => void): Promise<void>;
  /** Dead-lettered after failing in too many runs (poison.ts): not tried again. */
  exhausted(doc: BuiltDocument): boolean;
  /** A correction kept pending until its answer arrives, so a lost answer is resolved next run (pending-writes.ts). */
  pending?: { open(doc: BuiltDocument, settle: LedgerEntry[]): Promise<void>; close(externalKey: string): void };
  skipped(): void;
  /** Open held letters, withdrawn when their document no longer needs writing (held-letters.ts). */
  held?: HeldLetters;
}

/** The source's change stamp of a row (its `modified`), for the run record and the correction's memo. */
const eventOf = (row: SourceRow | undefined) => (row && typeof row.modified === "string" ? row.modified : undefined);

/** What a change writer keeps across the run: the correction records and the keys of the corrections it tried. */
interface WriterState {
  records: CorrectionRecord[];
  /** The letter of each correction this run tried: its event from that step on (a set-aside one that turns poison is filed so too). */
  correctionLetters: Map<string, () => unknown>;
}

/** A source row built alone: its own summed lines and head, or undefined when it does not build on its own. */
function aloneLines(ctx: ChangeWriterContext, row: SourceRow) {
  const shape = ctx.book.settings.shape;
  const built = ctx.buildAlone(row);
  if (built.failures.length || built.documents.length === 0) return undefined;
  return { lines: sumLines(built.documents.flatMap((d) => shape.lines(d.payload))), head: shape.head(built.documents[0]!.payload) };
}

/** A member's share of its group (it does not map alone): the group's rows built with it minus without it. */
function shareOf(ctx: ChangeWriterContext, row: SourceRow, members: readonly string[], rowsById: Map<string, SourceRow>) {
  const id = ctx.idOf(row);
  const others = [...new Set(members)].filter((m) => m !== id).map((m) => rowsById.get(m));
  if (others.some((r) => r === undefined)) return undefined;
  return contributionLines({ shape: ctx.book.settings.shape, build: ctx.buildRows }, row, others as SourceRow[]);
}

/**
 * A written group's member read again: its own lines now (alone, or its share of the group with the group's other
 * members read in the same run: adv16b-member-no-image). Undefined, with a warning when it was posted, when neither.
 */
function memberNow(ctx: ChangeWriterContext, row: SourceRow, groupKey: string, rowsById: Map<string, SourceRow>) {
  const mine = aloneLines(ctx, row);
  if (mine) return mine;
  const members = ctx.ledgerGet(groupLedgerKey(groupKey))?.members ?? [];
  const share = members.length ? shareOf(ctx, row, members, rowsById) : undefined;
  if (share) return { lines: share, head: undefined };
  const id = ctx.idOf(row);
  // Every partner was read and the share still does not build (a partner cancelled: adv16c-share-partner-cancelled):
  // a change of it cannot be corrected, so a letter names it (filed once per row content: run-ledger.ts).
  const posted = ctx.ledgerGet(imageKey(id))?.before?.l.length;
  if (posted && members.length > 1 && members.every((m) => rowsById.has(m))) ctx.deadLetter(id, row, memberUnfollowed(id, groupKey));
  else if (ctx.ledgerGet(imageKey(id)))
    ctx.logger.warn("a posted member read again maps neither alone nor with its group's rows read in this run: a change of it is not corrected", {
      flowId: ctx.flowId,
      sourceId: id,
      groupKey,
    });
  return undefined;
}

/**
 * Writes one event's documents in order; stops at the first one not written. Its letter holds the rest of the event
 * and the images to settle after it (held-event.ts), so a replay finishes the event. Held letters of the document
 * planned from the same image and not part of this event are withdrawn (held-letters.ts planned).
 */
async function writeCorrections(ctx: ChangeWriterContext, state: WriterState, corrections: Correction[], row: SourceRow | undefined) {
  if (!ctx.dryRun && corrections.length)
    await ctx.held?.planned(
      corrections[0]!.sourceId,
      corrections.map((c) => c.doc),
    );
  for (const [i, c] of corrections.entries()) {
    const letter = () => {
      const rest = corrections.slice(i);
      const at = ctx.now();
      return heldEventLetter(
        rest.map((r) => r.doc),
        rest.flatMap((r) => r.settle(at, ctx.runId)),
        (key) => ctx.ledgerGet(key)?.contentHash,
      );
    };
    const existing = ctx.ledgerGet(c.doc.externalKey);
    if (existing) {
      // Written before and not settled into the image (a replayed dead letter): settle it now if it is this content.
      if (existing.contentHash === c.doc.contentHash) {
        if (!ctx.dryRun) for (const e of c.settle(ctx.now(), ctx.runId)) ctx.remember(e);
        continue;
      }
      ctx.deadLetter(c.sourceId, row ?? null, changeUnknown(`correction ${c.doc.externalKey} of ${c.of}`), {
        externalKey: c.doc.externalKey,
        payload: c.doc.payload,
      });
      return;
    }
    if (!ctx.dryRun && ctx.exhausted(c.doc)) {
      ctx.skipped();
      return;
    }
    let written = false;
    state.correctionLetters.set(c.doc.externalKey, letter);
    if (!ctx.dryRun) await ctx.pending?.open(c.doc, c.settle(ctx.now(), ctx.runId));
    await ctx.writeOne(
      c.doc,
      row ? [row] : [],
      (result) => {
        written = true;
        const at = ctx.now();
        ctx.remember({
          externalKey: c.doc.externalKey,
          contentHash: c.doc.contentHash,
          targetId: result?.targetId ?? result?.targetCode,
          members: c.doc.members,
          writtenAt: at,
          runId: ctx.runId,
        });
        for (const e of c.settle(at, ctx.runId)) ctx.remember(e);
        ctx.pending?.close(c.doc.externalKey);
      },
      // Refused for good: the letter holds this correction and the rest of its event as planned parts, so its replay
      // writes exactly these documents (engine/replay.ts) and settles the images as this run would have.
      (error) => {
        ctx.pending?.close(c.doc.externalKey);
        ctx.deadLetter(c.sourceId, row ?? null, error, { externalKey: c.doc.externalKey, payload: letter() });
      },
    );
    state.records.push({
      externalKey: c.doc.externalKey,
      of: c.of,
      sourceId: c.sourceId,
      kind: c.kind,
      cause: c.cause,
      ...(c.event ? { event: c.event } : {}),
      status: written ? "written" : "pending",
    });
    if (!written && !ctx.dryRun) return;
  }
}

/** Acts on a review; true when the document is settled by it (nothing left for the ordinary write). */
async function actOnReview(
  ctx: ChangeWriterContext,
  state: WriterState,
  review: Review,
  sourceId: string,
  row: SourceRow | undefined,
  doc?: BuiltDocument,
): Promise<boolean> {
  switch (review.verdict) {
    case "new":
      return false;
    case "unchanged":
      if (review.adopt && !ctx.dryRun)
        for (const a of review.adopt) ctx.remember({ ...a, writtenAt: a.writtenAt || ctx.now(), runId: a.runId === "adopted" ? ctx.runId : a.runId });
      return true;
    case "ignore":
      ctx.logger.warn("document changed after it was written; ignored (onChange: ignore)", { flowId: ctx.flowId, sourceId });
      return true;
    case "unknown":
    case "report":
      ctx.deadLetter(sourceId, row ?? null, review.error, doc ? { externalKey: doc.externalKey, payload: doc.payload } : {});
      return true;
    case "corrections":
      await writeCorrections(ctx, state, review.corrections, row);
      return true;
  }
}

/**
 * A member of a held group plan, read while the plan waits (held-letters.ts): imaged as the plan will post it, so its
 * change is corrected against the plan; the correction is refused too and held behind the plan. True when imaged.
 */
function heldMemberImaged(ctx: ChangeWriterContext, sourceId: string): boolean {
  const held = ctx.dryRun ? undefined : ctx.held?.member(sourceId, (r) => ctx.idOf(r as SourceRow));
  const planned = held && aloneLines(ctx, held.row as SourceRow);
  if (!held || !planned) return false;
  for (const e of ctx.book.memberImages(held.groupKey, [{ id: sourceId, lines: planned.lines }], held.payload, ctx.now(), ctx.runId)) ctx.remember(e);
  return true;
}

/** The member's image is in another group, with lines, written by this run (a group write newer than any resumed plan). */
function newerElsewhere(ctx: ChangeWriterContext, sourceId: string, groupKey: string): boolean {
  const e = ctx.ledgerGet(imageKey(sourceId));
  return e?.runId === ctx.runId && e.before?.g === 1 && e.before.d !== groupKey && e.before.l.length > 0;
}

/** A member's lines `groupKey` still holds because their reversal there is held (held-letters.ts reversalHeld). */
function standingIn(ctx: ChangeWriterContext, sourceId: string, groupKey: string): ImageLine[] {
  const img = ctx.ledgerGet(imageKey(sourceId))?.before;
  const parts = img && img.d !== groupKey ? ctx.held?.reversalHeld(sourceId, groupKey) : undefined;
  if (!parts) return [];
  const shape = ctx.book.settings.shape;
  return sumLines(parts.flatMap((p) => shape.lines(p))).map((l) => ({
    ...l,
    qty: Math.abs(l.qty),
    ...(l.amount !== undefined ? { amount: Math.abs(l.amount) } : {}),
  }));
}

type Act = (review: Review, sourceId: string, row: SourceRow | undefined, doc?: BuiltDocument) => Promise<boolean>;

/** Documents the condition dropped and merged members read again: corrections where their posted lines changed. */
async function reviewBuilt(ctx: ChangeWriterContext, act: Act, built: BuildResult, rowsById: Map<string, SourceRow>, merges: boolean) {
  for (const d of built.dropped) {
    const row = rowsById.get(d.sourceId);
    let review = ctx.book.reviewDropped(d.sourceId, eventOf(row));
    if (review.verdict === "new" && ctx.held && heldMemberImaged(ctx, d.sourceId)) review = ctx.book.reviewDropped(d.sourceId, eventOf(row));
    else if (review.verdict === "new") for (const e of withdrawnEntries((await ctx.held?.dropped(d.sourceId)) ?? [], ctx.now(), ctx.runId)) ctx.remember(e);
    await act(review, d.sourceId, row);
  }
  if (!merges) return;
  // A member posted in one group now built into another (its day or warehouse was edited): reverse it in the
  // group it was posted in; the new group takes it as a new or late member.
  for (const doc of built.documents) {
    if (doc.groupKey === undefined) continue;
    for (const id of doc.members) {
      const img = ctx.ledgerGet(imageKey(id))?.before;
      if (img?.g && img.d !== doc.groupKey && img.l.length > 0)
        await act(ctx.book.reviewMember(id, doc.groupKey, [], undefined, eventOf(rowsById.get(id))), id, rowsById.get(id));
    }
  }
  const members = [...(built.skipped ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const s of members) {
    const row = rowsById.get(s.id);
    const mine = row && memberNow(ctx, row, s.groupKey, rowsById);
    if (!mine) continue;
    if (ctx.held && !ctx.ledgerGet(imageKey(s.id))) heldMemberImaged(ctx, s.id); // edited while its plan is held
    const review = ctx.book.reviewMember(s.id, s.groupKey, mine.lines, mine.head, eventOf(row), standingIn(ctx, s.id, s.groupKey));
    // Back to what was posted while a group correction of it is held: that correction is no longer due.
    if (review.verdict === "unchanged" && !review.adopt) await ctx.held?.unchanged(s.id, s.groupKey);
    await act(review, s.id, row);
  }
}

/**
 * Members of a plan an earlier invocation started, read again before this run finished it as planned (outbox-writer.ts):
 * the plan imaged them with the lines it books, so an edit or cancellation read since is corrected against it
 * (chaos 9068, 9052 long; test/core/changes-resumed-plan). A member another group of this run imaged since is reversed
 * in the plan's group (adv16c-resumed-plan-move); otherwise a member built into another group is left to that group.
 */
async function reviewPlanMembers(
  ctx: ChangeWriterContext,
  act: Act,
  groupKey: string,
  members: string[],
  rowsById: Map<string, SourceRow>,
  planned: Record<string, StoredImageLine[]> | undefined,
) {
  for (const id of [...members].sort()) {
    const row = rowsById.get(id);
    if (!row) continue;
    const built = ctx.buildAlone(row);
    if (built.dropped.some((d) => d.sourceId === id)) {
      await act(ctx.book.reviewDropped(id, eventOf(row)), id, row);
      continue;
    }
    const mine = aloneLines(ctx, row);
    if (mine && built.documents[0]?.groupKey === groupKey) await act(ctx.book.reviewMember(id, groupKey, mine.lines, mine.head, eventOf(row)), id, row);
    else if (planned?.[id] && newerElsewhere(ctx, id, groupKey))
      await act(ctx.book.reversePlanned(id, groupKey, fromStored(planned[id]!), eventOf(row)), id, row);
  }
}

/** Before-images once a document is written: a not merged document's lines, or each merged member's own lines. */
function rememberImages(
  ctx: ChangeWriterContext,
  doc: Pick<BuiltDocument, "externalKey" | "payload" | "members" | "contentHash" | "groupKey">,
  rowsById: Map<string, SourceRow> | undefined,
  planned: Record<string, StoredImageLine[]> | undefined,
): void {
  if (ctx.dryRun) return;
  const at = ctx.now();
  if (doc.groupKey === undefined) {
    for (const e of ctx.book.documentImage(doc as BuiltDocument, at, ctx.runId)) ctx.remember(e);
    return;
  }
  const members = doc.members.flatMap((id) => {
    // A resumed plan never moves back a member another group's write of this run imaged (reviewPlanMembers reverses it here).
    if (planned && newerElsewhere(ctx, id, doc.groupKey!)) return [];
    const stored = planned?.[id];
    if (stored) return [{ id, lines: fromStored(stored) }];
    const row = rowsById?.get(id);
    const mine = row && aloneLines(ctx, row);
    if (mine) return [{ id, lines: mine.lines }];
    const share = row && shareOf(ctx, row, doc.members, rowsById!);
    if (share) return [{ id, lines: share }];
    // Never silently unfollowed (adv16b-member-no-image): a letter names the member.
    ctx.deadLetter(id, row ?? null, memberUnfollowed(id, doc.groupKey!));
    return [];
  });
  for (const e of ctx.book.memberImages(doc.groupKey, members, doc.payload, at, ctx.runId)) ctx.remember(e);
}

export function createChangeWriter(ctx: ChangeWriterContext) {
  const state: WriterState = { records: [], correctionLetters: new Map<string, () => unknown>() };
  const { records, correctionLetters } = state;
  // Group correction numbers skip keys other members' held corrections take (adv16b-held-group-number-reuse).
  if (ctx.held) ctx.book.heldByOther = (key, sourceId) => ctx.held!.heldByOther(key, sourceId);
  const alone = (row: SourceRow) => aloneLines(ctx, row);
  const act = (review: Review, sourceId: string, row: SourceRow | undefined, doc?: BuiltDocument) => actOnReview(ctx, state, review, sourceId, row, doc);

  return {
    records,
    /** The dead-letter payload of a document: a correction's is a planned part (replayable as stored). */
    letterPayload(doc: BuiltDocument): unknown {
      return correctionLetters.get(doc.externalKey)?.() ?? doc.payload;
    },
    /** Documents the condition dropped and merged members read again: corrections where their posted lines changed. */
    reviewBuilt: (built: BuildResult, rowsById: Map<string, SourceRow>, merges: boolean) => reviewBuilt(ctx, act, built, rowsById, merges),
    /** Members of a resumed plan read again: corrected against the lines the plan imaged (reviewPlanMembers above). */
    reviewPlanMembers: (groupKey: string, members: string[], rowsById: Map<string, SourceRow>, planned?: Record<string, StoredImageLine[]>) =>
      reviewPlanMembers(ctx, act, groupKey, members, rowsById, planned),
    /** A not merged document whose key or source was seen before; false: write it as new. Counts a settled one as skipped. */
    async reviewDocument(doc: BuiltDocument, known: LedgerEntry | undefined, rowsById: Map<string, SourceRow>): Promise<boolean> {
      const row = doc.members.length === 1 ? rowsById.get(doc.members[0]!) : undefined;
      const review = ctx.book.reviewDocument(doc, known, eventOf(row));
      if (review.verdict === "unchanged" && row) await ctx.held?.unchanged(doc.members[0]!, doc.externalKey);
      const handled = await act(review, doc.members[0] ?? doc.externalKey, row, doc);
      if (handled && review.verdict !== "corrections" && review.verdict !== "unknown" && review.verdict !== "report") ctx.skipped();
      return handled;
    },
    /** Each member's own lines, stored with an outbox plan so its images are what the plan posts. */
    planImages(members: string[], rowsById: Map<string, SourceRow>): Record<string, StoredImageLine[]> {
      const out: Record<string, StoredImageLine[]> = {};
      for (const id of members) {
        const row = rowsById.get(id);
        const mine = row && (alone(row)?.lines ?? shareOf(ctx, row, members, rowsById));
        if (mine) out[id] = toStoredLines(mine);
      }
      return out;
    },
    /** Before-images once a document is written: a not merged document's lines, or each merged member's own lines. */
    imagesOf: (
      doc: Pick<BuiltDocument, "externalKey" | "payload" | "members" | "contentHash" | "groupKey">,
      rowsById: Map<string, SourceRow> | undefined,
      planned?: Record<string, StoredImageLine[]>,
    ) => rememberImages(ctx, doc, rowsById, planned),
  };
}

export type ChangeWriter = ReturnType<typeof createChangeWriter>;
