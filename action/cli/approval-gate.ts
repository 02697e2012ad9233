/**
 * A flow with `"approval": "required"` writes nothing until its plan is approved: the Worker runs it as a dry run
 * (shared/observe/approval.ts runWithApproval) and a replay refuses; a CLI or Action sync refuses too, with the
 * same approval record (the state it shares with the Worker).
 */
import type { Flow } from "../../shared/flow/schema.ts";
import { approvalListed, approved } from "../../shared/observe/approval.ts";
import type { KeyValueStore } from "../../shared/ports.ts";

interface RefusableReport {
  outcome: string;
  error?: { code: string; message: string; hint?: string };
  finishedAt?: number;
}

/**
 * The flow as the Worker gates it: FLOW_APPROVAL (comma-separated flow ids) marks a flow "approval": "required" there
 * (worker/observe/config-env.ts), so the same variable in the CLI's or the Action's environment holds its writes too.
 */
export function withEnvApproval(flow: Flow, env: Readonly<Record<string, string | undefined>>): Flow {
  const listed = approvalListed(env.FLOW_APPROVAL).includes(flow.id);
  return listed && flow.approval !== "required" ? { ...flow, approval: "required" } : flow;
}

/** True (and the report failed) when the sync would write a flow that waits for approval (its JSON or FLOW_APPROVAL). */
export async function refuseUnapproved(
  report: RefusableReport,
  flowAsRead: Flow,
  kv: KeyValueStore,
  dryRun: boolean,
  now: number,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<boolean> {
  const flow = withEnvApproval(flowAsRead, env);
  if (dryRun || (await approved(kv, flow))) return false;
  const why = flowAsRead.approval === "required" ? 'says "approval": "required"' : "is listed in FLOW_APPROVAL";
  report.outcome = "failed";
  report.error = {
    code: "approval_pending",
    message: `flow ${flow.id} ${why} and its current definition is not approved, so nothing is written`,
    hint: 'preview it with --dry-run, approve its plan on the Worker (dashboard approvals page or POST /flows/:id/approve) over the same state (--state kv), or remove "approval" from the flow (or the flow from FLOW_APPROVAL)',
  };
  report.finishedAt = now;
  return true;
}
