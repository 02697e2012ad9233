/**
 * The Worker runs the seed flows; their issue-17 settings come from two variables (added to the contract):
 *   FLOW_APPROVAL  comma-separated flow ids that write nothing until approved ("approval": "required")
 *   FLOW_OBSERVE   JSON per flow id: {"jst-other-in-to-kis": {"freshnessObjectiveMinutes": 10, "reconcile": {"cron": "off"}}}
 */
import * as z from "zod/mini";
import { issueText } from "../../shared/util/issue-text.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import { observeSchema } from "../../shared/observe/config.ts";
import { approvalListed } from "../../shared/observe/approval.ts";

export function applyObserveEnv(flows: Record<string, Flow>, env: { FLOW_APPROVAL?: string; FLOW_OBSERVE?: string }, problems: string[]): Record<string, Flow> {
  const out = { ...flows };
  for (const id of approvalListed(env.FLOW_APPROVAL)) {
    if (!Object.hasOwn(out, id)) problems.push(`FLOW_APPROVAL names unknown or disabled flow ${id}`);
    else out[id] = { ...out[id]!, approval: "required" };
  }
  if (env.FLOW_OBSERVE) {
    const { parsed, problem } = parseObserveEnv(env.FLOW_OBSERVE);
    if (problem) problems.push(`FLOW_OBSERVE must be JSON like {"jst-other-in-to-kis": {"freshnessObjectiveMinutes": 10}} (${problem})`);
    for (const [id, observe] of Object.entries(parsed)) {
      if (!Object.hasOwn(out, id)) problems.push(`FLOW_OBSERVE names unknown or disabled flow ${id}`);
      else out[id] = { ...out[id]!, observe: { ...out[id]!.observe, ...observe } };
    }
  }
  return out;
}

function parseObserveEnv(text: string): { parsed: Record<string, z.infer<typeof observeSchema>>; problem?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { parsed: {}, problem: "not JSON" };
  }
  const result = z.record(z.string(), observeSchema).safeParse(json);
  if (result.success) return { parsed: result.data };
  const issue = result.error.issues[0];
  return { parsed: {}, problem: issue ? `at ${issue.path.join(".")}: ${issueText(issue)}` : "invalid" };
}
