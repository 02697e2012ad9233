/**
 * The in-memory view of one flow's ledger, built once per run from its segment keys, and the
 * compaction plan that keeps the number of keys (and so reads per run) small.
 *
 * Segments (`s…`) hold the entries of one written page; packs (`p…`) hold merged entries. When the
 * same external key appears more than once, the entry with the latest `writtenAt` wins, so the order
 * in which segments are read, and duplicates left by an interrupted compaction, do not matter.
 */
import { fromStoredEntry, type LedgerEntry, type StoredLedgerEntry } from "./records.ts";
import type { SegmentKind } from "./keys.ts";
import { utf8Length } from "./kv-helpers.ts";

export interface LedgerSegmentInfo {
  id: string;
  key: string;
  kind: SegmentKind;
  createdAt: number;
  /** The external keys it holds (their entries live once, merged, in the index). */
  keys: string[];
  /** Size of the stored JSON value. */
  bytes: number;
  /** Latest writtenAt inside; a pack whose newest entry is past retention can go whole. */
  newestWrittenAt: number;
}

/** A segment as read or written: its entries, which the index takes in (merged) and does not keep as objects. */
export type LedgerSegmentInput = Omit<LedgerSegmentInfo, "newestWrittenAt" | "keys"> & { entries: StoredLedgerEntry[] };

export interface LedgerCompactionOptions {
  /** Compact once this many page segments have piled up. */
  compactAfterSegments: number;
  /** A pack is closed (never rewritten) once it holds this many entries … */
  packMaxEntries: number;
  /** … or this many bytes of JSON. */
  packMaxBytes: number;
  /** Entries written before this epoch ms may be dropped; undefined keeps everything. */
  retentionCutoff?: number;
}

/**
 * A pack to write: its entries as the index keeps them (JSON texts, oldest first), never parsed into objects, so a
 * compaction costs the pack's text and not its entries' object graphs (an open pack of ~7,000 before-images was
 * ~20 MB of objects plus its two-byte JSON at every compaction of a backfill).
 */
export interface PlannedPack {
  keys: string[];
  texts: string[];
  newestWrittenAt: number;
}

export interface CompactionPlan {
  /** New packs to write (entries sorted oldest first; only the last may be open). */
  packs: PlannedPack[];
  /** Segment/pack keys to delete once the packs are written. */
  remove: LedgerSegmentInfo[];
}

/**
 * Compact: each external key's merged entry is kept as its JSON text (one flat string instead of an object graph:
 * a before-image entry with its lines and head costs several times its JSON as objects), parsed when looked up.
 * Segments keep only their keys. A 100,000-document backfill holds 200,000 entries (document + before-image).
 */
export class LedgerIndex {
  readonly flow: string;
  private readonly byKey = new Map<string, string>();
  private readonly segmentList: LedgerSegmentInfo[] = [];
  private readonly segmentKeys = new Set<string>();

  constructor(flow: string) {
    this.flow = flow;
  }

  get size(): number {
    return this.byKey.size;
  }

  get segments(): readonly LedgerSegmentInfo[] {
    return this.segmentList;
  }

  hasSegment(key: string): boolean {
    return this.segmentKeys.has(key);
  }

  addSegment(info: LedgerSegmentInput): void {
    if (this.segmentKeys.has(info.key)) return; // appended while the load listed it too
    this.segmentKeys.add(info.key);
    let newest = -Infinity;
    const keys: string[] = [];
    for (const e of info.entries) {
      if (e.w > newest) newest = e.w;
      this.merge(e);
      keys.push(e.k);
    }
    const { entries: _entries, ...rest } = info;
    this.segmentList.push({ ...rest, keys, newestWrittenAt: newest });
  }

