/**
 * A write left in doubt that the target cannot look up (T+ without FindVoucherList: engine/pending-writes.ts) is sent
 * again under the same key, where the account is known to refuse a duplicate key (RunDeps.resendInDoubt, from
 * doctor/tplus-duplicate.ts): a duplicate answer proves the lost write is there, an acceptance that it was not and
 * now is — either way it is written, and settles as if its answer had come (adv16c-pending-key-reuse). Without that
 * proof a resend could book it twice, so the write stays a `write_unknown` letter for the operator.
 */
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { isAccountError, type TargetWrite } from "../connectors/target.ts";
import type { FlowRun } from "./run-context.ts";
import { TargetConflictError, verifyExisting } from "./verify-existing.ts";

export type Resent = { targetId?: string } | { conflict: TargetConflictError } | { refused: BridgeError };

/**
 * Undefined when the run may not resend. Throws what says nothing about the target (a budget stop, a transient or
 * account failure: the answer is in doubt again), so the run stops with the entry kept and the next one resends.
 */
export async function resendInDoubt(run: FlowRun, write: TargetWrite): Promise<Resent | undefined> {
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
    if (error instanceof BudgetExhaustedError || !(error instanceof BridgeError) || error.retryable || isAccountError(error)) throw error;
    return { refused: error };
  }
}
