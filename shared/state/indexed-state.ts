/**
 * The engine's state with the flow index (flow-index.ts) as the home of the checkpoint, the group registry, the open
 * merge plans and the write markers; KV keeps what may lag (ledger segments of written documents, dead letters, run
 * records, and a read-only view of the checkpoint for dashboards and the CLI).
 *
 * Requests to the index per run: one load at the start; one fenced commit per checkpoint save, per page of written
 * merge groups (registry entries), per new merge plan and for the run's write marker; plan closes and settled
 * markers ride along with the next commit (or one commit at the end). Every commit carries the lease's epoch: a run
 * that lost its lease gets `lease_lost` and changes nothing in the index.
 *
 * Why a lagging KV read can no longer double or lose (engine-review findings 2, 3):
 *  - an open plan is found in the index, so a run a second after a stop between parts resumes it, never re-plans;
 *  - a registry entry is found in the index, so a late member becomes a supplement, never a rebuilt original;
 *  - the checkpoint (and its cursor) is the index's; the KV copy is only a view;
 *  - a write marker is found in the index, so a run after an unclean one verifies its writes.
 * The ledger of written documents stays in KV: a lagging read of it re-sends a document, which the target's key
 * uniqueness and the read-back verification (verify-existing.ts; KIS precheck) turn into "already exists".
 * Migration: until the index holds a checkpoint, the first run reads the KV checkpoint, plans and markers once.
 */
import type { EngineState } from "../engine/run.ts";
import type { Checkpoint, RunSummary } from "../engine/types.ts";
import type { Logger } from "../ports.ts";
import { type FlowIndexCommit, type FlowIndexPort, type FlowIndexSnapshot, mergeGroupEntry, REGISTRY_LOAD_DAYS } from "./flow-index.ts";
import { type Carry, type ContinuationPort, openCarry } from "./continuation.ts";
import { LeaseLostError } from "./lease-keeper.ts";
import type { OutboxPlan } from "./outbox-store.ts";
import { indexedEntries, isGroupKey } from "./indexed-keys.ts";
import type { LedgerEntry } from "./records.ts";

const DAY_MS = 86_400_000;
/*
 * Dead-letter markers (`dead:<key>`, engine run.ts) ride in the index with the registry: a run seconds after the one
 * that filed a letter, reading a lagging KV ledger, would file it again (chaos state.staleKv; adv12-stale-dead-letter).
 * So do corrections and the images they settle (indexed-keys.ts; stale-kv-correction-images).
 */
/** Registry entries grow (union); a dead-letter marker is the latest filing's. */
const mergeIndexed = (current: LedgerEntry | undefined, next: LedgerEntry): LedgerEntry =>
  isGroupKey(next.externalKey) ? mergeGroupEntry(current, next) : current && current.writtenAt > next.writtenAt ? current : next;

export interface IndexedStateOptions {
  index: FlowIndexPort;
  flowId: string;
  runId: string;
  /** The lease's fencing token. */
  epoch: number | undefined;
  now: () => number;
  logger: Logger;
  /** Whether a run's record says its writes are settled (a missing or stale record: not settled, so writes are verified). */
  runSettled: (flowId: string, runId: string) => Promise<boolean>;
  /**
   * False for a range backfill: the carry belongs to the flow's incremental run (its chain of invocations), so a range
   * run writes its ledger to KV itself and neither takes nor flushes the incremental run's carry (it still sees it).
   */
  carries?: boolean;
}

/** A run that carries nothing (a range backfill): its trace and record go to KV at its end. */
const NO_CARRY: ContinuationPort = { carries: async () => false, keepTrace: () => undefined, carriedTraces: async () => [] };

export interface IndexedState extends EngineState {
  /** Whether the flow has a checkpoint (in the index, or in KV before the index held one). */
  hasCheckpoint(flowId: string): Promise<boolean>;
  /** A continuing invocation's trace and run record stay in the index (continuation.ts). */
  continuation: ContinuationPort;
}

/** What the index-backed parts of the state share: the snapshot loaded once, the fenced commit, and the plan closes and
 * settled markers that ride along with the next commit. */
interface IndexSession {
  o: IndexedStateOptions;
  load(): Promise<FlowIndexSnapshot>;
  commit(c: FlowIndexCommit): Promise<void>;
  pending: { closePlans: string[]; clearMarkers: string[] };
}

function openIndexSession(o: IndexedStateOptions): IndexSession {
  let snapshot: Promise<FlowIndexSnapshot> | undefined;
  const load = () => (snapshot ??= o.index.loadIndex(o.flowId, { groupsSince: o.now() - REGISTRY_LOAD_DAYS * DAY_MS }));
  const pending = { closePlans: [] as string[], clearMarkers: [] as string[] };
  const commit = async (c: FlowIndexCommit) => {
    const body: FlowIndexCommit = { ...c };
    if (pending.closePlans.length) body.closePlans = [...(c.closePlans ?? []), ...pending.closePlans.splice(0)];
    if (pending.clearMarkers.length) body.clearMarkers = [...(c.clearMarkers ?? []), ...pending.clearMarkers.splice(0)];
    const result = await o.index.commitIndex(o.flowId, o.runId, o.epoch, body);
    if (!result.committed) throw new LeaseLostError(o.flowId, o.runId, result.holder);
  };
  return { o, load, commit, pending };
}

