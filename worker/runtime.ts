/** Builds the core's ports from Worker bindings and runs one flow (cron, queue and HTTP all come through here). */
import { composeHost } from "../shared/compose/index.ts";
import { runFlowById, type RunRequest } from "../shared/engine/runner.ts";
import { runWithApproval } from "../shared/observe/approval.ts";
import type { RunResult } from "../shared/engine/run.ts";
import type { Logger } from "../shared/ports.ts";
import type { Redactor } from "../shared/security/redact.ts";
import { securePorts } from "../shared/security/secret-ports.ts";
import type { WorkerConfig } from "./config.ts";
import { envVars } from "./config.ts";
import { DoFlowLock } from "./do-lock.ts";
import { workerRateBudget } from "./rate-budget-do.ts";
import type { Env } from "./env.ts";
import { WorkersKvStore } from "./kv-store.ts";
import { redactorFor } from "./secrets.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Structured console logs (Workers Logs) from LOG_LEVEL up (default info); with a redactor, each line is redacted. */
export function createConsoleLogger(level: string | undefined, redactor?: Redactor): Logger {
  const min = Math.max(0, LEVELS.indexOf((level ?? "info") as (typeof LEVELS)[number]));
  const at = (i: number, write: (line: string) => void) => (message: string, fields?: Record<string, unknown>) => {
    if (i >= min) {
      const line = JSON.stringify({ level: LEVELS[i], message, ...fields });
      write(redactor ? redactor.redact(line) : line);
    }
  };
  return {
    debug: at(0, (l) => console.debug(l)),
    info: at(1, (l) => console.log(l)),
    warn: at(2, (l) => console.warn(l)),
    error: at(3, (l) => console.error(l)),
  };
}

export const consoleLogger = createConsoleLogger("info");

/** The ports of one run, behind the deployment's redactor (KV writes, logs, fetch; see shared/security). */
export function workerPorts(env: Env, config: WorkerConfig) {
  const redactor = redactorFor(env);
  const ports = securePorts(rawPorts(env, config, redactor), redactor);
  // One Jushuitan rate budget per app for every run: cron, queue continuations, HTTP syncs (worker/rate-budget-do.ts).
  return { ...ports, redactor, rateBudget: workerRateBudget(env, ports.env, ports.logger) };
}

/** The Worker's parts from the composition root (shared/compose): state, token and reference stores, clients, sessions. */
export function workerHost(env: Env, config: WorkerConfig) {
  const ports = workerPorts(env, config);
  return { ...composeHost(ports), lock: ports.lock, flows: ports.flows, redactor: ports.redactor };
}

function rawPorts(env: Env, config: WorkerConfig, redactor: Redactor) {
  return {
    env: envVars(env),
    kv: new WorkersKvStore(env.STATE),
    lock: new DoFlowLock(env.FLOW_LOCK),
    // Bound: calling the global fetch detached from globalThis throws "Illegal invocation" in workerd.
    fetch: (input: Request | string | URL, init?: RequestInit) => fetch(input, init),
    logger: createConsoleLogger(env.LOG_LEVEL, redactor),
    flows: config.flows,
  };
}

export type WorkerRunRequest = Omit<RunRequest, "budget"> & { maxSubrequests?: number };

export async function runFlowInWorker(env: Env, config: WorkerConfig, request: WorkerRunRequest): Promise<RunResult> {
  const total = request.maxSubrequests ?? config.maxSubrequests;
  const ports = workerPorts(env, config);
  // A flow with approval: required runs as a dry run, its plan kept, until approved (shared/observe/approval.ts).
  return runWithApproval(ports.kv, config.flows[request.flowId], request, (r) =>
    runFlowById(ports, {
      leaseMs: config.leaseMs,
      ...r,
      budget: { maxSubrequests: Math.max(1, total - config.stateReserve) },
    }),
  );
}