  /** The merged stored entry of one key (a fresh object: callers may keep or change it). */
  stored(key: string): StoredLedgerEntry | undefined {
    const text = this.byKey.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as StoredLedgerEntry);
  }

  /** The text kept for one key (its form decides the index's memory: test/core/ledger-index-memory.test.ts). */
  keptText(key: string): string | undefined {
    return this.byKey.get(key);
  }

  lookup(externalKeys: Iterable<string>): Map<string, LedgerEntry> {
    const out = new Map<string, LedgerEntry>();
    for (const key of externalKeys) {
      const e = this.stored(key);
      if (e) out.set(key, fromStoredEntry(e));
    }
    return out;
  }

  /**
   * Applies a written compaction: the removed segments go (with entries only they held: those past retention), the
   * packs come in. The packs hold the merged entries of what they replace, so the other keys' entries stay as they are.
   */
  applyCompaction(plan: CompactionPlan, written: LedgerSegmentInfo[]): void {
    const removed = new Set(plan.remove.map((s) => s.key));
    const kept = this.segmentList.filter((s) => !removed.has(s.key));
    this.segmentList.length = 0;
    this.segmentList.push(...kept);
    for (const key of removed) this.segmentKeys.delete(key);
    const inPacks = new Set<string>();
    for (const pack of plan.packs) for (const k of pack.keys) inPacks.add(k);
    const dropped = new Set<string>();
    for (const s of plan.remove) for (const k of s.keys) if (!inPacks.has(k)) dropped.add(k);
    if (dropped.size) {
      for (const s of kept) for (const k of s.keys) dropped.delete(k);
      for (const k of dropped) this.byKey.delete(k);
    }
    // The packs hold entries taken from this index (merged): only their keys come in.
    for (const s of written) {
      if (this.segmentKeys.has(s.key)) continue;
      this.segmentKeys.add(s.key);
      this.segmentList.push(s);
    }
  }

  private merge(e: StoredLedgerEntry): void {
    const current = this.stored(e.k);
    const next = current ? mergeEntries(current, e) : e;
    if (next !== current) this.byKey.set(e.k, asciiJson(next));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const escapeNonAscii = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * JSON text in ASCII: every character above U+007F written as a `\u` escape (JSON.parse reads the same value back).
 * V8 stores a string with any character above U+00FF at two bytes per character, so one Chinese word in a
 * before-image's head (`"Fnote":"报损出库"`) doubled the entry's memory; escaped and re-decoded (a string built by
 * `replace` keeps its source's two-byte form), the entry costs one byte per character. Measured: 1,135 → 619 bytes
 * per 520-character entry.
 */
export function asciiJson(value: unknown): string {
  const text = JSON.stringify(value);
  return /[^\x00-\x7f]/.test(text) ? decoder.decode(encoder.encode(text.replace(/[^\x00-\x7f]/g, escapeNonAscii))) : text;
}

/**
 * Two entries for one key. Merge-group registry entries (`group:`) only ever grow, so they merge as a union of
 * members with the maximum supplement count: a writer whose clock runs ahead (a CLI host) cannot hide another
 * writer's newer members (engine-review finding 3). Every other key: the latest `writtenAt` wins.
 */
export function mergeEntries(current: StoredLedgerEntry | undefined, e: StoredLedgerEntry): StoredLedgerEntry {
  if (!current) return e;
  if (e.k.startsWith("group:")) {
    const members = new Set(current.m ?? []);
    for (const m of e.m ?? []) members.add(m);
    const newer = e.w >= current.w ? e : current;
    return { ...newer, m: [...members], s: Math.max(current.s ?? 0, e.s ?? 0), w: Math.max(current.w, e.w) };
  }
  return e.w >= current.w ? e : current;
}

/**
 * Decides what to merge. Nothing happens until `compactAfterSegments` page segments exist; then all page
 * segments and the open (not yet full) packs are merged, de-duplicated and cut into packs; closed packs stay
 * as they are, unless every entry in them is past retention, in which case they are deleted.
 * Cost: one write per new pack plus one delete per merged key, once every `compactAfterSegments` pages.
 */
export function planCompaction(index: LedgerIndex, options: LedgerCompactionOptions): CompactionPlan | null {
  const pageSegments = index.segments.filter((s) => s.kind === "s");
  if (pageSegments.length < options.compactAfterSegments) return null;
  const cutoff = options.retentionCutoff;
  // A pack is closed once it is full by count, or at least half full by bytes (packs cut by size end up there).
  const isOpenPack = (s: LedgerSegmentInfo) => s.kind === "p" && s.keys.length < options.packMaxEntries && s.bytes < options.packMaxBytes / 2;
  const merging = index.segments.filter((s) => s.kind === "s" || isOpenPack(s));
  const expiredPacks = index.segments.filter((s) => s.kind === "p" && !isOpenPack(s) && cutoff !== undefined && s.newestWrittenAt < cutoff);

  // Each key's merged entry as the index keeps it (its text; parsed only for its time); one past retention is left out.
  const latest = new Map<string, { k: string; w: number; text: string }>();
  for (const s of merging) {
    for (const k of s.keys) {
      if (latest.has(k)) continue;
      const text = index.keptText(k);
      if (text === undefined) continue;
      const w = (JSON.parse(text) as StoredLedgerEntry).w;
      if (cutoff !== undefined && w < cutoff) continue;
      latest.set(k, { k, w, text });
    }
  }
  const sorted = [...latest.values()].sort((a, b) => a.w - b.w || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return { packs: cutPacks(sorted, options), remove: [...merging, ...expiredPacks] };
}

function cutPacks(sorted: Array<{ k: string; w: number; text: string }>, options: LedgerCompactionOptions): PlannedPack[] {
  const packs: PlannedPack[] = [];
  let current: PlannedPack = { keys: [], texts: [], newestWrittenAt: -Infinity };
  let bytes = 0;
  for (const e of sorted) {
    const size = utf8Length(e.text) + 1;
    if (current.keys.length > 0 && (current.keys.length >= options.packMaxEntries || bytes + size > options.packMaxBytes)) {
      packs.push(current);
      current = { keys: [], texts: [], newestWrittenAt: -Infinity };
      bytes = 0;
    }
    current.keys.push(e.k);
    current.texts.push(e.text);
    if (e.w > current.newestWrittenAt) current.newestWrittenAt = e.w;
    bytes += size;
  }
  if (current.keys.length > 0) packs.push(current);
  return packs;
}

/** A pack's stored value (LedgerSegmentValue `{ v, flow, kind: "pack", entries }`) from its entries' JSON texts. */
export function packValue(flow: string, pack: PlannedPack): string {
  return `{"v":1,"flow":${JSON.stringify(flow)},"kind":"pack","entries":[${pack.texts.join(",")}]}`;
}