type Outbox = NonNullable<EngineState["outbox"]>;
type WriteMarker = NonNullable<EngineState["writeMarker"]>;

/** Open merge plans in the index; plans found in KV (written before the index existed) are deleted there too once closed. */
function indexedOutbox(s: IndexSession, outbox: Outbox): Outbox {
  const kvPlans = new Set<string>();
  /** Open plans as this run knows them (loaded once, then kept up to date by its own puts and closes). */
  let openPlans: Map<string, OutboxPlan> | undefined;
  return {
    list: async (flowId) => {
      if (!openPlans) {
        const snap = await s.load();
        openPlans = new Map(snap.plans.map((p) => [p.unit, p]));
        if (!snap.initialized) {
          for (const p of await outbox.list(flowId)) {
            if (openPlans.has(p.unit)) continue;
            kvPlans.add(p.unit);
            openPlans.set(p.unit, p);
          }
        }
      }
      // Live: a second engine pass in this run (a re-sweep) sees the plans opened and closed by the first.
      return [...openPlans.values()];
    },
    put: async (_flowId, plan) => {
      await s.commit({ openPlans: [plan] }); // before the first part is written
      openPlans?.set(plan.unit, plan);
    },
    delete: async (flowId, unit) => {
      s.pending.closePlans.push(unit);
      openPlans?.delete(unit);
      if (kvPlans.delete(unit)) await outbox.delete(flowId, unit);
    },
  };
}

/** Write markers in the index; markers found in KV (written before the index existed) are cleared there too. */
function indexedWriteMarker(s: IndexSession, marker: WriteMarker, onMarked: () => void): WriteMarker {
  const kvMarkers = new Set<string>();
  /** Markers this run cleared (or found settled). */
  const cleared = new Set<string>();
  return {
    unsettled: async (flowId, ownRunId) => {
      const snap = await s.load();
      const open: string[] = [];
      for (const runId of snap.markers) {
        if (runId === ownRunId || cleared.has(runId)) continue;
        if (await s.o.runSettled(flowId, runId)) {
          s.pending.clearMarkers.push(runId);
          cleared.add(runId);
        } else open.push(runId);
      }
      if (!snap.initialized) {
        for (const runId of await marker.unsettled(flowId, ownRunId)) {
          kvMarkers.add(runId);
          if (!open.includes(runId) && !cleared.has(runId)) open.push(runId);
        }
      }
      return open;
    },
    mark: async () => {
      await s.commit({ mark: { at: s.o.now() } });
      onMarked();
    },
    clear: async (flowId, runIds) => {
      s.pending.clearMarkers.push(...runIds);
      for (const id of runIds) cleared.add(id);
      const kvOnes = runIds.filter((id) => kvMarkers.delete(id));
      if (kvOnes.length) await marker.clear(flowId, kvOnes);
    },
  };
}

/**
 * The ledger as the run sees it: KV's, the carried entries of a continuing run, and the index's registry (group entries,
 * dead-letter markers) merged in that order.
 */
function indexedLedger(s: IndexSession, base: EngineState, carry: Carry, carrying: boolean): Pick<EngineState, "ledgerView" | "ledgerAppend"> {
  /** Registry entries from the index plus what this run committed. */
  let groups: Map<string, LedgerEntry> | undefined;
  const registry = async () => (groups ??= new Map((await s.load()).groups.map((g) => [g.externalKey, g])));
  return {
    ledgerView: async (flowId) => {
      const [view, known] = await Promise.all([base.ledgerView(flowId), registry(), carry.ready()]);
      return (key) => {
        const kv = view(key);
        const carried = carry.view(key);
        const stored = carried && kv ? mergeIndexed(kv, carried) : (carried ?? kv);
        const indexed = known.get(key);
        return indexed && stored ? mergeIndexed(stored, indexed) : (indexed ?? stored);
      };
    },
    ledgerAppend: async (_flowId, entries) => {
      // All entries are carried in the index (fenced, with the registry entries among them) until the run ends, then
      // written to the KV ledger in one segment (the record beyond the index's load horizon, and for hosts without one).
      if (!entries.length) return;
      const registryEntries = indexedEntries(entries);
      if (carrying) {
        await s.commit({ ...(registryEntries.length ? { groups: registryEntries } : {}), carry: { ledger: entries } });
        carry.appended(entries);
      } else {
        if (registryEntries.length) await s.commit({ groups: registryEntries });
        await base.ledgerAppend(s.o.flowId, entries);
      }
      if (!registryEntries.length) return;
      const known = await registry();
      for (const e of registryEntries) known.set(e.externalKey, mergeIndexed(known.get(e.externalKey), e));
    },
  };
}

