/**
 * The environment settings every construction path reads (the env-var contract: JST_*, KIS_*, TPLUS_*,
 * REQUEST_TIMEOUT_MS, LEDGER_RETENTION_DAYS, …), parsed in one place so the Worker, the CLI and the Action
 * refuse a bad value with the same words.
 */
import { ConfigError } from "../errors.ts";

export type EnvVars = Record<string, string | undefined>;

const DAY_MS = 86_400_000;

/** A variable a connector cannot work without. */
export function requiredEnv(env: EnvVars, name: string): string {
  const value = env[name];
  if (!value)
    throw new ConfigError(`${name} is not set`, {
      hint: `set it with \`wrangler secret put ${name}\` (Worker) or in the environment / .env (CLI)`,
      details: { missing: [name] },
    });
  return value;
}

/**
 * KIS_PRECHECK: "always" (default) looks every bill up before creating it, because whether KIS refuses a repeated
 * FBillNo is not established (shared/docs/wire-evidence.md §4.5): with "after_unknown_outcome" any ledger miss
 * (reset, retention, KV lag, two hosts) books a second bill on an account that accepts repeated numbers.
 * "after_unknown_outcome" saves one list call per bill; set it only for an account shown to refuse a repeated FBillNo.
 */
export function kisPrecheck(env: EnvVars): "always" | "after_unknown_outcome" {
  return kisPrecheckFromEnv(env) ?? "always";
}

/** KIS_PRECHECK when set (validated), else undefined: then the stored doctor result decides (doctor/findings.ts). */
export function kisPrecheckFromEnv(env: EnvVars): "always" | "after_unknown_outcome" | undefined {
  const raw = env.KIS_PRECHECK;
  if (raw === undefined || raw === "") return undefined;
  if (raw === "always") return "always";
  if (raw === "after_unknown_outcome") return raw;
  throw new ConfigError(`KIS_PRECHECK must be "always" or "after_unknown_outcome" (got "${raw}")`, {
    hint: 'unset it for the safe default "always"; "after_unknown_outcome" only for a KIS account that refuses a repeated FBillNo',
  });
}

/**
 * LEDGER_RETENTION_DAYS: forget ledger entries older than this at compaction (default: keep all). The ledger
 * is loaded into memory once per run; on Workers Free (10 ms CPU) a ledger of tens of thousands of entries
 * costs more than the budget, so high-volume Free deployments keep e.g. 35 days: older documents are still
 * protected by the targets' external-key uniqueness.
 */
export function ledgerOptions(env: EnvVars): { ledger?: { retentionMs: number } } {
  const raw = env.LEDGER_RETENTION_DAYS;
  if (raw === undefined || raw === "") return {};
  const days = Number(raw);
  if (!Number.isFinite(days) || days < 2 || days > 3650) {
    throw new ConfigError(`LEDGER_RETENTION_DAYS must be a number of days between 2 and 3650 (got "${raw}")`, {
      hint: "it must exceed every flow's lookback; unset it to keep the whole ledger",
    });
  }
  return { ledger: { retentionMs: days * DAY_MS } };
}

/** REQUEST_TIMEOUT_MS: how long one upstream request may take before it counts as lost (default: each client's own). */
export function requestTimeoutMs(env: EnvVars): number | undefined {
  const raw = env.REQUEST_TIMEOUT_MS;
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 50 || value > 600_000) {
    throw new ConfigError(`REQUEST_TIMEOUT_MS must be a number of milliseconds between 50 and 600000 (got "${raw}")`, {
      hint: "unset it to use the defaults (30 s for Jushuitan)",
    });
  }
  return value;
}

/**
 * JST_MAX_PAGES_PER_WINDOW: requests one window may take (default 2,000, i.e. 100,000 rows at 50 a page). A window
 * whose first answer counts more rows than that is halved until it fits.
 */
export function maxPagesPerWindow(env: EnvVars): number | undefined {
  const raw = env.JST_MAX_PAGES_PER_WINDOW;
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 100_000) {
    throw new ConfigError(`JST_MAX_PAGES_PER_WINDOW must be a whole number between 1 and 100000 (got "${raw}")`, {
      hint: "unset it to use the default of 2000 requests per window",
    });
  }
  return value;
}
