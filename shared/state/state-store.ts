/**
 * Per-flow sync state over any KeyValueStore (KV binding, KV REST, file, memory): checkpoints, run
 * records, the ledger of written documents and dead letters. Layout and write counts: docs/state.md.
 *
 * Write discipline (KV: one write per second per key, 1,000 writes a day on Free):
 *  - checkpoint: one write per save (end of run, or when a run stops early with a cursor);
 *  - ledger: one new key per ledgerAppend call (the engine calls it once per written page);
 *  - dead letters: one new key per addDeadLetters call;
 *  - run record: one write per run, with a TTL.
 * Keys that are rewritten (checkpoint, dead-letter segments) are spaced a second apart on the clock.
 *
 * One instance serves one run (or one request): it loads a flow's ledger once and keeps it in memory,
 * and it reads back what it wrote itself even where KV would still serve a stale copy.
 */
import { BridgeError, BudgetExhaustedError, ConfigError } from "../errors.ts";
import { silentLogger, systemClock, type Clock, type KeyValueStore, type Logger } from "../ports.ts";
import { checkFlowId, KEY_PREFIX, makeDeadLetterId, newSegmentId, parseDeadLetterId, parseSegmentId, splitFlowKey, stateKeys } from "./keys.ts";
import { decodeStored, MAX_VALUE_BYTES, MIN_TTL_SECONDS, readMany, utf8Length, WriteSpacer } from "./kv-helpers.ts";
import { LedgerIndex, type LedgerSegmentInfo, packValue, planCompaction } from "./ledger-index.ts";
import {
  checkpointSchema,
  deadLetterInputSchema,
  deadLetterSegmentSchema,
  checkLedgerSegment,
  ledgerEntryInputSchema,
  runRecordSchema,
  toStoredEntry,
  type Checkpoint,
  type DeadLetter,
  type DeadLetterInput,
  type DeadLetterSegmentValue,
  type LedgerEntry,
  type LedgerSegmentValue,
  type RunRecord,
  type SavedCheckpoint,
  type StoredDeadLetter,
} from "./records.ts";

/** A run record as read back: the fixed fields plus whatever else the summary carried. */
export type StoredRunRecord = RunRecord & Record<string, unknown>;

const DAY_SECONDS = 24 * 60 * 60;

export interface LedgerOptions {
  /** Merge page segments into packs once this many exist (default 24). */
  compactAfterSegments?: number;
  /** Entries per pack before it is closed (default 20,000 ≈ 2–3 MB). */
  packMaxEntries?: number;
  /** Bytes per pack (default 8 MiB, well under KV's 25 MiB). */
  packMaxBytes?: number;
  /** Drop entries older than this at compaction (default: keep all). Must exceed the flow's lookback. */
  retentionMs?: number;
}

export interface FlowStateStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** How long run records live (default 30 days). */
  runTtlSeconds?: number;
  /** How long a dead-letter segment lives once every item in it is resolved (default 90 days). */
  resolvedDeadLetterTtlSeconds?: number;
  ledger?: LedgerOptions;
  /** Spacing between writes to the same key (default 1000 ms, KV's rule; 0 disables). */
  writeIntervalMs?: number;
  /**
   * Ledger indexes shared by the stores of one host process's successive runs (a CLI backfill's windows): a flow's
   * ledger is read once, and each later run only lists its keys to read the ones another writer added since.
   */
  ledgerCache?: LedgerCache;
}

/** Loaded ledger indexes by flow (FlowStateStoreOptions.ledgerCache). */
export type LedgerCache = Map<string, LedgerIndex>;

export interface LedgerStats {
  entries: number;
  segments: number;
  packs: number;
  /** Whether loading compacted the ledger (and how many keys it wrote/removed). */
  compaction?: { packsWritten: number; keysRemoved: number };
}

export type DeadLetterStatus = "open" | "resolved" | "all";

export interface ListDeadLettersOptions {
  /** Default "open". */
  status?: DeadLetterStatus;
  /** Only letters resolved at or after this epoch ms (implies resolved ones). */
  resolvedSince?: number;
}

export class FlowStateStore {
  private readonly kv: KeyValueStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly runTtlSeconds: number;
  private readonly resolvedDeadLetterTtlSeconds: number;
  private readonly ledgerOptions: Required<Omit<LedgerOptions, "retentionMs">> & { retentionMs?: number };
  private readonly spacer: WriteSpacer;
  private readonly ledgers = new Map<string, Promise<LedgerIndex>>();
  private readonly ledgerCache: LedgerCache | undefined;
  /** What this instance wrote to rewritable keys, so it never reads back an older copy. */
  private readonly ownWrites = new Map<string, string>();