export function indexedState(base: EngineState, o: IndexedStateOptions): IndexedState {
  const session = openIndexSession(o);
  const { load, commit, pending } = session;
  let lastCommitted: Checkpoint | undefined;
  let marked = false;
  let viewWatermark: number | undefined;
  // A continuing invocation's ledger entries, trace and run record stay in the index until the run ends (continuation.ts).
  const carry = openCarry(o, load, base);
  const carrying = o.carries !== false;

  const outbox = base.outbox;
  const marker = base.writeMarker;
  /** The read-only KV view of the checkpoint (a failed write is only logged: the index holds the checkpoint). */
  const writeView = async (latest: Checkpoint) => {
    try {
      await base.saveCheckpoint(o.flowId, { watermark: latest.watermark, runId: latest.runId, updatedAt: latest.updatedAt });
      viewWatermark = latest.watermark;
    } catch (error) {
      o.logger.warn("could not write the checkpoint view to KV", { flowId: o.flowId, message: error instanceof Error ? error.message : String(error) });
    }
  };
  return {
    ...base,
    hasCheckpoint: async (flowId) => {
      const snap = await load();
      return snap.initialized || (await base.loadCheckpoint(flowId)) !== null;
    },
    loadCheckpoint: async (flowId) => {
      const snap = await load();
      const cp = snap.initialized ? snap.checkpoint : await base.loadCheckpoint(flowId);
      // The KV view holds this watermark already (the run that moved it wrote the view): rewritten only when it moves.
      viewWatermark = cp?.watermark;
      return cp;
    },
    saveCheckpoint: async (_flowId, checkpoint) => {
      await commit({ checkpoint });
      lastCommitted = checkpoint;
    },
    ...indexedLedger(session, base, carry, carrying),
    ...(outbox ? { outbox: indexedOutbox(session, outbox) } : {}),
    ...(marker ? { writeMarker: indexedWriteMarker(session, marker, () => (marked = true)) } : {}),
    continuation: carrying ? carry : NO_CARRY,
    recordRun: async (summary) => {
      // A run whose writes are settled needs no marker: cleared now rather than by the next run (one read fewer).
      if (marked && summary.writesSettled === true) pending.clearMarkers.push(o.runId);
      // A continuing invocation: its record (and trace) ride with the settled plans/markers in one commit. Only the
      // run's first invocation writes the checkpoint view (when it moved): while the run continues, KV then shows a
      // Worker run owns the flow (the CLI's owner check, action/cli/lease-lock.ts) and where it started.
      const first = carrying && (await carry.ready()).runs.length === 0;
      if (carrying && (await carry.keep(summary, commit).catch((error: unknown) => warnKept(o, error)))) {
        if (first && lastCommitted && lastCommitted.watermark !== viewWatermark) await writeView(lastCommitted);
        return;
      }
      const { drop, chain } = carrying ? await flushCarry(o, carry, summary) : {};
      await settleIndex(session, drop);
      // The KV checkpoint is a read-only view (dashboards, the CLI's owner check): one write per run that moved it
      // (a run of several invocations: written by the last).
      const latest = lastCommitted ?? (chain ? (await load()).checkpoint : null);
      if (latest && (chain || latest.watermark !== viewWatermark)) await writeView(latest);
      await base.recordRun(chain ? ({ ...summary, chain } as RunSummary) : summary);
    },
  };
}

/** Settled plans and markers (and the carried rows now in KV) leave the index in one commit at the run's end. */
async function settleIndex(s: IndexSession, drop: FlowIndexCommit["dropCarry"]): Promise<void> {
  if (!s.pending.closePlans.length && !s.pending.clearMarkers.length && !drop) return;
  try {
    await s.commit(drop ? { dropCarry: drop } : {});
  } catch (error) {
    // Not lost: an open plan is resumed (its written parts are found), a marker makes the next run verify.
    s.o.logger.warn("could not settle plans/markers in the flow index", {
      flowId: s.o.flowId,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

function warnKept(o: IndexedStateOptions, error: unknown): false {
  // The record then goes to KV as before (the carry itself stays for the run's last invocation).
  o.logger.warn("could not keep the invocation's record in the flow index", {
    flowId: o.flowId,
    message: error instanceof Error ? error.message : String(error),
  });
  return false;
}

/** Writes the carried ledger to KV; a failed write keeps the carry (the next invocation writes it) and the run goes on. */
async function flushCarry(o: IndexedStateOptions, carry: ReturnType<typeof openCarry>, summary: RunSummary) {
  try {
    return await carry.flush(summary);
  } catch (error) {
    o.logger.warn("could not write the carried ledger to KV; the next invocation writes it", {
      flowId: o.flowId,
      message: error instanceof Error ? error.message : String(error),
    });
    return {};
  }
}
