/**
 * A write left in doubt that the target cannot look up (T+ without FindVoucherList: engine/pending-writes.ts) is sent
 * again under the same key, where the account is known to refuse a duplicate key (RunDeps.resendInDoubt, from
 * doctor/tplus-duplicate.ts): a duplicate answer proves the lost write is there, an acceptance that it was not and
 * now is — either way it is written, and settles as if its answer had come (adv16c-pending-key-reuse). Without that
 * proof a resend could book it twice, so the write stays a `write_unknown` letter for the operator.
 * A resend that fails with a retryable error (T+ answering 500 for this payload every time) stops the run with the
 * entry kept, and the entry counts the runs it failed in (`resendFailures`). At the flow's poison limit
 * (poison.ts maxFailedRuns) it is given up: the write becomes the `write_unknown` letter it would be without the
 * proof and the flow goes on (adv6-resend-poison: else every run stopped here, for days, with no letter).
 */
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { isAccountError, type TargetWrite } from "../connectors/target.ts";
import type { OutboxPlan } from "../state/outbox-store.ts";
import type { FlowRun } from "./run-context.ts";
import { TargetConflictError, verifyExisting } from "./verify-existing.ts";

/** `gaveUp`: the resend failed (retryable) in as many runs as the poison limit allows; the write is lettered. */
export type Resent = { targetId?: string } | { conflict: TargetConflictError } | { refused: BridgeError } | { gaveUp: BridgeError };

/**
 * Undefined when the run may not resend. Throws what says nothing about the target (a budget stop, a transient or
 * account failure: the answer is in doubt again), so the run stops with the entry kept and the next one resends.
 */
export async function resendInDoubt(run: FlowRun, write: TargetWrite, plan?: OutboxPlan): Promise<Resent | undefined> {
  const { deps } = run;
  const because = await deps.resendInDoubt?.();
  if (!because) return undefined;
  await deps.lease?.keep();
  try {
    const result = await deps.target.write(write);
    const conflict = await verifyExisting(deps.target, write, result, deps.logger);
    if (conflict) return { conflict };
    deps.logger.info("a write whose answer was lost was sent again under its key", {
      flowId: run.flowId,
      externalKey: write.externalKey,
      answer: result.status,
      because,
    });
    return result.targetId ? { targetId: result.targetId } : {};
  } catch (error) {
    if (error instanceof BudgetExhaustedError || !(error instanceof BridgeError) || isAccountError(error)) throw error;
    if (error.retryable) return await countFailure(run, plan, error);
    return { refused: error };
  }
}

/** A retryable resend failure: counted on the pending entry; at the poison limit, given up (else the run stops). */
async function countFailure(run: FlowRun, plan: OutboxPlan | undefined, error: BridgeError): Promise<Resent> {
  const outbox = run.deps.state.outbox;
  if (!plan || !outbox) throw error;
  const failures = (plan.resendFailures ?? 0) + 1;
  if (failures >= run.poison.maxFailedRuns) {
    run.deps.logger.warn("a write whose answer was lost failed again when sent again; given up as write_unknown", {
      flowId: run.flowId,
      externalKey: plan.parts[0]?.externalKey,
      runs: failures,
      code: error.code,
    });
    return { gaveUp: error };
  }
  await outbox.put(run.flowId, { ...plan, resendFailures: failures });
  throw error;
}
