/**
 * The Worker's own settings (budgets, which flows run on which cron), validated once per isolate with
 * errors that name the variable and say how to fix it. Connector credentials are validated by the
 * connectors when a flow runs, so a deployment that only uses T+ needs no KIS variables.
 */
import * as z from "zod/mini";
import { unknownEnvNames } from "../shared/compose/env-names.ts";
import { ConfigError } from "../shared/errors.ts";
import { cronProblem } from "../shared/flow/cron.ts";
import type { Flow } from "../shared/flow/schema.ts";
import { seedFlows } from "../shared/flows/index.ts";
import { applyObserveEnv } from "./observe/config-env.ts";
import { keyCollisions } from "../shared/engine/key-scheme.ts";
import type { Env } from "./env.ts";
import { tokenWeakness } from "../shared/security/token-strength.ts";

export interface WorkerConfig {
  maxSubrequests: number;
  stateReserve: number;
  flows: Record<string, Flow>;
  /** cron expression → flow ids it runs, in order. */
  schedules: Map<string, string[]>;
  continueWithQueue: boolean;
  /** How long a run holds its flow's lease; a crashed run's lease expires after this. */
  leaseMs: number;
  /** Variables that look meant for the bridge but are none of its names (shared/compose/env-names.ts): reported, not refused. */
  envWarnings: string[];
}

const intVar = (name: string, min: number, max: number) =>
  z.pipe(
    z.pipe(z.string().check(z.regex(/^\d+$/, { error: `${name} must be a whole number` })), z.transform(Number)),
    z.number().check(z.refine((n) => n >= min && n <= max, { error: `${name} must be between ${min} and ${max}` })),
  );

export function readWorkerConfig(env: Env): WorkerConfig {
  const problems: string[] = [];
  const parse = <T>(name: keyof Env, schema: z.ZodMiniType<T>, fallback: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const result = schema.safeParse(raw);
    if (!result.success) {
      problems.push(result.error.issues[0]?.message ?? `${name} is invalid`);
      return fallback;
    }
    return result.data;
  };
  const maxSubrequests = parse("MAX_SUBREQUESTS", intVar("MAX_SUBREQUESTS", 5, 10_000_000), 50);
  const stateReserve = parse("STATE_SUBREQUEST_RESERVE", intVar("STATE_SUBREQUEST_RESERVE", 0, 1000), Math.min(15, Math.floor(maxSubrequests / 3)));
  if (stateReserve >= maxSubrequests) problems.push("STATE_SUBREQUEST_RESERVE must be smaller than MAX_SUBREQUESTS");

  const all = Object.fromEntries(seedFlows().map((f) => [f.id, f]));
  let flows = all;
  if (env.FLOWS) {
    const ids = env.FLOWS.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = ids.filter((id) => !Object.hasOwn(all, id));
    if (unknown.length) problems.push(`FLOWS names unknown flows: ${unknown.join(", ")} (known: ${Object.keys(all).join(", ")})`);
    flows = Object.fromEntries(ids.filter((id) => Object.hasOwn(all, id)).map((id) => [id, all[id]!]));
  }

  flows = applyObserveEnv(flows, env, problems);
  for (const c of keyCollisions(Object.values(flows))) problems.push(`${c.message}; give one of them its own key prefix`);

  const schedules = new Map<string, string[]>();
  let overrides: Record<string, string> = {};
  if (env.FLOW_SCHEDULES) {
    try {
      overrides = z.record(z.string(), z.string()).parse(JSON.parse(env.FLOW_SCHEDULES));
    } catch {
      problems.push('FLOW_SCHEDULES must be JSON like {"jst-other-in-to-kis": "*/30 * * * *"}');
    }
  }
  for (const flow of Object.values(flows)) {
    const cron = overrides[flow.id] ?? flow.schedule?.cron;
    if (!cron) continue;
    const problem = cronProblem(cron);
    if (problem) {
      problems.push(`schedule of ${flow.id} ("${cron}"): ${problem}`);
      continue;
    }
    schedules.set(cron, [...(schedules.get(cron) ?? []), flow.id]);
  }
  for (const id of Object.keys(overrides)) if (!Object.hasOwn(flows, id)) problems.push(`FLOW_SCHEDULES names unknown or disabled flow ${id}`);

  // Cron and queue invocations end after 15 minutes of wall time, so a lease of 15 minutes outlives any live run.
  // Parsed before the check below: after it, an invalid value was silently replaced by 900.
  const leaseSeconds = parse("RUN_LEASE_SECONDS", intVar("RUN_LEASE_SECONDS", 1, 86_400), 900);
  if (env.CONTINUE_WITH && env.CONTINUE_WITH !== "queue") problems.push(`CONTINUE_WITH must be "queue" or unset (got "${env.CONTINUE_WITH}")`);
  problems.push(...readAtRunTimeProblems(env));
  if (problems.length) {
    throw new ConfigError(`Worker configuration is invalid:\n- ${problems.join("\n- ")}`, {
      hint: "fix the variables in wrangler.toml [vars] / `wrangler secret put` (or .dev.vars locally)",
    });
  }
  const envWarnings = unknownEnvNames(Object.keys(env)).map((p) => p.message);
  warnOnce(env, envWarnings);
  return { maxSubrequests, stateReserve, flows, schedules, continueWithQueue: env.CONTINUE_WITH === "queue", leaseMs: leaseSeconds * 1000, envWarnings };
}

const warned = new WeakSet<object>();
/** Logs the unknown-variable warnings once per env object (per isolate): names only, never values. */
function warnOnce(env: Env, warnings: string[]): void {
  if (warnings.length === 0 || warned.has(env)) return;
  warned.add(env);
  console.warn(JSON.stringify({ level: "warn", message: "configuration: variables jst-bridge does not read", warnings }));
}

/**
 * Variables read where they are used (runtime.ts, session.ts, the trace recorder), each falling back quietly on a
 * value it does not know: "warning" logged at debug, "2h" sessions lasted 12 h, TRACE_INDEX=false kept the index.
 */
function readAtRunTimeProblems(env: Env): string[] {
  const problems: string[] = [];
  const set = (v: string | undefined): v is string => v !== undefined && v !== "";
  if (set(env.LOG_LEVEL) && !["debug", "info", "warn", "error"].includes(env.LOG_LEVEL))
    problems.push(`LOG_LEVEL must be debug, info, warn or error (got "${env.LOG_LEVEL}")`);
  const hours = env.SESSION_MAX_AGE_HOURS;
  if (set(hours) && !(/^\d+(\.\d+)?$/.test(hours) && Number(hours) > 0 && Number(hours) <= 720))
    problems.push(`SESSION_MAX_AGE_HOURS must be a number of hours above 0 and at most 720, such as 12 (got "${hours}")`);
  if (set(env.TRACE_INDEX) && env.TRACE_INDEX !== "off" && env.TRACE_INDEX !== "on")
    problems.push(`TRACE_INDEX must be "off" (no document trace index) or "on"/unset (got "${env.TRACE_INDEX}")`);
  return problems;
}

/** The string variables of the env (the configuration contract), without bindings. */
export function envVars(env: Env): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) if (typeof value === "string") out[key] = value;
  return out;
}

/** Shortest SYNC_API_TOKEN the API accepts (security review #3): 32 random characters stand online and offline guessing. */
export const MIN_API_TOKEN_LENGTH = 32;

/** Why a SYNC_API_TOKEN is too weak, or null. Names the length, never the value. */
export function apiTokenProblem(token: string): string | null {
  return tokenWeakness(token, MIN_API_TOKEN_LENGTH);
}
