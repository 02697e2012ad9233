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