  constructor(kv: KeyValueStore, options: FlowStateStoreOptions = {}) {
    this.kv = kv;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.runTtlSeconds = Math.max(MIN_TTL_SECONDS, options.runTtlSeconds ?? 30 * DAY_SECONDS);
    this.resolvedDeadLetterTtlSeconds = Math.max(MIN_TTL_SECONDS, options.resolvedDeadLetterTtlSeconds ?? 90 * DAY_SECONDS);
    const ledger = options.ledger ?? {};
    this.ledgerOptions = {
      compactAfterSegments: positiveInt(ledger.compactAfterSegments ?? 24, "ledger.compactAfterSegments"),
      packMaxEntries: positiveInt(ledger.packMaxEntries ?? 20_000, "ledger.packMaxEntries"),
      packMaxBytes: Math.min(positiveInt(ledger.packMaxBytes ?? 8 * 1024 * 1024, "ledger.packMaxBytes"), MAX_VALUE_BYTES),
    };
    if (ledger.retentionMs !== undefined) this.ledgerOptions.retentionMs = positiveInt(ledger.retentionMs, "ledger.retentionMs");
    this.spacer = new WriteSpacer(this.clock, options.writeIntervalMs ?? 1000);
    this.ledgerCache = options.ledgerCache;
  }

  // ---------- checkpoint ----------

  /** The flow's checkpoint (watermark + resume cursor) with its save time, or null before its first run. */
  async getWatermark<C extends Checkpoint = Checkpoint>(flow: string): Promise<SavedCheckpoint<C> | null> {
    const key = stateKeys.watermark(flow);
    const raw = this.ownWrites.get(key) ?? (await this.kv.get(key));
    if (raw === null) return null;
    const decoded = decodeStored(key, raw, checkpointSchema);
    return { ...decoded, savedAt: typeof decoded.savedAt === "number" ? decoded.savedAt : 0 } as unknown as SavedCheckpoint<C>;
  }

  /** Saves the watermark (and, mid-run, the cursor): exactly one KV write. Returns what was stored. */
  async saveCheckpoint<C extends Checkpoint>(flow: string, checkpoint: C): Promise<SavedCheckpoint<C>> {
    const key = stateKeys.watermark(flow);
    const parsed = checkpointSchema.safeParse(checkpoint);
    if (!parsed.success) throw invalidInput("checkpoint", parsed.error.issues[0]);
    const stored: Record<string, unknown> = { ...parsed.data, savedAt: this.clock.now() };
    if (stored.cursor === undefined || stored.cursor === null) delete stored.cursor;
    const value = JSON.stringify(stored);
    checkValueSize(key, value, "Keep the cursor small (ids and counters, not whole rows).");
    await this.write(key, value);
    this.ownWrites.set(key, value);
    return JSON.parse(value) as SavedCheckpoint<C>;
  }

  // ---------- run records ----------

  /** Stores a run summary under run:<flowId>:<runId> with a TTL (default 30 days). One write. */
  async recordRun<R extends RunRecord>(summary: R, options: { ttlSeconds?: number } = {}): Promise<void> {
    const parsed = runRecordSchema.safeParse(summary);
    if (!parsed.success) throw invalidInput("run record", parsed.error.issues[0]);
    const key = stateKeys.run(parsed.data.flowId, parsed.data.runId);
    const ttl = Math.max(MIN_TTL_SECONDS, options.ttlSeconds ?? this.runTtlSeconds);
    const value = JSON.stringify(parsed.data);
    checkValueSize(key, value, "Leave per-record detail out of the run summary.");
    await this.write(key, value, ttl);
  }

  async getRun(flow: string, runId: string): Promise<StoredRunRecord | null> {
    const key = stateKeys.run(flow, runId);
    const raw = await this.kv.get(key);
    return raw === null ? null : decodeStored(key, raw, runRecordSchema);
  }

  /**
   * The latest runs, newest first: of one flow, or of all flows. Keys are ordered by run id (ids from
   * makeRunId sort by time), the top `limit` are read and then ordered by startedAt.
   */
  async listRuns(flow?: string, limit = 20): Promise<StoredRunRecord[]> {
    const keys = await this.kv.list(stateKeys.runPrefix(flow));
    const parsed = keys
      .map((key) => ({ key, parts: splitFlowKey(KEY_PREFIX.run, key) }))
      .filter((k): k is { key: string; parts: { flow: string; rest: string } } => k.parts !== null);
    parsed.sort((a, b) => (a.parts.rest < b.parts.rest ? 1 : a.parts.rest > b.parts.rest ? -1 : 0));
    const chosen = parsed.slice(0, Math.max(0, limit)).map((k) => k.key);
    const values = await readMany(this.kv, chosen);
    const runs: StoredRunRecord[] = [];
    for (const key of chosen) {
      const raw = values.get(key);
      if (raw === null || raw === undefined) continue; // expired between list and get
      try {
        runs.push(decodeStored(key, raw, runRecordSchema));
      } catch (error) {
        this.logger.warn("skipping unreadable run record", { key, error: String(error) });
      }
    }
    return runs.sort((a, b) => b.startedAt - a.startedAt);
  }

