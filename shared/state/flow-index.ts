/**
 * The flow index: the strongly consistent home of what a run must never read stale (issue 12 items 2 and 7,
 * engine-review findings 2, 3 and 10). KV reads and lists may be up to ~60 s old
 * (https://developers.cloudflare.com/kv/concepts/how-kv-works/), so a run that starts within a minute of another
 * could miss an open merge plan, a group registry entry, a write marker or the latest checkpoint, and re-plan a
 * started group or rebuild a written one. The index keeps, per flow:
 *   - the checkpoint (authoritative; the KV checkpoint becomes a read-only view),
 *   - the group registry (`group:<key>` entries, merged as a union: members, max supplement number),
 *   - the open outbox plans (merge plans not yet settled), one row per part,
 *   - the write markers (runs whose writes are not known to be settled),
 * and takes every change of one run step in ONE commit that carries the lease's epoch and is refused for a stale
 * epoch (the lease check and the write are one atomic step: a run that lost the lease changes nothing).
 *
 * The Worker implements it in the flow's Durable Object next to the lease (worker/flow-index-do.ts). Hosts without
 * one (CLI, Action: file or KV-REST state) keep their KV implementation of these four (state-store.ts,
 * outbox-store.ts, write-marker.ts): a file store is strongly consistent on its one host; over KV REST the guarantee
 * is KV's (eventual), guarded by the lease record, the targets' key uniqueness and read-back verification.
 * `MemoryFlowCoordinator` below is the same rules in memory (tests, benchmarks): a model of the Durable Object.
 */
import type { Checkpoint } from "../engine/types.ts";
import { systemClock, type Clock } from "../ports.ts";
import { mayCommit, MemoryFlowLock, type AcquireResult, type ReleaseResult, type RenewResult } from "./lock.ts";
import { briefCheckpoint, type IndexCheckpointView } from "./checkpoint-view.ts";
import type { OutboxPlan } from "./outbox-store.ts";
import type { LedgerEntry } from "./records.ts";

/** What a run loads from the index once, at its start (one request). */
export interface FlowIndexSnapshot {
  /** False until the first commit of a checkpoint: the host then migrates from its KV state (read once). */
  initialized: boolean;
  checkpoint: Checkpoint | null;
  /** Registry entries (`group:<key>` ledger entries) written since `groupsSince`. */
  groups: LedgerEntry[];
  /** Open merge plans. */
  plans: OutboxPlan[];
  /** Run ids whose writes are not known to be settled. */
  markers: string[];
  /** What earlier invocations of a continuing run left here instead of in KV (continuation.ts); the trace part is read by loadCarry. */
  carry?: CarrySummary;
}

/** A continuation invocation's run record, kept in the index until its run ends (the last invocation's KV record sums them). */
export interface CarriedRun {
  runId: string;
  startedAt: number;
  finishedAt: number;
  outcome: string;
  counts: Record<string, number>;
  subrequests: number;
  continues: boolean;
  /** The windows the invocation read (what a dashboard or a test checks coverage with). */
  windows: Array<{ from: number; to: number; complete: boolean }>;
}

/** What one invocation that continues leaves in the index instead of writing KV keys (continuation.ts). */
export interface CarryCommit {
  /** Ledger entries (the KV ledger gets them in one segment when the run ends). */
  ledger?: LedgerEntry[];
  /** The invocation's unwritten trace (observe/trace.ts: events, tokens, freshness lags), opaque here. */
  trace?: unknown;
  /** The invocation's run record, compact. */
  run?: CarriedRun;
}

/** The carried ledger and run records (loaded with the index) and the size of everything carried. */
export interface CarrySummary {
  ledger: LedgerEntry[];
  runs: CarriedRun[];
  /** Characters of JSON carried (ledger, trace and runs): the run flushes to KV before it grows past a bound. */
  chars: number;
}

/** Everything one step of a run changes, committed at once under the lease's epoch. */
export interface FlowIndexCommit {
  checkpoint?: Checkpoint;
  /** Registry entries to merge in (union of members, max supplements; never last-writer-wins). */
  groups?: LedgerEntry[];
  /** Plans to store (before the first part of a group is written). */
  openPlans?: OutboxPlan[];
  /** Units of plans that are settled (every part written or dead-lettered). */
  closePlans?: string[];
  /** Marks this run's writes in flight. */
  mark?: { at: number };
  /** Markers of earlier runs that are settled now. */
  clearMarkers?: string[];
  /** Kept for the next invocation of a continuing run (continuation.ts). */
  carry?: CarryCommit;
  /** These kinds of carried rows are in KV now: forgotten here (before the commit's own carry is added). */
  dropCarry?: Array<keyof CarryCommit>;
}

