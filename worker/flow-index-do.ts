/**
 * The flow index (shared/state/flow-index.ts) in the FlowLock Durable Object's SQLite storage, next to the lease, so
 * the epoch check and the write are one atomic step (`transactionSync`: all or nothing, no await inside).
 *
 * Tables (one object per flow, but keyed by flow id like the lease):
 *   idx_checkpoint (flow_id, seq, run_id, body, saved_at)    the checkpoint JSON in ≤ 500,000-character chunks
 *   idx_group      (flow_id, group_key, body, updated_at)    registry entries, merged as a union on commit
 *   idx_plan       (flow_id, unit, seq, body)                open merge plans, chunked like the checkpoint
 *   idx_marker     (flow_id, run_id, at)                     runs whose writes are not known to be settled
 *   idx_carry      (flow_id, seq, part, kind, body)          what invocations of a continuing run keep here instead of
 *                                                           in KV (ledger entries, trace, compact run records), chunked
 * SQLite-backed objects take at most 2 MB per string or row (https://developers.cloudflare.com/durable-objects/platform/limits/);
 * chunks keep every row under it whatever a cursor or a plan grows to.
 * Costs (billed as rows read/written, https://developers.cloudflare.com/durable-objects/platform/pricing): a load reads
 * the flow's rows (checkpoint chunks, registry entries of the last REGISTRY_LOAD_DAYS, open plans, markers); a commit
 * reads the lease row and writes one row per checkpoint chunk, registry entry, plan chunk and marker it carries.
 */
import {
  chunkText,
  type FlowIndexCommit,
  type FlowIndexCommitResult,
  type FlowIndexSnapshot,
  mergeGroupEntry,
  summarizeCarry,
} from "../shared/state/flow-index.ts";
import { briefCheckpoint, type IndexCheckpointView } from "../shared/state/checkpoint-view.ts";
import { checkLeaseArgs, mayCommit, type LeaseRecord } from "../shared/state/lock.ts";
import type { Checkpoint } from "../shared/engine/types.ts";
import type { OutboxPlan } from "../shared/state/outbox-store.ts";
import type { LedgerEntry } from "../shared/state/records.ts";

