// Adversary (issue 18 item 3, "configuration that has no effect is refused"; one env parser in shared/compose/env.ts):
// settings the product's own hint calls invalid are accepted silently. Real parts: the real runner, emulators, state.
import { afterEach, describe, expect, it } from "vitest";
import { ledgerOptions, maxPagesPerWindow, requestTimeoutMs } from "../../shared/compose/env.ts";
import { composeHost } from "../../shared/compose/index.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv18: env settings accepted that should be refused", () => {
  // env.ts reads numbers with Number(raw), which takes hex, binary, octal and exponent text and surrounding
  // whitespace: REQUEST_TIMEOUT_MS="0x7530" is 30 s, JST_MAX_PAGES_PER_WINDOW="0b11111010000" is 2000,
  // LEDGER_RETENTION_DAYS="0o43" is 35 days. Typos such as "3e5" (meant 35?) pass too. Expected: a ConfigError
  // naming the variable (decimal digits only), like every other bad value. Actual: accepted with a surprising value.
  // Fault: shared/compose/env.ts requestTimeoutMs / maxPagesPerWindow / ledgerOptions (Number(raw)). Severity: low.
  it("numbers in hex, binary, octal or exponent form are refused", () => {
    expect(() => requestTimeoutMs({ REQUEST_TIMEOUT_MS: "0x7530" })).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(() => maxPagesPerWindow({ JST_MAX_PAGES_PER_WINDOW: "0b11111010000" })).toThrow(/JST_MAX_PAGES_PER_WINDOW/);
    expect(() => ledgerOptions({ LEDGER_RETENTION_DAYS: "0o43" })).toThrow(/LEDGER_RETENTION_DAYS/);
  });

  // LEDGER_RETENTION_DAYS' own hint says "it must exceed every flow's lookback", but nothing checks it: a flow whose
  // lookback (incremental.lookbackMinutes) reaches further back than the ledger is kept re-reads documents whose
  // ledger entries were compacted away, and every such document is sent again (KIS then books a second bill unless
  // KIS_PRECHECK looks it up; T+ relies on ExternalCode). Expected: the run refuses the combination before anything
  // moves (outcome failed, a config error naming LEDGER_RETENTION_DAYS). Actual: the run goes ahead ("success").
  // Fault: no check joins compose/env.ts ledgerOptions with the flow's lookback (runner.ts runFlowById). Severity: medium.
  it("a ledger retention shorter than the flow's lookback is refused", async () => {
    e2e = await startE2E({ otherInOut: 2, salesOut: 0, env: { LEDGER_RETENTION_DAYS: "2" } });
    const flowId = "jst-other-in-to-kis";
    const flow = e2e.flows[flowId]!;
    flow.incremental.lookbackMinutes = 5 * 24 * 60; // five days of lookback, two days of ledger
    const { summary } = await runFlowById(e2e.ports, { flowId, runId: "adv18-retention", trigger: "cli", budget: { maxSubrequests: 10_000 } });
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.message ?? "").toMatch(/LEDGER_RETENTION_DAYS/);
  }, 60_000);
});

describe("adv18: a bad env value reaches the run as a recorded failure", () => {
  // runner.ts: "Configuration problems surface before any document moves: recorded as a failed run" (failedRun). But
  // LEDGER_RETENTION_DAYS is parsed by composeHost(...).session() (shared/compose/index.ts → env.ts ledgerOptions), which
  // runFlowById calls before its try: the ConfigError escapes runFlowById. In the Worker's cron (worker/scheduled.ts)
  // that aborts the whole tick — no run record, no alert (notifyRun), and the freshness and reconcile ticks after the
  // loop never run, for every flow on the tick — while REQUEST_TIMEOUT_MS / JST_MAX_PAGES_PER_WINDOW errors (parsed
  // inside the try, by the clients) are recorded as failed runs. Expected: a failed run whose error names
  // LEDGER_RETENTION_DAYS, and a run record. Actual: runFlowById rejects. Severity: medium.
  it("LEDGER_RETENTION_DAYS=35d is a failed run with a record, like REQUEST_TIMEOUT_MS=abc", async () => {
    e2e = await startE2E({ otherInOut: 2, salesOut: 0, env: { LEDGER_RETENTION_DAYS: "35d" } });
    const flowId = "jst-other-in-to-kis";
    const result = await runFlowById(e2e.ports, { flowId, runId: "adv18-env", trigger: "cron", budget: { maxSubrequests: 100 } }).catch((error: unknown) => ({
      thrown: String(error),
    }));
    expect(result).toHaveProperty("summary");
    const { summary } = result as Awaited<ReturnType<typeof runFlowById>>;
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.message).toMatch(/LEDGER_RETENTION_DAYS/);
    // Recorded like any failed run (the cron's alerts and the run list read it).
    const recorded = await composeHost(e2e.ports).stateStore().getRun(flowId, "adv18-env");
    expect(recorded?.outcome).toBe("failed");
  }, 60_000);

  // The contrast the finding rests on (holds today): a bad REQUEST_TIMEOUT_MS is a recorded failed run.
  it("REQUEST_TIMEOUT_MS=abc is a failed run (control)", async () => {
    e2e = await startE2E({ otherInOut: 2, salesOut: 0 });
    e2e.ports.env.REQUEST_TIMEOUT_MS = "abc"; // after the harness's own reference refresh
    const { summary } = await runFlowById(e2e.ports, { flowId: "jst-other-in-to-kis", runId: "adv18-env2", trigger: "cron", budget: { maxSubrequests: 100 } });
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.message).toMatch(/REQUEST_TIMEOUT_MS/);
  }, 60_000);
});
