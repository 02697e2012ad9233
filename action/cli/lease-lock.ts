/**
 * The CLI's run lease. The Worker excludes overlapping runs of a flow with a Durable Object; the CLI and
 * the Action cannot reach it, so they keep a lease record in the same state they sync with (`lease:<flow>`
 * in the file directory or the KV namespace) and combine it with MemoryFlowLock for runs inside one process.
 *
 * Best effort, by necessity: KV has no compare-and-set. Acquiring reads the record, writes ours when it is
 * free or expired, and reads it back; two hosts that do this within the same moment (or in two locations
 * during KV's ~60 s propagation) can both believe they hold it. That is tolerable because the lease is not
 * what keeps data right: range runs never move the watermark, the shared ledger skips written documents,
 * and the targets refuse a second document with the same external key (T+ ExternalCode, KIS FBillNo).
 * The lease keeps two backfills of the same range from doing the same work twice and from racing on
 * the watermark of incremental runs. A crashed run's record expires with its lease (KV TTL too).
 */
import type { Clock, KeyValueStore } from "../../shared/ports.ts";
import {
  type AcquireResult,
  decideAcquire,
  decideRelease,
  decideRenew,
  type FlowLockPort,
  type LeaseRecord,
  type LeaseStatus,
  leaseStatus,
  MemoryFlowLock,
  type ReleaseResult,
  type RenewResult,
} from "../../shared/state/lock.ts";

export const LEASE_PREFIX = "lease:";

export class StateLeaseLock implements FlowLockPort {
  private readonly kv: KeyValueStore;
  private readonly clock: Clock;
  private readonly scope: string | undefined;

  /** `scope` narrows the lease (a backfill range): disjoint ranges of one flow may run side by side. */
  constructor(kv: KeyValueStore, clock: Clock, scope?: string) {
    this.kv = kv;
    this.clock = clock;
    this.scope = scope;
  }

  key(flowId: string): string {
    return `${LEASE_PREFIX}${flowId}${this.scope ? `:${this.scope}` : ""}`;
  }

  private async read(flowId: string): Promise<LeaseRecord | null> {
    const raw = await this.kv.get(this.key(flowId));
    if (raw === null) return null;
    try {
      const record = JSON.parse(raw) as LeaseRecord;
      return typeof record.runId === "string" && typeof record.expiresAt === "number" ? record : null;
    } catch {
      return null; // a damaged record is treated as no lease
    }
  }

  private async write(flowId: string, record: LeaseRecord): Promise<void> {
    // KV's smallest TTL is 60 s; the record outlives the lease a little and is ignored once expired.
    const ttl = Math.max(60, Math.ceil((record.expiresAt - this.clock.now()) / 1000) + 60);
    await this.kv.put(this.key(flowId), JSON.stringify(record), { expirationTtl: ttl });
  }

  async acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult> {
    const { result, next } = decideAcquire(await this.read(flowId), flowId, runId, leaseMs, this.clock.now());
    if (!next) return result;
    await this.write(flowId, next);
    // Read back: when another host wrote after us, last write wins and it holds the lease.
    const back = await this.read(flowId);
    if (back && back.runId !== runId) return { acquired: false, holder: back.runId, expiresAt: back.expiresAt };
    return result;
  }

  async renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult> {
    const { result, next } = decideRenew(await this.read(flowId), flowId, runId, leaseMs, this.clock.now(), epoch);
    if (next) await this.write(flowId, next);
    return result;
  }

  async release(flowId: string, runId: string): Promise<ReleaseResult> {
    const result = decideRelease(await this.read(flowId), flowId, runId);
    if (result.released) await this.kv.delete(this.key(flowId));
    return result;
  }

  async inspect(flowId: string): Promise<LeaseStatus> {
    return leaseStatus(await this.read(flowId), this.clock.now());
  }
}

/** The in-process lock first (cheap, exact), then the shared lease record. */
export class CombinedFlowLock implements FlowLockPort {
  readonly memory: FlowLockPort;
  readonly shared: FlowLockPort;
  private readonly scope: string | undefined;

  /** `scope` as in StateLeaseLock: the in-process lease is narrowed the same way. */
  constructor(memory: FlowLockPort, shared: FlowLockPort, scope?: string) {
    this.memory = memory;
    this.shared = shared;
    this.scope = scope;
  }

  private local(flowId: string): string {
    return this.scope ? `${flowId}:${this.scope}` : flowId;
  }

  async acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult> {
    const local = await this.memory.acquire(this.local(flowId), runId, leaseMs);
    if (!local.acquired) return local;
    try {
      const shared = await this.shared.acquire(flowId, runId, leaseMs);
      if (!shared.acquired) await this.memory.release(this.local(flowId), runId);
      return shared;
    } catch (error) {
      await this.memory.release(this.local(flowId), runId);
      throw error;
    }
  }

  async renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult> {
    await this.memory.renew(this.local(flowId), runId, leaseMs);
    return this.shared.renew(flowId, runId, leaseMs, epoch);
  }

  async release(flowId: string, runId: string): Promise<ReleaseResult> {
    await this.memory.release(this.local(flowId), runId);
    return this.shared.release(flowId, runId);
  }

  inspect(flowId: string): Promise<LeaseStatus> {
    return this.shared.inspect(flowId);
  }
}

/** One MemoryFlowLock per process: two commands run by one process (tests, the Action) exclude each other. */
const processLocks = new WeakMap<Clock, MemoryFlowLock>();
export function processLock(clock: Clock): MemoryFlowLock {
  let lock = processLocks.get(clock);
  if (!lock) processLocks.set(clock, (lock = new MemoryFlowLock(clock)));
  return lock;
}

/**
 * A lease the caller already holds, handed to the runner for each window of a backfill: "acquiring" it
 * reports the held lease (including a take-over from a crashed run, so writes verify first), releasing it
 * is left to the caller, who releases once after the last window.
 */
export function heldLease(held: AcquireResult, lock: FlowLockPort): FlowLockPort {
  return {
    acquire: async () => ({ ...held }),
    // Window runs carry their own run ids; the lease they work under is the sync's (held.holder).
    renew: (flowId, runId, leaseMs, epoch) => lock.renew(flowId, held.holder ?? runId, leaseMs, epoch),
    release: async () => ({ released: true }),
    inspect: (flowId) => lock.inspect(flowId),
  };
}

/** Run ids the Worker makes (worker/scheduled.ts, services.ts, queue.ts): `…-cron`, `…-http`, `…-q<n>-<msg>`. */
const WORKER_RUN_ID = /-(cron|http)(-q\d+-[A-Za-z0-9_.-]*)?$/;

/**
 * The run id of the Worker run that saved the flow's checkpoint, when a Worker runs this flow. The CLI cannot take
 * the Worker's Durable Object lease, so an incremental CLI sync of such a flow would race the cron on the watermark
 * and the merge registry (engine-review finding 10): the CLI refuses it (range backfills never move the watermark).
 */
export function workerOwner(checkpoint: { runId?: string } | null): string | undefined {
  const runId = checkpoint?.runId;
  return typeof runId === "string" && WORKER_RUN_ID.test(runId) ? runId : undefined;
}