export interface FlowIndexCommitResult {
  committed: boolean;
  /** The lease holder when refused. */
  holder?: string;
}

export interface FlowIndexPort {
  loadIndex(flowId: string, options: { groupsSince: number }): Promise<FlowIndexSnapshot>;
  /** Refused (nothing changes) unless `runId` holds the flow's lease at `epoch`. */
  commitIndex(flowId: string, runId: string, epoch: number | undefined, commit: FlowIndexCommit): Promise<FlowIndexCommitResult>;
  /** The carried traces, oldest first (read once, by the invocation that writes them to KV). */
  loadCarriedTraces(flowId: string): Promise<unknown[]>;
}

export function isFlowIndex(value: unknown): value is FlowIndexPort {
  const v = value as Partial<FlowIndexPort> | null;
  return typeof v?.loadIndex === "function" && typeof v.commitIndex === "function" && typeof v.loadCarriedTraces === "function";
}

/** How far back a run loads registry entries: groups older than this are also in the KV ledger (and verified in the target). */
export const REGISTRY_LOAD_DAYS = 62;

/**
 * Two registry entries of one group: members as a union, the larger supplement count, the newer entry's other fields
 * (a record shape later fields can extend). A writer whose clock runs ahead cannot hide another's members.
 */
export function mergeGroupEntry(current: LedgerEntry | undefined, next: LedgerEntry): LedgerEntry {
  if (!current) return { ...next, members: [...new Set(next.members ?? [])] };
  const newer = next.writtenAt >= current.writtenAt ? next : current;
  return {
    ...newer,
    members: [...new Set([...(current.members ?? []), ...(next.members ?? [])])],
    supplements: Math.max(current.supplements ?? 0, next.supplements ?? 0),
    writtenAt: Math.max(current.writtenAt, next.writtenAt),
  };
}

/**
 * Spools up to this size stay inside the checkpoint in the index (an unmerged flow's page: tens of KB), so a budget
 * stop writes nothing to KV; a merged flow's day spool (megabytes) still goes to KV chunks (spool-store.ts), which
 * keeps a load's answer small.
 */
export const INDEX_INLINE_SPOOL_BYTES = 512 * 1024;

/** SQLite-backed Durable Objects take at most 2 MB per string or row (developers.cloudflare.com/durable-objects/platform/limits/). */
export const INDEX_CHUNK_CHARS = 500_000; // ≤ 1.5 MB of UTF-8 per row

export function chunkText(text: string, size = INDEX_CHUNK_CHARS): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

// ---------- in-memory model (tests, benchmarks) ----------

interface MemoryIndex {
  checkpoint: Checkpoint | null;
  groups: Map<string, { entry: LedgerEntry; at: number }>;
  plans: Map<string, OutboxPlan>;
  markers: Map<string, number>;
}

type CarryRow = { kind: keyof CarryCommit; body: string };

/**
 * MemoryFlowLock plus the flow index, with the Durable Object's rules: one process's strongly consistent
 * coordinator. `rows()` counts the storage rows the SQLite object would read and write for the same calls.
 */
export class MemoryFlowCoordinator extends MemoryFlowLock implements FlowIndexPort {
  private readonly indexes = new Map<string, MemoryIndex>();
  /**
   * Carried rows per flow, apart from the index (as the lease is): they are the only copy of what a continuing run
   * wrote, so a reset index (FlowLock.forgetIndex; a test deleting the flow's index entry) keeps them (adv18).
   */
  private readonly carries = new Map<string, CarryRow[]>();
  private readonly clockRef: Clock;
  private rowsRead = 0;
  private rowsWritten = 0;

  constructor(clock: Clock = systemClock) {
    super(clock);
    this.clockRef = clock;
  }

  rows(): { read: number; written: number } {
    return { read: this.rowsRead, written: this.rowsWritten };
  }

  override async acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult> {
    const result = await super.acquire(flowId, runId, leaseMs);
    this.rowsRead += 2;
    if (result.acquired) this.rowsWritten += 2;
    return result;
  }

  override async renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult> {
    const result = await super.renew(flowId, runId, leaseMs, epoch);
    this.rowsRead++;
    if (result.renewed) this.rowsWritten++;
    return result;
  }

  override async release(flowId: string, runId: string): Promise<ReleaseResult> {
    const result = await super.release(flowId, runId);
    this.rowsRead++;
    if (result.released) this.rowsWritten++;
    return result;
  }

