/**
 * The per-flow run lease. KV has no compare-and-set, so overlapping runs of one flow (a slow cron run and
 * the next tick, a cron run and an HTTP-triggered one) are excluded by a lease held in one place that is
 * strongly consistent: a Durable Object per flow in the Worker (worker/flow-lock.ts), memory in the CLI/tests.
 *
 * The rules live here as pure functions so the Durable Object and the in-memory lock cannot drift:
 *  - acquire: succeeds when nobody holds the lease or when it expired; not re-entrant (a re-delivered event with
 *    the same run id must not run twice at once; engine-review finding 10);
 *  - renew: only the holder, and only while nobody else has taken the lease over;
 *  - release: only the holder; a non-holder's release is refused;
 *  - commit (checkpoint copy): only the holder, so a run that lost its lease cannot move the watermark;
 *  - fencing: every acquire issues an epoch larger than any before it for the flow (max(previous + 1, now in ms));
 *    renew and commit given an epoch are refused unless it is the current lease's, so a run whose lease was taken
 *    over — also by a re-delivery of its own event, which has the same run id — is stopped (engine-review finding 10).
 */
import { BridgeError, ConfigError } from "../errors.ts";
import { systemClock, type Clock } from "../ports.ts";
import type { Checkpoint } from "./records.ts";

/** Longest lease accepted: a Worker invocation lasts at most 15 minutes, a CLI backfill longer. */
export const MAX_LEASE_MS = 24 * 60 * 60 * 1000;

export interface LeaseRecord {
  flowId: string;
  runId: string;
  acquiredAt: number;
  expiresAt: number;
  /** Fencing token (absent in records written before epochs existed: counts as 0). */
  epoch?: number;
}

export interface AcquireResult {
  acquired: boolean;
  /** The run holding the lease after the call (the caller when acquired). */
  holder?: string;
  /** When that lease ends (epoch ms). */
  expiresAt: number;
  /** Set when an expired lease of another run was taken over. */
  tookOverFrom?: string;
  /** The fencing token of the lease just acquired: renewals and commits carry it. */
  epoch?: number;
}

export interface RenewResult {
  renewed: boolean;
  holder?: string;
  expiresAt: number;
}

export interface ReleaseResult {
  released: boolean;
  /** Who holds it when the release was refused (absent when nobody does). */
  holder?: string;
}

export interface LeaseStatus {
  holder?: string;
  expiresAt?: number;
  expired: boolean;
}

export interface FlowLockPort {
  acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult>;
  /** With `epoch`: refused unless the current lease has that epoch (fencing). */
  renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult>;
  release(flowId: string, runId: string): Promise<ReleaseResult>;
  /** Current lease, for dashboards and diagnostics. */
  inspect(flowId: string): Promise<LeaseStatus>;
}

export interface StoredCheckpointCopy {
  checkpoint: Checkpoint;
  runId: string;
  savedAt: number;
}

/** A strongly consistent copy of the checkpoint, next to the lease (KV reads may lag by a minute). */
export interface CheckpointMirrorPort {
  commit(flowId: string, runId: string, checkpoint: Checkpoint, epoch?: number): Promise<{ committed: boolean; holder?: string }>;
  read(flowId: string): Promise<StoredCheckpointCopy | null>;
}

export type FlowCoordinator = FlowLockPort & CheckpointMirrorPort;

// ---------- the rules ----------

export function checkLeaseArgs(flowId: string, runId: string, leaseMs?: number): void {
  if (typeof flowId !== "string" || flowId.length === 0 || flowId.length > 256) {
    throw new ConfigError(`Invalid flow id for the lock: ${JSON.stringify(flowId)}`, { hint: "Pass the flow's id (1–256 characters)." });
  }
  if (typeof runId !== "string" || runId.length === 0 || runId.length > 256) {
    throw new ConfigError(`Invalid run id for the lock: ${JSON.stringify(runId)}`, { hint: "Pass the run's id (1–256 characters)." });
  }
  if (leaseMs !== undefined && (!Number.isFinite(leaseMs) || leaseMs <= 0 || leaseMs > MAX_LEASE_MS)) {
    throw new ConfigError(`Invalid lease length ${leaseMs} ms`, {
      hint: `Use a lease between 1 ms and ${MAX_LEASE_MS} ms (24 h), longer than one run's wall time.`,
    });
  }
}

export function isLive(lease: LeaseRecord | null, now: number): lease is LeaseRecord {
  return lease !== null && lease.expiresAt > now;
}

export function decideAcquire(
  current: LeaseRecord | null,
  flowId: string,
  runId: string,
  leaseMs: number,
  now: number,
  /** The last epoch issued for the flow when the store keeps it apart from the lease (a released lease is deleted). */
  lastEpoch = 0,
): { result: AcquireResult; next: LeaseRecord | null } {
  checkLeaseArgs(flowId, runId, leaseMs);
  if (isLive(current, now)) {
    return { result: { acquired: false, holder: current.runId, expiresAt: current.expiresAt }, next: null };
  }
  // An expired lease (of another run, or of this run id's earlier delivery) is taken over: the new holder recovers.
  const expired = current as LeaseRecord | null;
  const epoch = Math.max((expired?.epoch ?? 0) + 1, lastEpoch + 1, now);
  const next: LeaseRecord = { flowId, runId, acquiredAt: now, expiresAt: now + leaseMs, epoch };
  const result: AcquireResult = { acquired: true, holder: runId, expiresAt: next.expiresAt, epoch };
  if (expired) result.tookOverFrom = expired.runId;
  return { result, next };
}

