/**
 * Document trace (issue 17): every event of a document (read in which run, window and page; the mapped payload;
 * the target's answer and voucher id; the merge group it joined; dead letters) kept so that one search finds it.
 *
 * Cost model (KV: 1,000 writes a day on Free, one write per second per key):
 * - one chunk `trace:c:<flow>:<run>:<seq>` per DAY_MAP_INTERVAL_MS of a run (or MAX_BUFFERED events), holding the
 *   events since the previous chunk (each read says its window and page): at most one per page, fewer when pages are fast;
 * - one token map per flow and UTC day, `trace:d:<flow>:<yyyymmdd>`: token (io_id, so_id, external key /
 *   ExternalCode / FBillNo, voucher id) → the chunks that mention it. The run keeps it in memory after one read
 *   and writes it with a chunk at most every DAY_MAP_INTERVAL_MS, and at the end (never twice in a second:
 *   KV's per-key rule).
 * So a page costs ≤ 2 writes (in practice well under 1) and a run 1 read per day it touches, whatever the number
 * of documents. A day map that reaches DAY_MAP_MAX_TOKENS tokens is closed as a part `trace:d:<flow>:<yyyymmdd>:<run>:<seq>`
 * (written once) and the day's map starts again, listing its parts: a run holds and rewrites one part at most. A run killed mid-way loses at most the last DAY_MAP_INTERVAL_MS of its trace (never the ledger). TRACE_INDEX=off turns it off (the Free plan's 1,000 writes a day).
 * A search reads one map per flow and day searched, then only the chunks that mention the token.
 *
 * The engine is not changed: the recorder wraps the source, the target and the state it already calls
 * (observeRun), so its events are exactly what the engine did. Chunks pass the KV port, which redacts secrets.
 */
import type { TargetConnector, TargetWrite, TargetWriteResult } from "../connectors/target.ts";
import type { EngineState } from "../engine/run.ts";
import type { RunSummary, SourceRow, WindowSource } from "../engine/types.ts";
import type { Clock, KeyValueStore, Logger } from "../ports.ts";
import { correctionChains, correctionEvents, type CorrectionChain, type CorrectionTraceEvent } from "./corrections-view.ts";
import type { ContinuationPort } from "../state/continuation.ts";
import { freshnessOf, type FreshnessStats, poolFreshness } from "./freshness.ts";

/** Trace data lives as long as run records (30 days). */
export const TRACE_TTL_SECONDS = 30 * 86_400;
/** Source fields indexed besides the flow's id field: the ids people quote (order, outer order, io). */
export const TRACE_SOURCE_FIELDS = ["io_id", "so_id", "o_id", "outer_so_id", "l_id"] as const;
/** Per-key write rule of Workers KV. */
const KEY_WRITE_INTERVAL_MS = 1_050;
/**
 * Mid-run, the day map is written at most this often (and always at the end of the run): a page then costs about
 * one write. A run killed mid-way loses at most this much of the index; its chunks stay readable by key.
 */
export const DAY_MAP_INTERVAL_MS = 10_000;
/** Source instants kept for freshness (rows read whose document is not written yet: a merge day's spool at most). */
const MAX_SOURCE_TIMES = 50_000;
/** Events held before a chunk is written regardless of time (bounds memory and chunk size). */
const MAX_BUFFERED = 2_000;
/**
 * Tokens a day map holds before it is closed as a part (~4,000 documents, ~0.5 MB of JSON). Unbounded, the map of a
 * 100,000-document backfill day was parsed, kept and rewritten whole by every window's run (tens of MB in the CLI;
 * adversary 17: past ~210,000 documents a day it no longer fits a KV value). A search reads the map and its parts.
 */
export const DAY_MAP_MAX_TOKENS = 20_000;

export type TraceEvent =
  | { t: "read"; at: number; id: string; ids?: Record<string, string>; time?: number; w?: { from: number; to: number }; p?: number }
  | { t: "write"; at: number; key: string; status: "created" | "already_exists"; targetId?: string; recovered?: boolean; payload?: unknown; members?: string[] }
  | { t: "write_failed"; at: number; key: string; code: string; message: string }
  | { t: "group"; at: number; key: string; members: string[]; supplements?: number }
  /** The ledger took a written document (its members), when the write's own event was already flushed. */
  | { t: "settled"; at: number; key: string; members: string[]; targetId?: string }
  | { t: "dead_letter"; at: number; id?: string; key?: string; code: string; message: string; stage?: string }
  /** A correction of the run (issue 16): its key, what it corrects, the source document and event that caused it. */
  | CorrectionTraceEvent;