  // ---------- ledger ----------

  /**
   * Loads the flow's ledger into memory (one list + bulk reads of its segment keys), compacting it when
   * page segments have piled up. Called implicitly by the first lookup; call it early to pay the reads up front.
   */
  async loadLedger(flow: string): Promise<LedgerStats> {
    checkFlowId(flow);
    let compaction: LedgerStats["compaction"];
    let pending = this.ledgers.get(flow);
    if (!pending) {
      const cached = this.ledgerCache?.get(flow);
      pending = (cached ? this.refreshLedger(cached) : this.readLedger(flow)).then(async (index) => {
        this.ledgerCache?.set(flow, index);
        try {
          compaction = await this.compact(index);
        } catch (error) {
          // Compaction is housekeeping: a failed one leaves duplicates (harmless) and is retried next load.
          if (error instanceof BudgetExhaustedError) throw error;
          this.logger.warn("ledger compaction failed; continuing with the uncompacted ledger", { flow, error: String(error) });
        }
        return index;
      });
      this.ledgers.set(flow, pending);
      pending.catch(() => this.ledgers.delete(flow)); // a failed load is retried by the next call
    }
    const index = await pending;
    const stats: LedgerStats = {
      entries: index.size,
      segments: index.segments.filter((s) => s.kind === "s").length,
      packs: index.segments.filter((s) => s.kind === "p").length,
    };
    if (compaction) stats.compaction = compaction;
    return stats;
  }

  /** The ledger entries known for these external keys (latest write wins). */
  async ledgerLookup(flow: string, externalKeys: string[]): Promise<Map<string, LedgerEntry>> {
    await this.loadLedger(flow);
    const index = await (this.ledgers.get(flow) as Promise<LedgerIndex>);
    return index.lookup(externalKeys);
  }

  /**
   * A synchronous view of the loaded ledger: merge flows decide supplements while building documents,
   * which cannot wait on I/O per group. Entries appended through this instance later are visible too.
   */
  async ledgerView(flow: string): Promise<(externalKey: string) => LedgerEntry | undefined> {
    await this.loadLedger(flow);
    const index = await (this.ledgers.get(flow) as Promise<LedgerIndex>);
    return (externalKey) => index.lookup([externalKey]).get(externalKey);
  }

  /**
   * Records written documents as ONE new segment key (one KV write per call; call once per written page).
   * Returns the segment id, or null when there was nothing to record.
   */
  async ledgerAppend(flow: string, entries: LedgerEntry[]): Promise<{ segment: string | null; entries: number }> {
    checkFlowId(flow);
    if (!Array.isArray(entries)) throw new ConfigError("ledgerAppend: entries must be an array", { hint: "Pass the written page's entries." });
    if (entries.length === 0) return { segment: null, entries: 0 };
    const stored = entries.map((e, i) => {
      const parsed = ledgerEntryInputSchema.safeParse(e);
      if (!parsed.success) throw invalidInput(`ledger entry [${i}]`, parsed.error.issues[0]);
      return toStoredEntry(parsed.data as LedgerEntry);
    });
    const segment = newSegmentId("s", this.clock.now());
    const key = stateKeys.ledger(flow, segment);
    const value: LedgerSegmentValue = { v: 1, flow, kind: "segment", entries: stored };
    const text = JSON.stringify(value);
    checkValueSize(key, text, "Append the page in smaller pieces.");
    await this.write(key, text);
    const loaded = this.ledgers.get(flow);
    if (loaded) {
      const index = await loaded.catch(() => null);
      index?.addSegment({ id: segment, key, kind: "s", createdAt: this.clock.now(), entries: stored, bytes: text.length });
    }
    return { segment, entries: stored.length };
  }

  private readLedger(flow: string): Promise<LedgerIndex> {
    return this.refreshLedger(new LedgerIndex(flow));
  }

