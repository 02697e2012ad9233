/**
 * Which hosts read each name of the env contract (shared/compose/env-names.ts), so the CLI and the Action can say
 * that a Worker-only name they were given has no effect there (issue 18 item 3) instead of ignoring it silently.
 * Users share one .env between the Worker (.dev.vars), the CLI and the Action, so such a name is warned about, not
 * refused: none of them changes what the CLI or the Action writes (FLOW_APPROVAL, which would, is applied by both:
 * action/cli/approval-gate.ts). Only the name is ever printed, never its value (it may be a secret).
 *
 * Classified from where each name is read (grep, December 2026):
 *   all     read by shared/ code every host composes (shared/compose, shared/engine, shared/connectors,
 *           shared/security, shared/http) or by each host itself;
 *   worker  read only under worker/ (worker/config.ts, worker/session.ts, worker/observe/*, worker/scheduled.ts,
 *           worker/queue.ts) or by shared/ code only the Worker calls (shared/alerts via worker/scheduled.ts,
 *           worker/queue.ts, worker/observe/tick.ts); bindings come from wrangler.toml;
 *   cli     read only by the CLI and the Action (action/cli/*, action/inputs.ts).
 */
export type EnvHosts = "all" | "worker" | "cli";

const ALERTS_INSTEAD = "the CLI's exit code and the Action's failed step (with fail-on-dead-letters / the workflow's notifications)";

/** Worker-only names: where the Worker reads each, and what the CLI/Action offers instead (when anything). */
export const WORKER_ONLY_ENV: Readonly<Record<string, { readAt: string; instead: string }>> = {
  SESSION_EPOCH: { readAt: "worker/session.ts", instead: "nothing: dashboard sessions exist only on the Worker" },
  SESSION_MAX_AGE_HOURS: { readAt: "worker/session.ts, worker/config.ts", instead: "nothing: dashboard sessions exist only on the Worker" },
  ALERT_WEBHOOK_URL: { readAt: "shared/alerts/config.ts via worker/scheduled.ts, worker/queue.ts, worker/observe/tick.ts", instead: ALERTS_INSTEAD },
  ALERT_KIND: { readAt: "shared/alerts/config.ts (Worker alerts)", instead: ALERTS_INSTEAD },
  ALERT_SECRET: { readAt: "shared/alerts/config.ts (Worker alerts)", instead: ALERTS_INSTEAD },
  ALERT_PERIOD_MINUTES: { readAt: "shared/alerts/config.ts, shared/observe/alerts.ts (Worker alerts)", instead: ALERTS_INSTEAD },
  ALERT_CONSECUTIVE_FAILURES: { readAt: "shared/alerts/config.ts (Worker alerts)", instead: ALERTS_INSTEAD },
  DASHBOARD_URL: { readAt: "shared/alerts/config.ts (links in Worker alerts)", instead: ALERTS_INSTEAD },
  MAX_SUBREQUESTS: {
    readAt: "worker/config.ts",
    instead: "the CLI and the Action have no subrequest cap (they run to the end); bound a run with --from/--to and --window (Action inputs from, to, window)",
  },
  STATE_SUBREQUEST_RESERVE: { readAt: "worker/config.ts", instead: "nothing: the CLI and the Action have no subrequest cap" },
  FLOWS: { readAt: "worker/config.ts", instead: "name the flow to run: the CLI's first argument, the Action's flow input" },
  FLOW_SCHEDULES: { readAt: "worker/config.ts, worker/scheduled.ts", instead: "schedule the CLI with cron, the Action with the workflow's on.schedule" },
  FLOW_OBSERVE: { readAt: "worker/observe/config-env.ts", instead: "put observe settings in the flow's JSON, or run the reconcile command" },
  RUN_LEASE_SECONDS: { readAt: "worker/config.ts", instead: "nothing: the CLI's lease is its own (action/cli/lease-lock.ts)" },
  LOG_LEVEL: { readAt: "worker/config.ts, worker/runtime.ts", instead: "--verbose or --quiet (the Action: the runner's step debug logging)" },
  CONTINUE_WITH: { readAt: "worker/config.ts", instead: "nothing: the CLI and the Action run a window to its end in one process" },
  STATE: { readAt: "wrangler.toml binding (worker/env.ts)", instead: "--state kv with CF_ACCOUNT_ID, CF_API_TOKEN, CF_KV_NAMESPACE_ID (Action: state: kv)" },
  FLOW_LOCK: { readAt: "wrangler.toml binding (worker/runtime.ts)", instead: "nothing: the CLI keeps a lease record in its state" },
  AUTH_GUARD: { readAt: "wrangler.toml binding (worker/auth-guard.ts)", instead: "nothing: it guards the Worker's HTTP API" },
  RATE_BUDGET: { readAt: "wrangler.toml binding (worker/rate-budget-do.ts)", instead: "JST_RATE_BUDGET_URL with SYNC_API_TOKEN (shares the Worker's budget)" },
  SYNC_QUEUE: { readAt: "wrangler.toml binding (worker/queue.ts, worker/scheduled.ts)", instead: "nothing: the CLI and the Action run in one process" },
};

/** Names only the CLI and the Action read. Every other known name is read by all hosts. */
export const CLI_ONLY_ENV: readonly string[] = [
  "CF_ACCOUNT_ID",
  "CF_API_TOKEN",
  "CF_KV_NAMESPACE_ID",
  "CF_API_BASE_URL",
  "ALLOW_CLI_INCREMENTAL",
  "JST_RATE_BUDGET_URL",
];

export function envHosts(name: string): EnvHosts {
  if (Object.hasOwn(WORKER_ONLY_ENV, name)) return "worker";
  return CLI_ONLY_ENV.includes(name) ? "cli" : "all";
}

/** One warning per Worker-only name that is set (non-empty) in `env`, sorted; names only, never values. */
export function workerOnlyEnvWarnings(env: Readonly<Record<string, string | undefined>>, host: "CLI" | "Action"): string[] {
  return Object.keys(env)
    .filter((name) => Object.hasOwn(WORKER_ONLY_ENV, name) && (env[name] ?? "").trim() !== "")
    .sort()
    .map(
      (name) =>
        `${name} is set but only the Cloudflare Worker reads it: it has no effect in the ${host} (ignored) — instead: ${WORKER_ONLY_ENV[name]!.instead}`,
    );
}
