/**
 * The shapes stored under the state keys, with zod schemas that decode them. Both backends (KV binding,
 * KV REST, file) store exactly this JSON, so any host can read what another wrote.
 * Objects are decoded loosely: fields added by a newer version survive a round trip through an older one.
 */
import * as z from "zod/mini";

// ---------- checkpoint (wm:<flow>) ----------

/**
 * The watermark plus, mid-run, where the run stopped. The engine owns the cursor's shape (window
 * `{ from, to }`, next page, seen ids …); the store keeps any JSON object there untouched.
 */
export interface Checkpoint {
  /** Everything before this is settled: epoch ms for time-windowed flows, or an opaque source cursor (e.g. Jushuitan `ts`). */
  watermark: number | string | null;
  /** Present while a run is unfinished; absent once the range up to `watermark` is complete. */
  cursor?: object | null;
  /** The run that saved it. */
  runId?: string;
}

/** What getWatermark returns: the saved checkpoint plus when it was saved. */
export type SavedCheckpoint<C extends Checkpoint = Checkpoint> = C & { savedAt: number };

export const checkpointSchema = z.looseObject({
  watermark: z.union([z.number(), z.string(), z.null()]),
  cursor: z.optional(z.nullable(z.looseObject({}))),
  runId: z.optional(z.string()),
});

export const savedCheckpointSchema = z.extend(checkpointSchema, { savedAt: z.number() });

// ---------- run record (run:<flow>:<runId>) ----------

export interface ResolvedDeadLetterNote {
  id: string;
  reason: string;
  by: string;
  at: number;
}

/**
 * A run summary as stored. Only the fields the store needs are fixed (the engine's RunSummary carries
 * many more: counts, windows, api calls …); everything else round-trips unchanged.
 */
export interface RunRecord {
  runId: string;
  flowId: string;
  startedAt: number;
  finishedAt?: number;
  /** success | partial | incomplete | failed | skipped_locked … */
  outcome?: string;
  trigger?: string;
  error?: { code: string; message: string; hint?: string };
  /** Dead letters resolved by hand since the previous run, with their reasons. */
  resolvedDeadLetters?: ResolvedDeadLetterNote[];
}

export const runRecordSchema = z.looseObject({
  runId: z.string().check(z.minLength(1)),
  flowId: z.string().check(z.minLength(1)),
  startedAt: z.number(),
  finishedAt: z.optional(z.number()),
  outcome: z.optional(z.string()),
  trigger: z.optional(z.string()),
  error: z.optional(z.looseObject({ code: z.string(), message: z.string(), hint: z.optional(z.string()) })),
  resolvedDeadLetters: z.optional(z.array(z.object({ id: z.string(), reason: z.string(), by: z.string(), at: z.number() }))),
});

// ---------- ledger (ledger:<flow>:<segment>) ----------

/** One written target document: which source key it came from, what its content hashed to, where it went. */
export interface LedgerEntry {
  /** The idempotency key of the written document (e.g. `jst-other-in:123456`). */
  externalKey: string;
  /** Hash of the mapped content, to tell "unchanged, skip" from "changed, update". */
  contentHash: string;
  /** The id the target assigned (T+ code / KIS FInterID), when known. */
  targetId?: string;
  /** Source keys merged into this document, when several became one. */
  members?: string[];
  /** Merge-group entries: supplements written after the group's original document (late arrivals). */
  supplements?: number;
  /** Failed-write entries (`try:<key>`): runs in which the target failed this content of the document. */
  attempts?: number;
  /** Failed-write entries: the target took other creates since this document first failed (engine/poison.ts). */
  createsSeen?: boolean;
  /**
   * Before-image (`img:<source id>` / `img-group:<group>` entries, engine/changes.ts): the lines a source document
   * was posted with, so a later edit or cancellation can be corrected. Entries written before it existed have none.
   */
  before?: BeforeImage;
  writtenAt: number;
  runId: string;
}

/** One posted line: item key, quantity, amount (null: none), the line's other fields. */
export type StoredImageLine = [string, number, (number | null)?, Record<string, unknown>?];

/** What a source document was posted as (engine/changes.ts); compact, since one exists per posted document. */
export interface BeforeImage {
  /** The document (external key) or merge group (group key) it was posted in. */
  d: string;
  /** 1: a member of a merge group (corrections go to the group as `<group>-C<n>`). */
  g?: 1;
  /** Its lines as posted (net of corrections so far). */
  l: StoredImageLine[];
  /** Corrections settled so far (per document; for a group, on its `img-group:` entry). */
  n?: number;
  /** The posted head (document payload without lines): what a reversal is composed on. */
  h?: Record<string, unknown>;
  /**
   * 1: lines kept per item and placement (connectors/line-placement.ts). Absent: written by an older version that
   * summed an item's lines into one, in the first line's warehouse (engine/legacy-images.ts reads those).
   */
  p?: 1;
}

/** Stored form: short field names, since packs hold tens of thousands of entries. */
export interface StoredLedgerEntry {
  k: string;
  h: string;
  t?: string;
  m?: string[];
  s?: number;
  a?: number;
  o?: 1;
  /** before-image (LedgerEntry.before) */
  b?: BeforeImage;
  w: number;
  r: string;
}

export interface LedgerSegmentValue {
  v: 1;
  flow: string;
  kind: "segment" | "pack";
  entries: StoredLedgerEntry[];
}

/**
 * Checks a parsed ledger value by hand rather than with zod: packs hold tens of thousands of entries and
 * a schema pass costs several times the JSON.parse (CPU is the scarce thing on Workers Free).
 * Returns a reason when the value is not a ledger segment.
 */