export interface TraceChunk {
  v: 1;
  flow: string;
  run: string;
  seq: number;
  window?: { from: number; to: number };
  page?: number;
  at: number;
  events: TraceEvent[];
}

/** An invocation's unwritten trace, carried in the flow index to the run's last invocation. */
export interface TraceCarry {
  v: 1;
  events: TraceEvent[];
  tokens: string[];
  lags: number[];
}

interface DayMap {
  v: 1;
  /** Chunk suffixes `<run>:<seq>`. */
  c: string[];
  /** token → indexes into c. */
  t: Record<string, number[]>;
  /** The day's closed parts (suffixes `<run>:<seq>` of `trace:d:<flow>:<day>:<suffix>`), each a map of its own. */
  p?: string[];
}

interface DayEntry {
  map: DayMap;
  /** Tokens in map.t. */
  tokens: number;
  dirty: boolean;
  lastPut: number;
}

const chunkKey = (flow: string, suffix: string) => `trace:c:${flow}:${suffix}`;
/** Hourly freshness of a flow for one UTC day: `{ v: 1, h: { "00".."23": FreshnessStats } }`. */
export const freshnessKey = (flow: string, day: string) => `fresh:${flow}:${day}`;
const dayKey = (flow: string, day: string) => `trace:d:${flow}:${day}`;
const partKey = (flow: string, day: string, suffix: string) => `trace:d:${flow}:${day}:${suffix}`;
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");

function parseDayMap(raw: string | null): DayMap {
  if (!raw) return { v: 1, c: [], t: {} };
  try {
    const v = JSON.parse(raw) as DayMap;
    if (v && v.v === 1 && Array.isArray(v.c) && v.t && typeof v.t === "object") {
      if (v.p !== undefined && !(Array.isArray(v.p) && v.p.every((x) => typeof x === "string"))) delete v.p;
      return v;
    }
  } catch {
    /* a damaged map starts again; its chunks stay readable by key */
  }
  return { v: 1, c: [], t: {} };
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
}

export interface TraceRecorderOptions {
  kv: KeyValueStore;
  flowId: string;
  runId: string;
  clock: Clock;
  logger?: Logger;
  /** Keep the mapped payload in write events (default true). */
  payloads?: boolean;
  /** Write the trace index (default true); freshness is measured either way. */
  index?: boolean;
}

/**
 * Collects one run's events and writes them a page at a time. Never fails the run: a trace write that fails is
 * logged and its events dropped (the ledger and dead letters, the source of truth, are untouched).
 */
export class TraceRecorder {
  private events: TraceEvent[] = [];
  private tokens = new Set<string>();
  private seq = 0;
  private window?: { from: number; to: number };
  private page?: number;
  private readonly maps = new Map<string, DayEntry>();
  /** Source instant (window field) of every row read, for freshness. */
  private readonly sourceTimes = new Map<string, number>();
  private readonly lags: number[] = [];
  /** The run's start: a short invocation writes its trace once, at its end. */
  private lastChunkAt: number;
  /** Operations this recorder made (the cost the issue asks to measure). */
  readonly ops = { reads: 0, writes: 0 };

  private readonly o: TraceRecorderOptions;

  constructor(options: TraceRecorderOptions) {
    this.o = options;
    this.lastChunkAt = options.clock.now();
  }

  onPage(window: { from: number; to: number }, page: number, rows: SourceRow[], source: WindowSource) {
    this.window = { from: window.from, to: window.to };
    this.page = page;
    const at = this.o.clock.now();
    for (const row of rows) {
      const id = source.idOf(row);
      const ids: Record<string, string> = {};
      for (const f of TRACE_SOURCE_FIELDS) {
        const v = text(row[f]);
        if (v !== undefined && v !== id) {
          ids[f] = v;
          this.tokens.add(v);
        }
      }
      const time = source.timeOf?.(row);
      if (time !== undefined && !this.sourceTimes.has(id)) this.noteSourceTime(id, time);
      this.tokens.add(id);
      this.events.push({ t: "read", at, id, ...(Object.keys(ids).length ? { ids } : {}), ...(time !== undefined ? { time } : {}), w: this.window, p: page });
    }
  }