export const FLOW_INDEX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS idx_checkpoint (flow_id TEXT NOT NULL, seq INTEGER NOT NULL, run_id TEXT NOT NULL, body TEXT NOT NULL, saved_at INTEGER NOT NULL, PRIMARY KEY (flow_id, seq));
  CREATE TABLE IF NOT EXISTS idx_group (flow_id TEXT NOT NULL, group_key TEXT NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (flow_id, group_key));
  CREATE TABLE IF NOT EXISTS idx_plan (flow_id TEXT NOT NULL, unit TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (flow_id, unit, seq));
  CREATE TABLE IF NOT EXISTS idx_marker (flow_id TEXT NOT NULL, run_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (flow_id, run_id));
  CREATE TABLE IF NOT EXISTS idx_carry (flow_id TEXT NOT NULL, seq INTEGER NOT NULL, part INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (flow_id, seq, part));`;

export class FlowIndexTables {
  private readonly storage: DurableObjectStorage;
  private readonly readLease: (flowId: string) => LeaseRecord | null;

  constructor(storage: DurableObjectStorage, readLease: (flowId: string) => LeaseRecord | null) {
    this.storage = storage;
    this.readLease = readLease;
    storage.sql.exec(FLOW_INDEX_SCHEMA);
  }

  load(flowId: string, groupsSince: number): FlowIndexSnapshot {
    const sql = this.storage.sql;
    const cpRows = sql.exec<{ body: string }>("SELECT body FROM idx_checkpoint WHERE flow_id = ? ORDER BY seq", flowId).toArray();
    const checkpoint = cpRows.length ? (JSON.parse(cpRows.map((r) => r.body).join("")) as Checkpoint) : null;
    const groups = sql
      .exec<{ body: string }>("SELECT body FROM idx_group WHERE flow_id = ? AND updated_at >= ?", flowId, groupsSince)
      .toArray()
      .map((r) => JSON.parse(r.body) as LedgerEntry);
    const planChunks = new Map<string, string[]>();
    for (const r of sql.exec<{ unit: string; body: string }>("SELECT unit, body FROM idx_plan WHERE flow_id = ? ORDER BY unit, seq", flowId)) {
      planChunks.set(r.unit, [...(planChunks.get(r.unit) ?? []), r.body]);
    }
    const plans = [...planChunks.values()].map((chunks) => JSON.parse(chunks.join("")) as OutboxPlan);
    const markers = sql
      .exec<{ run_id: string }>("SELECT run_id FROM idx_marker WHERE flow_id = ?", flowId)
      .toArray()
      .map((r) => r.run_id);
    // Carried traces are only measured here; loadCarriedTraces reads them when the run writes them to KV.
    const carry = this.carryRows(flowId, false);
    return { initialized: checkpoint !== null, checkpoint, groups, plans, markers, ...(carry.length ? { carry: summarizeCarry(carry) } : {}) };
  }

  /** The checkpoint in brief (GET /flows, the freshness tick: shared/state/checkpoint-view.ts). */
  checkpointView(flowId: string): IndexCheckpointView | null {
    const rows = this.storage.sql.exec<{ body: string }>("SELECT body FROM idx_checkpoint WHERE flow_id = ? ORDER BY seq", flowId).toArray();
    return briefCheckpoint(rows.length ? (JSON.parse(rows.map((r) => r.body).join("")) as Checkpoint) : null);
  }

  /** The carried traces, oldest first. */
  loadCarriedTraces(flowId: string): unknown[] {
    return this.carryRows(flowId, true)
      .filter((r) => r.kind === "trace")
      .map((r) => JSON.parse(r.body) as unknown);
  }

  /** Carried rows with their chunks joined, in commit order (trace bodies left out unless asked for). */
  private carryRows(flowId: string, traces: boolean): Array<{ kind: string; body: string; chars: number }> {
    const out: Array<{ seq: number; kind: string; body: string; chars: number }> = [];
    const rows = this.storage.sql.exec<{ seq: number; kind: string; body: string; chars: number }>(
      "SELECT seq, kind, length(body) AS chars, CASE WHEN kind = 'trace' AND ? = 0 THEN '' ELSE body END AS body FROM idx_carry WHERE flow_id = ? ORDER BY seq, part",
      traces ? 1 : 0,
      flowId,
    );
    for (const r of rows) {
      const last = out[out.length - 1];
      if (last && last.seq === r.seq) {
        last.body += r.body;
        last.chars += r.chars;
      } else out.push({ seq: r.seq, kind: r.kind, body: r.body, chars: r.chars });
    }
    return out;
  }

  /**
   * Forgets the flow's index (a flow started over together with its KV state; test scenarios). The carry stays: it is
   * the only copy of what a continuing run wrote (ledger entries of documents in the target), and leaves only once
   * written to KV — forgetting it would send those documents again (adv18-carry-index-reset). `carry` forgets it too
   * (a scenario that starts the target over as well).
   */
  forget(flowId: string, carry = false): void {
    this.storage.transactionSync(() => {
      for (const table of ["idx_checkpoint", "idx_group", "idx_plan", "idx_marker", ...(carry ? ["idx_carry"] : [])])
        this.storage.sql.exec(`DELETE FROM ${table} WHERE flow_id = ?`, flowId);
    });
  }

  commit(flowId: string, runId: string, epoch: number | undefined, commit: FlowIndexCommit, now: number): FlowIndexCommitResult {
    checkLeaseArgs(flowId, runId);
    const current = this.readLease(flowId);
    if (!mayCommit(current, runId, epoch)) return current ? { committed: false, holder: current.runId } : { committed: false };
    const sql = this.storage.sql;
    this.storage.transactionSync(() => {
      if (commit.checkpoint) {
        sql.exec("DELETE FROM idx_checkpoint WHERE flow_id = ?", flowId);
        chunkText(JSON.stringify(commit.checkpoint)).forEach((body, seq) =>
          sql.exec("INSERT INTO idx_checkpoint (flow_id, seq, run_id, body, saved_at) VALUES (?, ?, ?, ?, ?)", flowId, seq, runId, body, now),
        );
      }
      for (const entry of commit.groups ?? []) {
        const row = sql.exec<{ body: string }>("SELECT body FROM idx_group WHERE flow_id = ? AND group_key = ?", flowId, entry.externalKey).toArray()[0];
        const merged = mergeGroupEntry(row ? (JSON.parse(row.body) as LedgerEntry) : undefined, entry);
        sql.exec(
          "INSERT OR REPLACE INTO idx_group (flow_id, group_key, body, updated_at) VALUES (?, ?, ?, ?)",
          flowId,
          entry.externalKey,
          JSON.stringify(merged),
          now,
        );
      }
      for (const plan of commit.openPlans ?? []) {
        sql.exec("DELETE FROM idx_plan WHERE flow_id = ? AND unit = ?", flowId, plan.unit);
        chunkText(JSON.stringify(plan)).forEach((body, seq) =>
          sql.exec("INSERT INTO idx_plan (flow_id, unit, seq, body) VALUES (?, ?, ?, ?)", flowId, plan.unit, seq, body),
        );
      }
      for (const unit of commit.closePlans ?? []) sql.exec("DELETE FROM idx_plan WHERE flow_id = ? AND unit = ?", flowId, unit);
      if (commit.mark) sql.exec("INSERT OR REPLACE INTO idx_marker (flow_id, run_id, at) VALUES (?, ?, ?)", flowId, runId, commit.mark.at);
      for (const id of commit.clearMarkers ?? []) sql.exec("DELETE FROM idx_marker WHERE flow_id = ? AND run_id = ?", flowId, id);
      for (const kind of commit.dropCarry ?? []) sql.exec("DELETE FROM idx_carry WHERE flow_id = ? AND kind = ?", flowId, kind);
      this.addCarry(flowId, commit.carry);
    });
    return { committed: true };
  }

  private addCarry(flowId: string, carry: FlowIndexCommit["carry"]): void {
    if (!carry) return;
    const sql = this.storage.sql;
    let seq = sql.exec<{ next: number }>("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM idx_carry WHERE flow_id = ?", flowId).one().next;
    for (const kind of ["ledger", "trace", "run"] as const) {
      if (carry[kind] === undefined) continue;
      chunkText(JSON.stringify(carry[kind])).forEach((body, part) =>
        sql.exec("INSERT INTO idx_carry (flow_id, seq, part, kind, body) VALUES (?, ?, ?, ?, ?)", flowId, seq, part, kind, body),
      );
      seq++;
    }
  }
}