export function decideRenew(
  current: LeaseRecord | null,
  flowId: string,
  runId: string,
  leaseMs: number,
  now: number,
  epoch?: number,
): { result: RenewResult; next: LeaseRecord | null } {
  checkLeaseArgs(flowId, runId, leaseMs);
  // Nobody else has taken it over, even if it lapsed: extending is safe.
  if (current && current.runId === runId && sameEpoch(current, epoch)) {
    const next = { ...current, expiresAt: now + leaseMs };
    return { result: { renewed: true, holder: runId, expiresAt: next.expiresAt }, next };
  }
  const result: RenewResult = { renewed: false, expiresAt: current?.expiresAt ?? 0 };
  if (current) result.holder = current.runId;
  return { result, next: null };
}

export function decideRelease(current: LeaseRecord | null, flowId: string, runId: string): ReleaseResult {
  checkLeaseArgs(flowId, runId);
  if (current && current.runId === runId) return { released: true };
  return current ? { released: false, holder: current.runId } : { released: false };
}

export function leaseStatus(current: LeaseRecord | null, now: number): LeaseStatus {
  if (!current) return { expired: false };
  return { holder: current.runId, expiresAt: current.expiresAt, expired: current.expiresAt <= now };
}

/** Commits are taken from the current lease holder only (expired but not taken over still counts). */
export function mayCommit(current: LeaseRecord | null, runId: string, epoch?: number): boolean {
  return current !== null && current.runId === runId && sameEpoch(current, epoch);
}

/** No epoch given (callers from before fencing): the run id decides alone. */
function sameEpoch(current: LeaseRecord, epoch: number | undefined): boolean {
  return epoch === undefined || (current.epoch ?? 0) === epoch;
}

// ---------- in-memory implementation (CLI, tests) ----------

/** One process's lock: enough for a CLI run or a test; it does not exclude another process. */
export class MemoryFlowLock implements FlowCoordinator {
  /** Protected: the flow index model (flow-index.ts) checks commits against the same leases. */
  protected readonly leases = new Map<string, LeaseRecord>();
  private readonly checkpoints = new Map<string, StoredCheckpointCopy>();
  private readonly epochs = new Map<string, number>();
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  async acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult> {
    const { result, next } = decideAcquire(this.leases.get(flowId) ?? null, flowId, runId, leaseMs, this.clock.now(), this.epochs.get(flowId));
    if (next) {
      this.leases.set(flowId, next);
      this.epochs.set(flowId, next.epoch!);
    }
    return result;
  }

  async renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult> {
    const { result, next } = decideRenew(this.leases.get(flowId) ?? null, flowId, runId, leaseMs, this.clock.now(), epoch);
    if (next) this.leases.set(flowId, next);
    return result;
  }

  async release(flowId: string, runId: string): Promise<ReleaseResult> {
    const result = decideRelease(this.leases.get(flowId) ?? null, flowId, runId);
    if (result.released) this.leases.delete(flowId);
    return result;
  }

  async inspect(flowId: string): Promise<LeaseStatus> {
    return leaseStatus(this.leases.get(flowId) ?? null, this.clock.now());
  }

  async commit(flowId: string, runId: string, checkpoint: Checkpoint, epoch?: number): Promise<{ committed: boolean; holder?: string }> {
    checkLeaseArgs(flowId, runId);
    const current = this.leases.get(flowId) ?? null;
    if (!mayCommit(current, runId, epoch)) return current ? { committed: false, holder: current.runId } : { committed: false };
    this.checkpoints.set(flowId, { checkpoint: structuredClone(checkpoint), runId, savedAt: this.clock.now() });
    return { committed: true };
  }

  async read(flowId: string): Promise<StoredCheckpointCopy | null> {
    const copy = this.checkpoints.get(flowId);
    return copy ? structuredClone(copy) : null;
  }
}

// ---------- helper ----------

/**
 * Runs `task` while holding the flow's lease: acquire, run, release (also on failure). When another run
 * holds a live lease, throws `flow_locked` (not retryable: the other run is doing the work).
 */
export async function withFlowLease<T>(
  lock: FlowLockPort,
  flowId: string,
  runId: string,
  leaseMs: number,
  task: (lease: AcquireResult) => Promise<T>,
): Promise<T> {
  const lease = await lock.acquire(flowId, runId, leaseMs);
  if (!lease.acquired) {
    throw new BridgeError(
      "flow_locked",
      `Flow ${flowId} is already running (run ${lease.holder ?? "unknown"}, lease until ${new Date(lease.expiresAt).toISOString()})`,
      {
        hint: "Wait for that run to finish; a crashed run's lease expires on its own.",
        details: { flowId, holder: lease.holder, expiresAt: lease.expiresAt },
      },
    );
  }
  try {
    return await task(lease);
  } finally {
    await lock.release(flowId, runId);
  }
}
