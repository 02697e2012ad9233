/**
 * Approve before post (issue 17 item 4): a flow with `"approval": "required"` writes nothing until approved.
 * Until then every run of it (cron, queue, HTTP) runs as a dry run (reads and maps, changes no state, moves no
 * watermark) and its plan (what would be written) is kept at `approval:<flow>:plan`. `POST /flows/:id/approve`
 * or the dashboard records the approval for the flow as it is now (its definition's hash), and from then on it
 * runs normally. Changing the flow's definition asks for approval again: this gate is for going live with a flow.
 */
import { contentHash } from "../engine/hash.ts";
import { BridgeError } from "../errors.ts";
import type { RunResult } from "../engine/run.ts";
import type { Flow } from "../flow/schema.ts";
import type { KeyValueStore } from "../ports.ts";

export const planKey = (flowId: string) => `approval:${flowId}:plan`;
export const approvedKey = (flowId: string) => `approval:${flowId}:approved`;
/** Documents kept with their payload in a stored plan (the counts stay exact beyond it). */
export const MAX_PLANNED = 200;

export interface StoredPlan {
  planId: string;
  flowHash: string;
  at: number;
  runId: string;
  windows: Array<{ from: number; to: number }>;
  counts: RunResult["summary"]["counts"];
  total: number;
  planned: RunResult["planned"];
}

export interface Approval {
  flowHash: string;
  planId?: string;
  at: number;
  by: string;
}

export function flowHash(flow: Flow): string {
  return contentHash(flow);
}

async function read<T>(kv: KeyValueStore, key: string): Promise<T | null> {
  const raw = await kv.get(key);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

/** The flow ids FLOW_APPROVAL lists (comma-separated): every host holds their writes until approved. */
export function approvalListed(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function readPlan(kv: KeyValueStore, flowId: string) {
  return read<StoredPlan>(kv, planKey(flowId));
}

export function readApproval(kv: KeyValueStore, flowId: string) {
  return read<Approval>(kv, approvedKey(flowId));
}

/** Is this flow, as defined now, approved (or not gated at all)? */
export async function approved(kv: KeyValueStore, flow: Flow): Promise<boolean> {
  if (flow.approval !== "required") return true;
  return (await readApproval(kv, flow.id))?.flowHash === flowHash(flow);
}

/**
 * Runs the flow, or, while it waits for approval, its dry run, storing the plan. `run` is the host's normal
 * run; the held result is the dry run's, marked `approval: "pending"` on its summary (additive field).
 */
export async function runWithApproval<R extends { dryRun?: boolean; runId: string }>(
  kv: KeyValueStore,
  flow: Flow | undefined,
  request: R,
  run: (request: R) => Promise<RunResult>,
): Promise<RunResult> {
  if (!flow || request.dryRun || (await approved(kv, flow))) return run(request);
  const result = await run({ ...request, dryRun: true });
  const hash = flowHash(flow);
  const plan: StoredPlan = {
    planId: `${request.runId}`,
    flowHash: hash,
    at: result.summary.finishedAt,
    runId: request.runId,
    windows: result.summary.windows.map((w) => ({ from: w.from, to: w.to })),
    counts: result.summary.counts,
    total: result.planned.length,
    planned: result.planned.slice(0, MAX_PLANNED),
  };
  await kv.put(planKey(flow.id), JSON.stringify(plan), { expirationTtl: 30 * 86_400 });
  (result.summary as RunResult["summary"] & { approval?: string }).approval = "pending";
  return result;
}

/** Records the approval of the flow as it is now. A planId, when given, must be the stored plan's. */
export async function approve(kv: KeyValueStore, flow: Flow, by: string, now: number, planId?: string): Promise<Approval> {
  if (planId !== undefined) {
    const plan = await readPlan(kv, flow.id);
    if (!plan || plan.planId !== planId) {
      throw new BridgeError("conflict", `plan ${planId} is not the flow's latest plan${plan ? ` (${plan.planId})` : ""}`, {
        hint: "reload the page and review the latest plan",
      });
    }
  }
  const approval: Approval = { flowHash: flowHash(flow), at: now, by, ...(planId ? { planId } : {}) };
  await kv.put(approvedKey(flow.id), JSON.stringify(approval));
  return approval;
}
