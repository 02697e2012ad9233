/**
 * A write intent is one state call per page (a Durable Object commit on the Worker), and on Workers such calls count
 * as subrequests (../shared/docs/platform.md). The adversary of the intents (adv19) measured 16 state calls in one
 * invocation of a re-sync with late documents, 11 of them intents, against a fixed state reserve of 15. So each
 * intent after an invocation's first (the state reserve holds that one) is charged to the run's own budget
 * (CallMeter.charge, label `state:write-intent`): an invocation never spends more than its budget, those intents
 * included. Fails on 1fe1973 (no intent was counted).
 */
import { describe, expect, it, vi } from "vitest";
import { isStateLabel } from "../../shared/engine/meter.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { e2ePerTest } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
const start = e2ePerTest();

describe("write intents inside the run's subrequest budget", () => {
  it("every invocation's subrequests, intents included, stay within its budget; intents are counted apart from API calls", async () => {
    const e = await start({ days: 2, otherInOut: 200, salesOut: 0 });
    e.ports.lock = new MemoryFlowCoordinator(e.clock);
    const budget = 40; // several pages per invocation
    const summaries = await e.runToCompletion(KIS, { budget: { maxSubrequests: budget } }, 400);
    const intents = summaries.flatMap((s) => (s.api ?? []).filter((a) => isStateLabel(a.endpoint))).reduce((n, a) => n + a.calls, 0);
    expect(intents).toBeGreaterThan(0);
    for (const s of summaries) expect(s.subrequests).toBeLessThanOrEqual(budget);
    // What the invocations wrote is every bill once.
    const numbers = e.stack.kis.bills().map((b) => String(b.FBillNo));
    expect(new Set(numbers).size).toBe(numbers.length);
  });
});
