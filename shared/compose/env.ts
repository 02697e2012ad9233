/**
 * The environment settings every construction path reads (the env-var contract: JST_*, KIS_*, TPLUS_*,
 * REQUEST_TIMEOUT_MS, LEDGER_RETENTION_DAYS, …), parsed in one place so the Worker, the CLI and the Action
 * refuse a bad value with the same words.
 */
import { ConfigError } from "../errors.ts";

export type EnvVars = Record<string, string | undefined>;

const DAY_MS = 86_400_000;

/** A numeric setting's bounds and the words of its error. */
export interface NumberSetting {
  min: number;
  max: number;
  /** Integers only (default: any finite number). */
  whole?: boolean;
  /** What the error says the value must be (default "a number between MIN and MAX", or "a whole number …"). */
  must?: string;
  /** A valid value the error shows (default: MIN). */
  example?: string;
  hint: string;
}

// Plain decimal text only: Number() would also take "0x7530", "0b101", "0o43", "3e5", " 35 " and "Infinity", each a
// surprising value rather than the typo it usually is. A sign only where the bounds allow a negative value.
const WHOLE_TEXT = /^\d+$/;
const DECIMAL_TEXT = /^\d+(\.\d+)?$/;
const SIGNED_WHOLE_TEXT = /^-?\d+$/;
const SIGNED_DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

function decimalText(raw: string, setting: NumberSetting): boolean {
  const signed = setting.min < 0;
  const form = setting.whole ? (signed ? SIGNED_WHOLE_TEXT : WHOLE_TEXT) : signed ? SIGNED_DECIMAL_TEXT : DECIMAL_TEXT;
  return form.test(raw);
}

/**
 * The one parser of numeric settings: undefined when unset or empty; a value that is not plain decimal text of a
 * (whole) number inside the bounds is a ConfigError naming the variable, what it must be, the value given, an
 * example and the fix.
 */
export function numberFromEnv(env: EnvVars, name: string, setting: NumberSetting): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = decimalText(raw, setting) ? Number(raw) : Number.NaN;
  const valid = setting.whole ? Number.isInteger(value) : Number.isFinite(value);
  if (!valid || value < setting.min || value > setting.max) {
    const must = setting.must ?? `${setting.whole ? "a whole number" : "a number"} between ${setting.min} and ${setting.max}`;
    const example = setting.example ?? String(setting.min);
    throw new ConfigError(`${name} must be ${must}, in plain decimal digits such as ${name}=${example} (got "${raw}")`, { hint: setting.hint });
  }
  return value;
}

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
  const days = numberFromEnv(env, "LEDGER_RETENTION_DAYS", {
    min: 2,
    max: 3650,
    must: "a number of days between 2 and 3650",
    example: "35",
    hint: "it must exceed every flow's lookback; unset it to keep the whole ledger",
  });
  return days === undefined ? {} : { ledger: { retentionMs: days * DAY_MS } };
}

/** REQUEST_TIMEOUT_MS: how long one upstream request may take before it counts as lost (default: each client's own). */
export function requestTimeoutMs(env: EnvVars): number | undefined {
  return numberFromEnv(env, "REQUEST_TIMEOUT_MS", {
    min: 50,
    max: 600_000,
    must: "a number of milliseconds between 50 and 600000",
    example: "30000",
    hint: "unset it to use the defaults (30 s for Jushuitan)",
  });
}

/**
 * JST_MAX_PAGES_PER_WINDOW: requests one window may take (default 2,000, i.e. 100,000 rows at 50 a page). A window
 * whose first answer counts more rows than that is halved until it fits.
 */
export function maxPagesPerWindow(env: EnvVars): number | undefined {
  return numberFromEnv(env, "JST_MAX_PAGES_PER_WINDOW", {
    whole: true,
    min: 1,
    max: 100_000,
    must: "a whole number between 1 and 100000",
    example: "2000",
    hint: "unset it to use the default of 2000 requests per window",
  });
}
