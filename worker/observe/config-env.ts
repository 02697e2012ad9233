/**
 * The Worker runs the seed flows; their issue-17 settings come from two variables (added to the contract):
 *   FLOW_APPROVAL  comma-separated flow ids that write nothing until approved ("approval": "required")
 *   FLOW_OBSERVE   JSON per flow id: {"jst-other-in-to-kis": {"freshnessObjectiveMinutes": 10, "reconcile": {"cron": "off"}}}
 */
import * as z from "zod";
import type { Flow } from "../../shared/flow/schema.ts";
import { observeSchema } from "../../shared/observe/config.ts";

export function applyObserveEnv(flows: Record<string, Flow>, env: { FLOW_APPROVAL?: string; FLOW_OBSERVE?: string }, problems: string[]): Record<string, Flow> {
  const out = { ...flows };
  for (const id of (env.FLOW_APPROVAL ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!Object.hasOwn(out, id)) problems.push(`FLOW_APPROVAL names unknown or disabled flow ${id}`);
    else out[id] = { ...out[id]!, approval: "required" };
  }
  if (env.FLOW_OBSERVE) {
    let parsed: Record<string, z.infer<typeof observeSchema>> = {};
    try {
      parsed = z.record(z.string(), observeSchema).parse(JSON.parse(env.FLOW_OBSERVE));
    } catch (error) {
      problems.push(`FLOW_OBSERVE must be JSON like {"jst-other-in-to-kis": {"freshnessObjectiveMinutes": 10}} (${error instanceof z.ZodError ? error.issues[0]?.message : "not JSON"})`);
    }
    for (const [id, observe] of Object.entries(parsed)) {
      if (!Object.hasOwn(out, id)) problems.push(`FLOW_OBSERVE names unknown or disabled flow ${id}`);
      else out[id] = { ...out[id]!, observe: { ...out[id]!.observe, ...observe } };
    }
  }
  return out;
}