  onWritten(doc: TargetWrite, result: TargetWriteResult) {
    const targetId = result.targetId ?? result.targetCode;
    this.tokens.add(doc.externalKey);
    if (targetId) this.tokens.add(targetId);
    this.events.push({
      t: "write",
      at: this.o.clock.now(),
      key: doc.externalKey,
      status: result.status,
      ...(targetId ? { targetId } : {}),
      ...(result.recovered ? { recovered: true } : {}),
      ...(this.o.payloads !== false ? { payload: doc.payload } : {}),
    });
  }

  onWriteFailed(doc: TargetWrite, error: unknown) {
    const e = error as { code?: string; message?: string };
    this.tokens.add(doc.externalKey);
    this.events.push({ t: "write_failed", at: this.o.clock.now(), key: doc.externalKey, code: e.code ?? "error", message: e.message ?? String(error) });
  }

  onLedger(entries: ReadonlyArray<{ externalKey: string; members?: string[]; supplements?: number; writtenAt: number; targetId?: string }>) {
    for (const e of entries) {
      if (e.externalKey.startsWith("group:")) {
        const members = e.members ?? [];
        for (const m of members) this.tokens.add(m);
        this.tokens.add(e.externalKey.slice(6));
        this.events.push({ t: "group", at: e.writtenAt, key: e.externalKey.slice(6), members, ...(e.supplements ? { supplements: e.supplements } : {}) });
        continue;
      }
      if (e.externalKey.includes(":")) continue; // markers (dead:, try:, keyscheme …)
      if (!e.members?.length) continue;
      // The document's members: attach them to its write event, and measure how long each took to arrive.
      const write = [...this.events].reverse().find((x): x is Extract<TraceEvent, { t: "write" }> => x.t === "write" && x.key === e.externalKey);
      if (write) write.members = e.members;
      else {
        this.tokens.add(e.externalKey);
        this.events.push({ t: "settled", at: e.writtenAt, key: e.externalKey, members: e.members, ...(e.targetId ? { targetId: e.targetId } : {}) });
      }
      for (const m of e.members) {
        this.tokens.add(m);
        const time = this.sourceTimes.get(m);
        this.sourceTimes.delete(m); // measured once; a long backfill must not keep every row's instant
        if (time !== undefined && e.writtenAt >= time) this.lags.push(e.writtenAt - time);
      }
    }
  }

  onDeadLetters(items: ReadonlyArray<{ sourceId?: string; externalKey?: string; stage?: string; error: { code: string; message: string }; at?: number }>) {
    for (const d of items) {
      if (d.sourceId) this.tokens.add(d.sourceId);
      if (d.externalKey) this.tokens.add(d.externalKey);
      this.events.push({
        t: "dead_letter",
        at: d.at ?? this.o.clock.now(),
        ...(d.sourceId ? { id: d.sourceId } : {}),
        ...(d.externalKey ? { key: d.externalKey } : {}),
        code: d.error.code,
        message: d.error.message,
        ...(d.stage ? { stage: d.stage } : {}),
      });
    }
  }

  /** The run's corrections, from its run record: each names its key, what it corrects and its cause. */
  onCorrections(records: RunSummary["corrections"]) {
    for (const e of correctionEvents(records ?? [], this.o.clock.now())) {
      for (const token of [e.key, e.of, e.id]) this.tokens.add(token);
      this.events.push(e);
    }
  }

  /**
   * What this invocation has not written yet, for the next invocation of a continuing run to write
   * (state/continuation.ts): its events and tokens (none with TRACE_INDEX=off) and its freshness lags.
   */
  takeCarry(): TraceCarry {
    const carry: TraceCarry = {
      v: 1,
      events: this.o.index === false ? [] : this.events,
      tokens: this.o.index === false ? [] : [...this.tokens],
      lags: [...this.lags],
    };
    this.events = [];
    this.tokens = new Set();
    this.lags.length = 0;
    return carry;
  }

  /** Earlier invocations' carried traces go first into this invocation's next chunk (and their lags into its freshness). */
  importCarry(carried: readonly unknown[]): void {
    const events: TraceEvent[] = [];
    for (const c of carried as Partial<TraceCarry>[]) {
      if (c?.v !== 1) continue;
      events.push(...(c.events ?? []));
      for (const t of c.tokens ?? []) this.tokens.add(t);
      this.lags.push(...(c.lags ?? []));
    }
    this.events = [...events, ...this.events];
  }

