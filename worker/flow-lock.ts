/**
 * FlowLock: a SQLite-backed Durable Object, one per flow (addressed with idFromName(flowId)), holding
 * the run lease and a strongly consistent copy of the flow's checkpoint. KV has no compare-and-set and
 * its reads may lag a minute; this object is single-threaded and every method below runs without an
 * await between read and write, so each one is atomic.
 *
 * The lease rules are the shared ones (shared/state/lock.ts). `now` is optional on every method so tests
 * can move time; in production the object's own clock decides.
 */
import { DurableObject } from "cloudflare:workers";
import { checkpointSchema, type Checkpoint } from "../shared/state/records.ts";
import {
  checkLeaseArgs,
  decideAcquire,
  decideRelease,
  decideRenew,
  leaseStatus,
  mayCommit,
  type AcquireResult,
  type LeaseRecord,
  type LeaseStatus,
  type ReleaseResult,
  type RenewResult,
  type StoredCheckpointCopy,
} from "../shared/state/lock.ts";
import type { Env } from "./env.ts";
import type { FlowIndexCommit, FlowIndexCommitResult, FlowIndexSnapshot } from "../shared/state/flow-index.ts";
import { FlowIndexTables } from "./flow-index-do.ts";
import type { IndexCheckpointView } from "../shared/state/checkpoint-view.ts";

type LeaseRow = { flow_id: string; run_id: string; acquired_at: number; expires_at: number; epoch: number | null };
type CheckpointRow = { run_id: string; body: string; saved_at: number };

export class FlowLock extends DurableObject<Env> {
  /** The flow index (worker/flow-index-do.ts): checkpoint, registry, open plans and markers, fenced by the lease. */
  private readonly index: FlowIndexTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS lease (flow_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS checkpoint (flow_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, body TEXT NOT NULL, saved_at INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS fence (flow_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL);`,
    );
    // Objects created before fencing have a lease table without the epoch column.
    const columns = ctx.storage.sql.exec<{ name: string }>("PRAGMA table_info(lease)").toArray();
    if (!columns.some((c) => c.name === "epoch")) ctx.storage.sql.exec("ALTER TABLE lease ADD COLUMN epoch INTEGER");
    this.index = new FlowIndexTables(ctx.storage, (flowId) => this.readLease(flowId));
  }

  loadIndex(flowId: string, groupsSince: number): FlowIndexSnapshot {
    return this.index.load(flowId, groupsSince);
  }

  /** The index's checkpoint in brief (dashboards and alerts: shared/state/checkpoint-view.ts). */
  indexCheckpoint(flowId: string): IndexCheckpointView | null {
    return this.index.checkpointView(flowId);
  }

  /** The traces carried by a continuing run's invocations (shared/state/continuation.ts). */
  loadCarriedTraces(flowId: string): unknown[] {
    return this.index.loadCarriedTraces(flowId);
  }

  /** Forgets the flow's checkpoint, registry, plans and markers: starting a flow over means this too, not only its KV keys.
   * The carry of a continuing run stays until it is written to KV (flow-index-do.ts forget), unless `carry` says the
   * target was started over too (test scenarios). */
  forgetIndex(flowId: string, options: { carry?: boolean } = {}): void {
    this.index.forget(flowId, options.carry === true);
  }

  /** One step of a run, all or nothing, refused unless `runId` holds the lease at `epoch`. */
  commitIndex(flowId: string, runId: string, epoch: number | undefined, commit: FlowIndexCommit, now: number = Date.now()): FlowIndexCommitResult {
    return this.index.commit(flowId, runId, epoch, commit, now);
  }

  acquire(flowId: string, runId: string, leaseMs: number, now: number = Date.now()): AcquireResult {
    const last = this.ctx.storage.sql.exec<{ epoch: number }>("SELECT epoch FROM fence WHERE flow_id = ?", flowId).toArray()[0]?.epoch ?? 0;
    const { result, next } = decideAcquire(this.readLease(flowId), flowId, runId, leaseMs, now, last);
    if (next) {
      this.writeLease(next);
      // Kept apart from the lease (which release deletes), so the epoch never goes back.
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO fence (flow_id, epoch) VALUES (?, ?)", flowId, next.epoch!);
    }
    return result;
  }

  renew(flowId: string, runId: string, leaseMs: number, now: number = Date.now(), epoch?: number): RenewResult {
    const { result, next } = decideRenew(this.readLease(flowId), flowId, runId, leaseMs, now, epoch);
    if (next) this.writeLease(next);
    return result;
  }

  release(flowId: string, runId: string): ReleaseResult {
    const result = decideRelease(this.readLease(flowId), flowId, runId);
    if (result.released) this.ctx.storage.sql.exec("DELETE FROM lease WHERE flow_id = ?", flowId);
    return result;
  }

  inspect(flowId: string, now: number = Date.now()): LeaseStatus {
    return leaseStatus(this.readLease(flowId), now);
  }

  /** Stores the checkpoint copy when `runId` holds the lease; a run that lost it cannot move the watermark. */
  commit(flowId: string, runId: string, checkpoint: Checkpoint, now: number = Date.now(), epoch?: number): { committed: boolean; holder?: string } {
    checkLeaseArgs(flowId, runId);
    const parsed = checkpointSchema.safeParse(checkpoint);
    if (!parsed.success) throw new Error(`FlowLock.commit: invalid checkpoint (${parsed.error.issues[0]?.message ?? "invalid"})`);
    const current = this.readLease(flowId);
    if (!mayCommit(current, runId, epoch)) return current ? { committed: false, holder: current.runId } : { committed: false };
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO checkpoint (flow_id, run_id, body, saved_at) VALUES (?, ?, ?, ?)",
      flowId,
      runId,
      JSON.stringify(parsed.data),
      now,
    );
    return { committed: true };
  }

  read(flowId: string): StoredCheckpointCopy | null {
    const rows = this.ctx.storage.sql.exec<CheckpointRow>("SELECT run_id, body, saved_at FROM checkpoint WHERE flow_id = ?", flowId).toArray();
    const row = rows[0];
    if (!row) return null;
    return { checkpoint: JSON.parse(row.body) as Checkpoint, runId: row.run_id, savedAt: row.saved_at };
  }

  private readLease(flowId: string): LeaseRecord | null {
    const row = this.ctx.storage.sql.exec<LeaseRow>("SELECT flow_id, run_id, acquired_at, expires_at, epoch FROM lease WHERE flow_id = ?", flowId).toArray()[0];
    return row
      ? { flowId: row.flow_id, runId: row.run_id, acquiredAt: row.acquired_at, expiresAt: row.expires_at, ...(row.epoch !== null ? { epoch: row.epoch } : {}) }
      : null;
  }

  private writeLease(lease: LeaseRecord): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO lease (flow_id, run_id, acquired_at, expires_at, epoch) VALUES (?, ?, ?, ?, ?)",
      lease.flowId,
      lease.runId,
      lease.acquiredAt,
      lease.expiresAt,
      lease.epoch ?? null,
    );
  }
}
