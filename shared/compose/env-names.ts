/**
 * The names of the environment-variable contract at run time, so a misspelt optional variable (LEDGER_RETENTION_DAY
 * for LEDGER_RETENTION_DAYS) is reported instead of silently running the default. Reported, not refused: a
 * deployment's wrangler.toml (or a CI job's environment) may carry variables of its own, so only a name that looks
 * meant for us is named — one within edit distance 2 of a known name (1 for names under 6 characters, where 2 would
 * match unrelated words), or one under a contract prefix (JST_, TPLUS_, KIS_, ALERT_) that no part of the bridge reads.
 * Hosts show the result as a warning: the Worker logs it with its configuration and both doctors list it as "?".
 *
 * Add every variable a host reads here (test/core/env-names.test.ts checks worker/env.ts against the list).
 */
import { editDistance } from "../util/edit-distance.ts";

export const KNOWN_ENV_NAMES: readonly string[] = [
  // Jushuitan
  "JST_BASE_URL",
  "JST_APP_KEY",
  "JST_APP_SECRET",
  "JST_ACCESS_TOKEN",
  "JST_REFRESH_TOKEN",
  "JST_RATE_PER_SECOND",
  "JST_RATE_PER_MINUTE",
  "JST_RATE_BUDGET_URL",
  "JST_MAX_PAGES_PER_WINDOW",
  // Chanjet T+
  "TPLUS_MODE",
  "TPLUS_BASE_URL",
  "TPLUS_APP_KEY",
  "TPLUS_APP_SECRET",
  "TPLUS_OPEN_TOKEN",
  "TPLUS_REFRESH_TOKEN",
  "TPLUS_ORG_ID",
  "TPLUS_PRIVATE_KEY",
  "TPLUS_USER",
  "TPLUS_PASSWORD",
  "TPLUS_ACCOUNT",
  "TPLUS_RED_BUSI_TYPE",
  "TPLUS_RED_QTY_SIGN",
  "TPLUS_CHANGE_MODE",
  "TPLUS_PERIOD_CLOSED_PATTERN",
  "TPLUS_ENABLE_DATE_PATTERN",
  // Kingdee KIS
  "KIS_BASE_URL",
  "KIS_CLIENT_ID",
  "KIS_CLIENT_SECRET",
  "KIS_ACCESS_TOKEN",
  "KIS_AUTH_DATA",
  "KIS_GW_ROUTER_ADDR",
  "KIS_ACCOUNT_DB",
  "KIS_SESSION_ID",
  "KIS_REFRESH_AUTH_DATA_TOKEN",
  "KIS_PRECHECK",
  "KIS_MATERIAL_DETAIL_BATCH",
  "KIS_RED_QTY_SIGN",
  "KIS_CHANGE_MODE",
  "KIS_PERIOD_CLOSED_PATTERN",
  "KIS_ENABLE_DATE_PATTERN",
  // API, dashboard, alerts
  "SYNC_API_TOKEN",
  "SESSION_EPOCH",
  "SESSION_MAX_AGE_HOURS",
  "ALLOW_INSECURE_HTTP",
  "ALERT_WEBHOOK_URL",
  "ALERT_KIND",
  "ALERT_SECRET",
  "ALERT_PERIOD_MINUTES",
  "ALERT_CONSECUTIVE_FAILURES",
  "DASHBOARD_URL",
  // Engine and Worker settings
  "MAX_FAILED_RUNS",
  "ACCEPT_KEY_SCHEME",
  "MAX_SUBREQUESTS",
  "STATE_SUBREQUEST_RESERVE",
  "FLOWS",
  "FLOW_SCHEDULES",
  "FLOW_APPROVAL",
  "FLOW_OBSERVE",
  "TRACE_INDEX",
  "REQUEST_TIMEOUT_MS",
  "REFERENCE_TTL_HOURS",
  "RESWEEP_DAYS",
  "RESWEEP_INTERVAL_HOURS",
  "LEDGER_RETENTION_DAYS",
  "RUN_LEASE_SECONDS",
  "LOG_LEVEL",
  "CONTINUE_WITH",
  // Worker bindings (they arrive in the same env object)
  "STATE",
  "FLOW_LOCK",
  "AUTH_GUARD",
  "RATE_BUDGET",
  "SYNC_QUEUE",
  // CLI / Action: Cloudflare KV state, incremental runs
  "CF_ACCOUNT_ID",
  "CF_API_TOKEN",
  "CF_KV_NAMESPACE_ID",
  "CF_API_BASE_URL",
  "ALLOW_CLI_INCREMENTAL",
];

const KNOWN = new Set(KNOWN_ENV_NAMES);
const CONTRACT_PREFIX = /^(JST|TPLUS|KIS|ALERT)_/;

export interface EnvNameProblem {
  name: string;
  /** The known name it is closest to, when one is near enough to suggest. */
  meant?: string;
  message: string;
}

/** The nearest known name within the allowed distance, or undefined. */
function nearestKnown(name: string): string | undefined {
  const limit = name.length < 6 ? 1 : 2;
  let best: { name: string; distance: number } | undefined;
  for (const known of KNOWN_ENV_NAMES) {
    if (Math.abs(known.length - name.length) > limit) continue;
    const distance = editDistance(name, known);
    if (distance <= limit && (!best || distance < best.distance)) best = { name: known, distance };
  }
  return best?.name;
}

/** Names among `names` that look meant for the bridge but are none of its variables (sorted; the values are never read). */
export function unknownEnvNames(names: Iterable<string>): EnvNameProblem[] {
  const problems: EnvNameProblem[] = [];
  for (const name of [...names].sort()) {
    if (KNOWN.has(name)) continue;
    const meant = nearestKnown(name);
    if (meant) problems.push({ name, meant, message: `${name} is not a variable jst-bridge reads (ignored): did you mean ${meant}?` });
    else if (CONTRACT_PREFIX.test(name))
      problems.push({ name, message: `${name} is not a variable jst-bridge reads (ignored): check its spelling against the README's variable table` });
  }
  return problems;
}