  /** Adds the ledger keys the index does not hold yet (all of them for a new index): one list plus reads of the new keys. */
  private async refreshLedger(index: LedgerIndex): Promise<LedgerIndex> {
    const prefix = stateKeys.ledgerPrefix(index.flow);
    const keys = (await this.kv.list(prefix)).filter((key) => !index.hasSegment(key));
    const segments = keys
      .map((key) => ({ key, id: parseSegmentId(key.slice(prefix.length)) }))
      .filter((s) => {
        if (!s.id) this.logger.warn("ignoring unrecognised ledger key", { key: s.key });
        return s.id !== null;
      });
    const values = await readMany(
      this.kv,
      segments.map((s) => s.key),
    );
    for (const s of segments) {
      const raw = values.get(s.key);
      if (raw === null || raw === undefined || !s.id) continue; // removed by a compaction after the list
      const value = decodeLedgerSegment(s.key, raw);
      index.addSegment({ id: s.id.id, key: s.key, kind: s.id.kind, createdAt: s.id.createdAt, entries: value.entries, bytes: raw.length });
    }
    return index;
  }

  /** Writes the packs first, then deletes what they replace: an interruption leaves duplicates, never gaps. */
  private async compact(index: LedgerIndex): Promise<LedgerStats["compaction"]> {
    const { retentionMs, ...limits } = this.ledgerOptions;
    const retentionCutoff = retentionMs === undefined ? undefined : this.clock.now() - retentionMs;
    const plan = planCompaction(index, retentionCutoff === undefined ? limits : { ...limits, retentionCutoff });
    if (!plan) return undefined;
    const written: LedgerSegmentInfo[] = [];
    for (const pack of plan.packs) {
      const id = newSegmentId("p", this.clock.now());
      const key = stateKeys.ledger(index.flow, id);
      const text = packValue(index.flow, pack);
      checkValueSize(key, text, "Lower ledger.packMaxBytes.");
      await this.write(key, text);
      written.push({ id, key, kind: "p", createdAt: this.clock.now(), keys: pack.keys, bytes: text.length, newestWrittenAt: pack.newestWrittenAt });
    }
    for (const s of plan.remove) await this.kv.delete(s.key);
    index.applyCompaction(plan, written);
    this.logger.info("ledger compacted", { flow: index.flow, packsWritten: written.length, keysRemoved: plan.remove.length });
    return { packsWritten: written.length, keysRemoved: plan.remove.length };
  }

  // ---------- dead letters ----------

  /** Stores the items as ONE new dead-letter segment (one KV write). Returns them with their ids. */
  async addDeadLetters(flow: string, items: DeadLetterInput[]): Promise<DeadLetter[]> {
    checkFlowId(flow);
    if (!Array.isArray(items)) throw new ConfigError("addDeadLetters: items must be an array", { hint: "Pass the failed documents." });
    if (items.length === 0) return [];
    const now = this.clock.now();
    const stored: StoredDeadLetter[] = items.map((item, i) => {
      const parsed = deadLetterInputSchema.safeParse(item);
      if (!parsed.success) throw invalidInput(`dead letter [${i}]`, parsed.error.issues[0]);
      const { at, flowId, ...rest } = parsed.data;
      if (flowId !== undefined && flowId !== flow) {
        throw new ConfigError(`Dead letter [${i}] belongs to flow ${flowId}, not ${flow}`, {
          hint: "File dead letters under their own flow.",
          details: { flow, flowId },
        });
      }
      return dropUndefined({ ...rest, createdAt: at ?? now }) as StoredDeadLetter;
    });
    const segment = newSegmentId("s", now);
    const key = stateKeys.deadLetter(flow, segment);
    const text = JSON.stringify({ v: 1, flow, items: stored } satisfies DeadLetterSegmentValue);
    checkValueSize(key, text, "Dead-letter fewer items per call, or leave large payloads out.");
    await this.write(key, text);
    this.ownWrites.set(key, text);
    return stored.map((item, i) => toDeadLetter(flow, segment, i, item));
  }

