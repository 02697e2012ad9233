/**
 * A flow with `"approval": "required"` writes nothing until its plan is approved: the Worker runs it as a dry run
 * (shared/observe/approval.ts runWithApproval) and a replay refuses; a CLI or Action sync refuses too, with the
 * same approval record (the state it shares with the Worker).
 */
import type { Flow } from "../../shared/flow/schema.ts";
import { approved } from "../../shared/observe/approval.ts";
import type { KeyValueStore } from "../../shared/ports.ts";

interface RefusableReport {
  outcome: string;
  error?: { code: string; message: string; hint?: string };
  finishedAt?: number;
}

/** True (and the report failed) when the sync would write a flow that waits for approval. */
export async function refuseUnapproved(report: RefusableReport, flow: Flow, kv: KeyValueStore, dryRun: boolean, now: number): Promise<boolean> {
  if (dryRun || (await approved(kv, flow))) return false;
  report.outcome = "failed";
  report.error = {
    code: "approval_pending",
    message: `flow ${flow.id} says "approval": "required" and its current definition is not approved, so nothing is written`,
    hint: 'preview it with --dry-run, approve its plan on the Worker (dashboard approvals page or POST /flows/:id/approve) over the same state (--state kv), or remove "approval" from the flow',
  };
  report.finishedAt = now;
  return true;
}
