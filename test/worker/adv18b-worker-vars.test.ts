/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): two Worker variables were accepted and
 * then silently replaced (worker/config.ts readWorkerConfig):
 * - RUN_LEASE_SECONDS was parsed after the "throw if any problem" check, so an invalid value ("15m", "0") added its
 *   problem too late and the lease silently stayed 900 s (also named in shared/docs/aesthetics.md §2.11).
 * - CONTINUE_WITH is compared with "queue"; any other value ("Queue", "queues", "true") silently means "no queue".
 * Expected: a ConfigError naming the variable. Actual: a config with the default. (A worker-project test: the
 * Node typecheck has no Workers types for worker/env.ts.)
 */
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { readWorkerConfig } from "../../worker/config.ts";

const env = (vars: Record<string, string>) => vars as unknown as Env;

describe("Worker variables that would be silently replaced", () => {
  it("an invalid RUN_LEASE_SECONDS is refused, not replaced by 900", () => {
    expect(readWorkerConfig(env({ RUN_LEASE_SECONDS: "1200" })).leaseMs).toBe(1_200_000);
    expect(() => readWorkerConfig(env({ RUN_LEASE_SECONDS: "15m" }))).toThrow(/RUN_LEASE_SECONDS/);
    expect(() => readWorkerConfig(env({ RUN_LEASE_SECONDS: "0" }))).toThrow(/RUN_LEASE_SECONDS/);
  });

  it("a CONTINUE_WITH other than queue is refused, not read as no queue", () => {
    expect(readWorkerConfig(env({ CONTINUE_WITH: "queue" })).continueWithQueue).toBe(true);
    expect(readWorkerConfig(env({})).continueWithQueue).toBe(false);
    expect(() => readWorkerConfig(env({ CONTINUE_WITH: "Queue" }))).toThrow(/CONTINUE_WITH/);
  });
});

/**
 * Three more Worker variables that a typo turned into something else without a word:
 * - LOG_LEVEL="warning" (or "WARN"): createConsoleLogger's indexOf gives -1, clamped to 0 = debug, the MOST verbose.
 * - SESSION_MAX_AGE_HOURS="2h" / "0" / "1000": session.ts falls back to the default 12 hours.
 * - TRACE_INDEX="false" / "0" / "OFF": only the exact "off" switches the trace index off (KV writes go on).
 * Expected: a ConfigError naming the variable. Actual (old code): a config, with the surprise at run time.
 */
describe("Worker variables read outside the config, silently replaced", () => {
  it("LOG_LEVEL, SESSION_MAX_AGE_HOURS and TRACE_INDEX with a value they do not take are refused", () => {
    expect(() => readWorkerConfig(env({ LOG_LEVEL: "warn", SESSION_MAX_AGE_HOURS: "4", TRACE_INDEX: "off" }))).not.toThrow();
    expect(() => readWorkerConfig(env({ LOG_LEVEL: "warning" }))).toThrow(/LOG_LEVEL/);
    expect(() => readWorkerConfig(env({ SESSION_MAX_AGE_HOURS: "2h" }))).toThrow(/SESSION_MAX_AGE_HOURS/);
    expect(() => readWorkerConfig(env({ SESSION_MAX_AGE_HOURS: "0" }))).toThrow(/SESSION_MAX_AGE_HOURS/);
    expect(() => readWorkerConfig(env({ TRACE_INDEX: "false" }))).toThrow(/TRACE_INDEX/);
  });
});

/**
 * A misspelt optional variable is not noticed anywhere: there is no list of the env-var contract at run time, so
 * LEDGER_RETENTION_DAY=35 (for LEDGER_RETENTION_DAYS), KIS_PRECHEK=… or REQUEST_TIMEOUT=… are ignored and the
 * defaults run, on the Worker and in the CLI/Action alike. Expected: reported with the name meant. Was: a config
 * with the defaults and no word. Decided (fix 18): reported, not refused — a wrangler.toml may carry the deployment's
 * own variables, so a hard refusal of unknown names would break working deployments; only names close to a known one
 * (or under JST_/TPLUS_/KIS_/ALERT_) are reported, in the Worker's configuration (logged once) and by both doctors.
 */
describe("a misspelt variable of the contract", () => {
  it("LEDGER_RETENTION_DAY is reported, naming LEDGER_RETENTION_DAYS; a deployment's own variable is not", () => {
    const config = readWorkerConfig(env({ LEDGER_RETENTION_DAY: "35", MY_TEAM_NOTE: "x", JST_APP_KEY: "k" }));
    expect(config.envWarnings).toEqual(["LEDGER_RETENTION_DAY is not a variable jst-bridge reads (ignored): did you mean LEDGER_RETENTION_DAYS?"]);
  });
});