  /** Dead letters of one flow or all flows, oldest first (open ones by default). */
  async listDeadLetters(flow?: string, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const status = options.resolvedSince !== undefined ? "resolved" : (options.status ?? "open");
    const keys = await this.kv.list(stateKeys.deadLetterPrefix(flow));
    const values = await readMany(this.kv, keys);
    const out: DeadLetter[] = [];
    for (const key of keys) {
      const parts = splitFlowKey(KEY_PREFIX.deadLetter, key);
      const raw = this.ownWrites.get(key) ?? values.get(key);
      if (!parts || !parseSegmentId(parts.rest) || raw === null || raw === undefined) continue;
      const segment = decodeStored(key, raw, deadLetterSegmentSchema);
      segment.items.forEach((item, i) => {
        const resolved = item.resolved !== undefined;
        if (status === "open" && resolved) return;
        if (status === "resolved" && !resolved) return;
        if (options.resolvedSince !== undefined && (item.resolved?.at ?? -Infinity) < options.resolvedSince) return;
        out.push(toDeadLetter(parts.flow, parts.rest, i, item));
      });
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async getDeadLetter(id: string): Promise<DeadLetter | null> {
    const { flow, segment, index } = parseDeadLetterId(id);
    const value = await this.readDeadLetterSegment(stateKeys.deadLetter(flow, segment));
    const item = value?.items[index];
    return item ? toDeadLetter(flow, segment, index, item) : null;
  }

  /**
   * Marks a dead letter resolved (kept, with reason and who, so the next run record can report it).
   * One write; resolving an already resolved letter changes nothing. When the last open item of a segment is
   * resolved, the segment is rewritten with a TTL so settled history cleans itself up.
   */
  async resolveDeadLetter(id: string, resolution: { reason: string; by: string }): Promise<DeadLetter> {
    const { flow, segment, index } = parseDeadLetterId(id);
    if (!resolution || typeof resolution.reason !== "string" || !resolution.reason.trim() || typeof resolution.by !== "string" || !resolution.by.trim()) {
      throw new ConfigError(`Resolving dead letter ${id} needs a reason and who resolved it`, {
        hint: "Pass { reason: 'why it no longer needs a retry', by: 'user or process' }.",
        details: { id },
      });
    }
    const key = stateKeys.deadLetter(flow, segment);
    const value = await this.readDeadLetterSegment(key);
    const item = value?.items[index];
    if (!value || !item) {
      throw new BridgeError("not_found", `Dead letter ${id} does not exist`, {
        hint: "It may have expired after being resolved; list the current ones with listDeadLetters.",
        details: { id },
      });
    }
    if (item.resolved) return toDeadLetter(flow, segment, index, item);
    item.resolved = { at: this.clock.now(), reason: resolution.reason.trim(), by: resolution.by.trim() };
    const text = JSON.stringify(value);
    const allResolved = value.items.every((i) => i.resolved !== undefined);
    await this.write(key, text, allResolved ? this.resolvedDeadLetterTtlSeconds : undefined);
    this.ownWrites.set(key, text);
    return toDeadLetter(flow, segment, index, item);
  }

  private async readDeadLetterSegment(key: string): Promise<DeadLetterSegmentValue | null> {
    const raw = this.ownWrites.get(key) ?? (await this.kv.get(key));
    return raw === null ? null : decodeStored(key, raw, deadLetterSegmentSchema);
  }

  // ---------- plumbing ----------

  private write(key: string, value: string, expirationTtl?: number): Promise<void> {
    return this.spacer.write(key, () => this.kv.put(key, value, expirationTtl === undefined ? undefined : { expirationTtl }));
  }
}

function decodeLedgerSegment(key: string, raw: string): LedgerSegmentValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const problem = parsed === undefined ? "it is not valid JSON" : checkLedgerSegment(parsed);
  if (problem) {
    throw new BridgeError("state_corrupt", `State value "${key}" cannot be read: ${problem}`, {
      hint: `Delete the key (wrangler kv key delete "${key}"); the documents it listed are then looked up in the target again on the next write.`,
      details: { key },
    });
  }
  return parsed as LedgerSegmentValue;
}

function toDeadLetter(flow: string, segment: string, index: number, item: StoredDeadLetter): DeadLetter {
  return { id: makeDeadLetterId(flow, segment, index), flow, ...structuredClone(item) };
}

function invalidInput(what: string, issue: { path: PropertyKey[]; message: string } | undefined): ConfigError {
  const path = issue?.path.map(String).join(".") || "(root)";
  return new ConfigError(`Invalid ${what}: ${path}: ${issue?.message ?? "invalid"}`, {
    hint: `Check the ${what} passed to the state store (field ${path}).`,
    details: { path },
  });
}

function checkValueSize(key: string, text: string, fix: string): void {
  // UTF-16 length × 3 bounds the UTF-8 size; measure exactly only when that bound is over the limit.
  if (text.length * 3 > MAX_VALUE_BYTES && utf8Length(text) > MAX_VALUE_BYTES) {
    throw new BridgeError("state_value_too_large", `State value "${key}" would exceed KV's 25 MiB limit`, { hint: fix, details: { key } });
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigError(`${name} must be a positive number, got ${value}`, { hint: `Set ${name} to a value above 0.` });
  return Math.floor(value);
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