export function checkLedgerSegment(value: unknown): string | null {
  if (!value || typeof value !== "object") return "not an object";
  const v = value as Partial<LedgerSegmentValue>;
  if (v.v !== 1) return `unknown version ${String(v.v)}`;
  if (v.kind !== "segment" && v.kind !== "pack") return "kind must be segment or pack";
  if (typeof v.flow !== "string") return "flow is missing";
  if (!Array.isArray(v.entries)) return "entries is not an array";
  for (let i = 0; i < v.entries.length; i++) {
    const e = v.entries[i] as Partial<StoredLedgerEntry> | null;
    if (!e || typeof e.k !== "string" || typeof e.h !== "string" || typeof e.w !== "number" || typeof e.r !== "string") {
      return `entries[${i}] needs k, h, r (strings) and w (number)`;
    }
    if ((e.t !== undefined && typeof e.t !== "string") || (e.m !== undefined && !Array.isArray(e.m))) return `entries[${i}] has a bad t or m`;
  }
  return null;
}

export const ledgerEntryInputSchema = z.object({
  externalKey: z.string().check(z.minLength(1)),
  contentHash: z.string().check(z.minLength(1)),
  targetId: z.optional(z.string()),
  members: z.optional(z.array(z.string())),
  supplements: z.optional(z.number().check(z.int(), z.nonnegative())),
  attempts: z.optional(z.number().check(z.int(), z.nonnegative())),
  createsSeen: z.optional(z.boolean()),
  before: z.optional(z.looseObject({ d: z.string(), l: z.array(z.array(z.unknown())) })),
  writtenAt: z.number(),
  runId: z.string().check(z.minLength(1)),
});

export function toStoredEntry(e: LedgerEntry): StoredLedgerEntry {
  const s: StoredLedgerEntry = { k: e.externalKey, h: e.contentHash, w: e.writtenAt, r: e.runId };
  if (e.targetId !== undefined) s.t = e.targetId;
  if (e.members !== undefined) s.m = e.members;
  if (e.supplements !== undefined) s.s = e.supplements;
  if (e.attempts !== undefined) s.a = e.attempts;
  if (e.createsSeen) s.o = 1;
  if (e.before !== undefined) s.b = e.before;
  return s;
}

export function fromStoredEntry(s: StoredLedgerEntry): LedgerEntry {
  const e: LedgerEntry = { externalKey: s.k, contentHash: s.h, writtenAt: s.w, runId: s.r };
  if (s.t !== undefined) e.targetId = s.t;
  if (s.m !== undefined) e.members = s.m;
  if (s.s !== undefined) e.supplements = s.s;
  if (s.a !== undefined) e.attempts = s.a;
  if (s.o === 1) e.createsSeen = true;
  if (s.b !== undefined && s.b !== null && typeof s.b === "object") e.before = s.b;
  return e;
}

// ---------- dead letters (dl:<flow>:<segment>) ----------

export interface DeadLetterError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** What the engine hands over: a document (or page) that could not be settled. Extra fields are kept. */
export interface DeadLetterInput {
  runId: string;
  /** When given, must equal the flow it is filed under. */
  flowId?: string;
  /** The source document's id (io_id …). */
  sourceId?: string;
  /** The target document's idempotency key, when it got that far. */
  externalKey?: string;
  /** Where it failed: fetch | transform | lookup | write … */
  stage?: string;
  error: DeadLetterError;
  /** The source row, for a replay. */
  source?: unknown;
  /** The mapped document, when mapping succeeded. */
  payload?: unknown;
  attempts?: number;
  /** Epoch ms; defaults to the store's clock. */
  at?: number;
}

export interface DeadLetterResolution {
  at: number;
  reason: string;
  by: string;
}

export interface StoredDeadLetter {
  runId: string;
  sourceId?: string;
  externalKey?: string;
  stage?: string;
  error: DeadLetterError;
  source?: unknown;
  payload?: unknown;
  attempts?: number;
  createdAt: number;
  resolved?: DeadLetterResolution;
  [extra: string]: unknown;
}

export interface DeadLetter extends StoredDeadLetter {
  /** `<flow>~<segment>~<n>`: one read finds it. */
  id: string;
  flow: string;
}

export interface DeadLetterSegmentValue {
  v: 1;
  flow: string;
  items: StoredDeadLetter[];
}

const deadLetterErrorSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  hint: z.optional(z.string()),
  details: z.optional(z.record(z.string(), z.unknown())),
});

export const deadLetterInputSchema = z.looseObject({
  runId: z.string().check(z.minLength(1)),
  flowId: z.optional(z.string()),
  sourceId: z.optional(z.string()),
  externalKey: z.optional(z.string()),
  stage: z.optional(z.string()),
  error: deadLetterErrorSchema,
  attempts: z.optional(z.number().check(z.int(), z.nonnegative())),
  at: z.optional(z.number()),
});

export const deadLetterSegmentSchema: z.ZodMiniType<DeadLetterSegmentValue> = z.object({
  v: z.literal(1),
  flow: z.string(),
  items: z.array(
    z.looseObject({
      runId: z.string(),
      sourceId: z.optional(z.string()),
      externalKey: z.optional(z.string()),
      stage: z.optional(z.string()),
      error: deadLetterErrorSchema,
      attempts: z.optional(z.number()),
      createdAt: z.number(),
      resolved: z.optional(z.object({ at: z.number(), reason: z.string(), by: z.string() })),
    }),
  ),
});