  async loadIndex(flowId: string, options: { groupsSince: number }): Promise<FlowIndexSnapshot> {
    const index = this.indexes.get(flowId);
    const rows = this.carries.get(flowId) ?? [];
    const carry = rows.length ? { carry: summarizeCarry(rows) } : {};
    this.rowsRead += rows.length;
    if (!index) {
      this.rowsRead++;
      return structuredClone({ initialized: false, checkpoint: null, groups: [], plans: [], markers: [], ...carry });
    }
    const groups = [...index.groups.values()].filter((g) => g.at >= options.groupsSince).map((g) => g.entry);
    this.rowsRead += 1 + groups.length + index.markers.size + [...index.plans.values()].reduce((n, p) => n + 1 + p.parts.length, 0);
    return structuredClone({
      initialized: index.checkpoint !== null,
      checkpoint: index.checkpoint,
      groups,
      plans: [...index.plans.values()],
      markers: [...index.markers.keys()],
      ...carry,
    });
  }

  async commitIndex(flowId: string, runId: string, epoch: number | undefined, commit: FlowIndexCommit): Promise<FlowIndexCommitResult> {
    const lease = this.leases.get(flowId) ?? null;
    this.rowsRead++;
    if (!mayCommit(lease, runId, epoch)) return lease ? { committed: false, holder: lease.runId } : { committed: false };
    let index = this.indexes.get(flowId);
    if (!index) this.indexes.set(flowId, (index = { checkpoint: null, groups: new Map(), plans: new Map(), markers: new Map() }));
    const c = structuredClone(commit);
    const now = this.clockRef.now();
    if (c.checkpoint) {
      index.checkpoint = c.checkpoint;
      this.rowsWritten += chunkText(JSON.stringify(c.checkpoint)).length;
    }
    for (const g of c.groups ?? []) {
      this.rowsRead++;
      this.rowsWritten++;
      index.groups.set(g.externalKey, { entry: mergeGroupEntry(index.groups.get(g.externalKey)?.entry, g), at: now });
    }
    for (const p of c.openPlans ?? []) {
      this.rowsWritten += 1 + p.parts.length;
      index.plans.set(p.unit, p);
    }
    for (const unit of c.closePlans ?? []) {
      const plan = index.plans.get(unit);
      if (plan) this.rowsWritten += 1 + plan.parts.length;
      index.plans.delete(unit);
    }
    if (c.mark) {
      this.rowsWritten++;
      index.markers.set(runId, c.mark.at);
    }
    for (const id of c.clearMarkers ?? []) {
      if (index.markers.delete(id)) this.rowsWritten++;
    }
    this.commitCarry(flowId, c);
    return { committed: true };
  }

  private commitCarry(flowId: string, c: FlowIndexCommit): void {
    let rows = this.carries.get(flowId) ?? [];
    if (c.dropCarry) {
      const drop = new Set<string>(c.dropCarry);
      this.rowsWritten += rows.filter((r) => drop.has(r.kind)).length;
      rows = rows.filter((r) => !drop.has(r.kind));
    }
    for (const kind of ["ledger", "trace", "run"] as const) {
      if (c.carry?.[kind] === undefined) continue;
      const body = JSON.stringify(c.carry[kind]);
      this.rowsWritten += chunkText(body).length;
      rows.push({ kind, body });
    }
    if (rows.length) this.carries.set(flowId, rows);
    else this.carries.delete(flowId);
  }

  /** The index's checkpoint in brief (dashboards, alerts: state/checkpoint-view.ts). */
  async indexCheckpoint(flowId: string): Promise<IndexCheckpointView | null> {
    this.rowsRead++;
    return briefCheckpoint(structuredClone(this.indexes.get(flowId)?.checkpoint ?? null));
  }

  async loadCarriedTraces(flowId: string): Promise<unknown[]> {
    const rows = (this.carries.get(flowId) ?? []).filter((r) => r.kind === "trace");
    this.rowsRead += Math.max(1, rows.length);
    return rows.map((r) => JSON.parse(r.body) as unknown);
  }
}

/** The index's carried rows as the snapshot's summary (ledger and runs parsed; traces only counted). */
export function summarizeCarry(rows: ReadonlyArray<{ kind: string; body: string; chars?: number }>): CarrySummary {
  const out: CarrySummary = { ledger: [], runs: [], chars: 0 };
  for (const r of rows) {
    out.chars += r.chars ?? r.body.length;
    if (r.kind === "ledger") out.ledger.push(...(JSON.parse(r.body) as LedgerEntry[]));
    else if (r.kind === "run") out.runs.push(JSON.parse(r.body) as CarriedRun);
  }
  return out;
}
