/**
 * Fenced state commits (issue 12 item 7, engine-review finding 10). The lock issues an epoch on acquire (lock.ts);
 * before a commit that a stale run must never make, the run proves it still holds the lease at that epoch:
 *  - checkpoint: committed to the lock's strongly consistent copy with the epoch first (Durable Object `commit`,
 *    atomic with the lease check); refused → the run stops with `lease_lost` and the KV checkpoint is not written;
 *    a lock without a checkpoint copy (CLI: file/KV-REST lease record) gets a fenced renewal instead;
 *  - outbox plans and registry entries (`group:` ledger entries): a fenced renewal first.
 * Other ledger entries (documents written, dead-letter markers) record facts that stay true whoever wrote them, so
 * they are not fenced (that would cost a lock request per page).
 * The check and the KV write are two steps: a run whose lease lapses between them (milliseconds) can still land one
 * write; the lease renewal margin (a third of the lease) makes that need a stall of the whole remaining lease there.
 * Used where the lock is not a flow index (CLI, Action); the Worker's Durable Object commits checkpoint, registry and
 * plans with the epoch check in one step instead (flow-index.ts, indexed-state.ts).
 */
import type { EngineState } from "../engine/run.ts";
import type { Checkpoint } from "./records.ts";
import type { FlowLockPort, CheckpointMirrorPort } from "./lock.ts";
import type { LeaseKeeper } from "./lease-keeper.ts";
import { LeaseLostError } from "./lease-keeper.ts";

function hasCheckpointCopy(lock: FlowLockPort): lock is FlowLockPort & CheckpointMirrorPort {
  return typeof (lock as Partial<CheckpointMirrorPort>).commit === "function";
}

/** The checkpoint as the lock keeps it: watermark and owner only (a cursor's spool can be megabytes; KV holds it). */
function small(checkpoint: { watermark: number; runId: string }): Checkpoint {
  return { watermark: checkpoint.watermark, runId: checkpoint.runId };
}

export function fencedState(state: EngineState, options: { lock: FlowLockPort; keeper: LeaseKeeper; runId: string }): EngineState {
  const { lock, keeper, runId } = options;
  const outbox = state.outbox;
  return {
    ...state,
    saveCheckpoint: async (flowId, checkpoint) => {
      if (hasCheckpointCopy(lock)) {
        const result = await lock.commit(flowId, runId, small(checkpoint), keeper.epoch);
        if (!result.committed) throw new LeaseLostError(flowId, runId, result.holder);
      } else {
        await keeper.fence();
      }
      await state.saveCheckpoint(flowId, checkpoint);
    },
    ledgerAppend: async (flowId, entries) => {
      if (entries.some((e) => e.externalKey.startsWith("group:"))) await keeper.fence();
      await state.ledgerAppend(flowId, entries);
    },
    ...(outbox
      ? {
          outbox: {
            ...outbox,
            put: async (flowId, plan) => {
              await keeper.fence();
              await outbox.put(flowId, plan);
            },
          },
        }
      : {}),
  };
}