  /** Rows read and not (yet) written: bounded, oldest forgotten first (their lag then goes unmeasured, nothing else). */
  private noteSourceTime(id: string, time: number) {
    if (this.sourceTimes.size >= MAX_SOURCE_TIMES) this.sourceTimes.delete(this.sourceTimes.keys().next().value as string);
    this.sourceTimes.set(id, time);
  }

  /** Lag (posted − source instant) of the documents this run wrote. */
  freshness(): FreshnessStats | undefined {
    return freshnessOf(this.lags);
  }

  /** Writes the pending events as one chunk and the day map when due (`final`: always). */
  async flush(final = false): Promise<void> {
    if (final) await this.saveFreshness();
    if (this.o.index === false) {
      this.events = [];
      this.tokens = new Set();
      return;
    }
    // Mid-run, events wait in memory until DAY_MAP_INTERVAL_MS has passed or MAX_BUFFERED pile up: a chunk then
    // holds several pages (each read event says its window and page), so a page costs less than one write.
    if (!final && this.o.clock.now() - this.lastChunkAt < DAY_MAP_INTERVAL_MS && this.events.length < MAX_BUFFERED) return;
    try {
      if (this.events.length) {
        this.lastChunkAt = this.o.clock.now();
        const at = this.o.clock.now();
        const suffix = `${this.o.runId}:${this.seq++}`;
        const chunk: TraceChunk = {
          v: 1,
          flow: this.o.flowId,
          run: this.o.runId,
          seq: this.seq - 1,
          at,
          events: this.events,
          ...(this.window ? { window: this.window } : {}),
          ...(this.page !== undefined ? { page: this.page } : {}),
        };
        this.events = [];
        await this.o.kv.put(chunkKey(this.o.flowId, suffix), JSON.stringify(chunk), { expirationTtl: TRACE_TTL_SECONDS });
        this.ops.writes++;
        await this.indexChunk(utcDay(at), suffix);
      }
      for (const [d, entry] of this.maps) {
        if (!entry.dirty) continue;
        const now = this.o.clock.now();
        if (!final && now - entry.lastPut < DAY_MAP_INTERVAL_MS) continue;
        const wait = entry.lastPut + KEY_WRITE_INTERVAL_MS - now;
        if (wait > 0) await this.o.clock.sleep(wait);
        await this.o.kv.put(dayKey(this.o.flowId, d), JSON.stringify(entry.map), { expirationTtl: TRACE_TTL_SECONDS });
        this.ops.writes++;
        entry.dirty = false;
        entry.lastPut = this.o.clock.now();
      }
    } catch (error) {
      this.o.logger?.warn("trace write failed; the run goes on without it", {
        flowId: this.o.flowId,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Pools this run's lags into the hour's figures (1 read + 1 write per run that wrote documents). */
  private async saveFreshness() {
    const run = this.freshness();
    if (!run) return;
    this.savedFreshness = run;
    this.lags.length = 0;
    try {
      const now = this.o.clock.now();
      const key = freshnessKey(this.o.flowId, utcDay(now));
      const hour = new Date(now).toISOString().slice(11, 13);
      this.ops.reads++;
      const raw = await this.o.kv.get(key);
      let value: { v: 1; h: Record<string, FreshnessStats> } = { v: 1, h: {} };
      try {
        const parsed = raw ? (JSON.parse(raw) as typeof value) : null;
        if (parsed?.v === 1 && parsed.h && typeof parsed.h === "object") value = parsed;
      } catch {
        /* start the day's figures again */
      }
      value.h[hour] = poolFreshness([value.h[hour], run])!;
      const wait = this.freshnessPut + KEY_WRITE_INTERVAL_MS - this.o.clock.now();
      if (wait > 0) await this.o.clock.sleep(wait);
      await this.o.kv.put(key, JSON.stringify(value), { expirationTtl: 3 * 86_400 });
      this.freshnessPut = this.o.clock.now();
      this.ops.writes++;
    } catch (error) {
      this.o.logger?.warn("freshness write failed; the run goes on without it", {
        flowId: this.o.flowId,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private savedFreshness: FreshnessStats | undefined;
  private freshnessPut = -Infinity;

  /** The figures of the run just recorded (taken by the run record). */
  takeFreshness(): FreshnessStats | undefined {
    const f = this.savedFreshness;
    this.savedFreshness = undefined;
    return f;
  }

  /** The chunk's tokens into the day's map; a full map is closed as a part (written once) and the map starts again. */
  private async indexChunk(dayName: string, suffix: string) {
    const day = await this.dayMap(dayName);
    const index = day.map.c.push(suffix) - 1;
    for (const token of this.tokens) {
      const list = day.map.t[token];
      if (list === undefined) {
        day.map.t[token] = [index];
        day.tokens++;
      } else if (list[list.length - 1] !== index) list.push(index);
    }
    this.tokens = new Set();
    day.dirty = true;
    if (day.tokens < DAY_MAP_MAX_TOKENS) return;
    // The part first, then (with the next map write) the map listing it: killed between, a search sees the tokens twice
    // (its events are de-duplicated), the next run closes them again into a part of its own; nothing is lost.
    const { p, ...full } = day.map;
    await this.o.kv.put(partKey(this.o.flowId, dayName, suffix), JSON.stringify(full), { expirationTtl: TRACE_TTL_SECONDS });
    this.ops.writes++;
    day.map = { v: 1, c: [], t: {}, p: [...(p ?? []), suffix] };
    day.tokens = 0;
  }

  private async dayMap(day: string) {
    let entry = this.maps.get(day);
    if (!entry) {
      const map = parseDayMap(await this.o.kv.get(dayKey(this.o.flowId, day)));
      entry = { map, tokens: Object.keys(map.t).length, dirty: false, lastPut: -Infinity };
      this.ops.reads++;
      this.maps.set(day, entry);
    }
    return entry;
  }
}

/**
 * The engine's source, target and state with the recorder listening: a page read flushes the previous page's
 * events; a ledger save, a dead-letter save and the run record flush too; the run record gets the run's freshness.
 */
export function observeRun<D extends { source: WindowSource; target: TargetConnector; state: EngineState }>(given: D, recorder: TraceRecorder): D {
  // The originals, captured: the caller may assign the result back onto `given`.
  const deps = { source: given.source, target: given.target, state: given.state };
  const source: WindowSource = {
    ...deps.source,
    idOf: (row) => deps.source.idOf(row),
    async *readWindow(window, startPage, resume) {
      for await (const page of deps.source.readWindow(window, startPage, resume)) {
        await recorder.flush();
        recorder.onPage(window, page.pageIndex, page.rows, deps.source);
        yield page;
      }
    },
  };
  if (deps.source.timeOf) source.timeOf = (row) => deps.source.timeOf!(row);
  if (deps.source.clockSkewMs) source.clockSkewMs = () => deps.source.clockSkewMs!();
  const inner = deps.target;
  const target: TargetConnector = {
    system: inner.system,
    write: async (doc, options) => {
      try {
        const result = await inner.write(doc, options);
        recorder.onWritten(doc, result);
        return result;
      } catch (error) {
        recorder.onWriteFailed(doc, error);
        throw error;
      }
    },
  };
  // The optional capabilities stay exactly as present or absent as on the real target (the engine checks them).
  if (inner.writeBatch) target.writeBatch = (docs) => inner.writeBatch!(docs);
  if (inner.readBack) target.readBack = (doc, hint) => inner.readBack!(doc, hint);
  if (inner.findKey) target.findKey = (doc) => inner.findKey!(doc);
  if (inner.contentLines) target.contentLines = (doc) => inner.contentLines!(doc);
  if (inner.probe) target.probe = (operation) => inner.probe!(operation);
  const state: EngineState = {
    ...deps.state,
    ledgerAppend: async (flowId, entries) => {
      await deps.state.ledgerAppend(flowId, entries);
      recorder.onLedger(entries);
      await recorder.flush();
    },
    addDeadLetters: async (flowId, items) => {
      await deps.state.addDeadLetters(flowId, items);
      recorder.onDeadLetters(items);
      await recorder.flush();
    },
    recordRun: async (summary: RunSummary) => {
      recorder.onCorrections(summary.corrections);
      // A continuing invocation (Worker, flow index) carries its trace to the run's last one: no KV write here.
      const continuation = (deps.state as { continuation?: ContinuationPort }).continuation;
      if (await continuation?.carries(summary)) continuation!.keepTrace(recorder.takeCarry());
      else {
        if (continuation) recorder.importCarry(await continuation.carriedTraces().catch(() => []));
        await recorder.flush(true);
      }
      const freshness = recorder.takeFreshness();
      await deps.state.recordRun(freshness ? ({ ...summary, freshness } as RunSummary) : summary);
    },
  };
  return { ...given, source, target, state };
}

// ---------- search ----------

export interface TraceHit extends Omit<TraceChunk, "events" | "v" | "seq"> {
  event: TraceEvent;
}

export interface TraceResult {
  q: string;
  days: number;
  events: Array<TraceEvent & { flow: string; run: string; window?: { from: number; to: number }; page?: number }>;
  /** Per document found that was completed or corrected: its chain (observe/corrections-view.ts). */
  corrections: CorrectionChain[];
  /** KV reads the search made. */
  reads: number;
}

/** Does this event concern the token? (A chunk holds many documents' events.) */
function mentions(e: TraceEvent, q: string): boolean {
  switch (e.t) {
    case "read":
      return e.id === q || Object.values(e.ids ?? {}).includes(q);
    case "write":
      return e.key === q || e.targetId === q || (e.members ?? []).includes(q);
    case "write_failed":
      return e.key === q;
    case "group":
    case "settled":
      return e.key === q || e.members.includes(q);
    case "dead_letter":
      return e.id === q || e.key === q;
    case "correction":
      return e.key === q || e.of === q || e.id === q;
  }
}

/**
 * Every event of the document `q` (any indexed id) over the last `days` UTC days, oldest first. Related ids are
 * followed once: searching an so_id also finds the io_id's read and the document it was written in.
 */
export async function searchTrace(kv: KeyValueStore, flowIds: readonly string[], q: string, options: { now: number; days?: number }): Promise<TraceResult> {
  const days = Math.min(31, Math.max(1, options.days ?? 7));
  const token = q.trim();
  let reads = 0;
  const dayList: string[] = [];
  for (let i = 0; i < days; i++) dayList.push(utcDay(options.now - i * 86_400_000));
  const readMap = async (key: string) => {
    reads++;
    return parseDayMap(await kv.get(key));
  };
  const perDay = await Promise.all(
    flowIds.flatMap((flow) =>
      dayList.map(async (day) => {
        const map = await readMap(dayKey(flow, day));
        const parts = await Promise.all((map.p ?? []).map((suffix) => readMap(partKey(flow, day, suffix))));
        return [map, ...parts].map((m) => ({ flow, map: m }));
      }),
    ),
  );
  const maps = perDay.flat();
  const chunkCache = new Map<string, TraceChunk | null>();
  const loadChunk = async (flow: string, suffix: string) => {
    const key = chunkKey(flow, suffix);
    if (!chunkCache.has(key)) {
      reads++;
      const raw = await kv.get(key);
      chunkCache.set(key, raw ? (JSON.parse(raw) as TraceChunk) : null);
    }
    return chunkCache.get(key) ?? null;
  };
  const out: TraceResult["events"] = [];
  const seen = new Set<string>();
  const collect = async (tok: string) => {
    const related = new Set<string>();
    for (const { flow, map } of maps) {
      for (const i of map.t[tok] ?? []) {
        const suffix = map.c[i];
        if (!suffix) continue;
        const chunk = await loadChunk(flow, suffix);
        if (!chunk) continue;
        chunk.events.forEach((e, n) => {
          if (!mentions(e, tok)) return;
          const id = `${flow}:${suffix}:${n}`;
          if (seen.has(id)) return;
          seen.add(id);
          const { w, p, ...event } = e as TraceEvent & { w?: { from: number; to: number }; p?: number };
          const window = w;
          const page = p;
          out.push({ ...(event as TraceEvent), flow, run: chunk.run, ...(window ? { window } : {}), ...(page !== undefined ? { page } : {}) });
          if (e.t === "read") related.add(e.id);
          if (e.t === "write" || e.t === "settled") {
            related.add(e.key);
            for (const m of e.members ?? []) related.add(m);
          }
          if (e.t === "correction") related.add(e.key).add(e.of).add(e.id);
        });
      }
    }
    return related;
  };
  const related = await collect(token);
  related.delete(token);
  for (const r of [...related].slice(0, 20)) await collect(r);
  out.sort((a, b) => a.at - b.at);
  return { q: token, days, events: out, corrections: correctionChains(out), reads };
}
