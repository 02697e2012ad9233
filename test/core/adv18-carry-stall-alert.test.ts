/**
 * Adversary (issue 18 item 5 vs issue 17's freshness alerts). Since the continuation carry, the KV checkpoint view is
 * written only by the run's LAST invocation (indexed-state.ts recordRun returns right after carry.keep()); before it,
 * every invocation that moved the watermark rewrote the view. The alert tick (worker/observe/tick.ts), GET /flows and
 * the dashboard read the watermark from that KV view (store.getWatermark). During a catch-up of many Free-plan
 * invocations the index watermark advances window by window, but the view stays where the run started, so
 * `watermark_stalled` fires (and keeps firing) for a flow whose watermark is moving and already within its threshold.
 * Real engine, KIS client, emulators, real state store; MemoryFlowCoordinator models the DO. Manual clock only.
 *
 * Expected: while the run continues, the watermark the tick reads follows the index (at least per moved window), and
 * a flow whose index watermark is inside watermarkStallMinutes raises no `watermark_stalled`. Actual: the KV view still
 * holds the run's starting watermark (5 days back) and the tick's freshness says stalled.
 * Fault: shared/state/indexed-state.ts recordRun (keep() returns before the view write); worker/observe/tick.ts and
 * worker/services.ts read only the KV view. Severity: medium (false alerts and a frozen dashboard on the Free plan).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { currentCheckpoint } from "../../shared/state/checkpoint-view.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { freshnessOfFlow } from "../../worker/observe/freshness-service.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const FREE = 35;
const DAY = 86_400_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv18: freshness alerts during a continuing run", () => {
  it("a watermark that moves inside its stall threshold is not reported stalled while the run continues", async () => {
    e2e = await startE2E({ otherInOut: 1800, salesOut: 0, days: 6 });
    const env = e2e;
    const flow = env.flows[KIS]!;
    flow.observe = { ...(flow.observe ?? {}), watermarkStallMinutes: 3 * 24 * 60 }; // stalled = more than 3 days behind
    const lock = new MemoryFlowCoordinator(env.clock);
    // A completed run that reasoned at "5 days ago" (RunRequest.now): the KV view then holds a watermark 5 days back.
    const first = await runFlowById(
      { ...env.ports, lock },
      { flowId: KIS, runId: "first", trigger: "cron", now: env.clock.now() - 5 * DAY, budget: { maxSubrequests: 10_000 } },
    );
    expect(first.summary.continues).toBe(false);
    env.clock.advance(60_000);
    let indexWatermark = 0;
    for (let i = 0; i < 80; i++) {
      const { summary } = await runFlowById({ ...env.ports, lock }, { flowId: KIS, runId: `free-${i}`, trigger: "cron", budget: { maxSubrequests: FREE } });
      expect(summary.continues).toBe(true); // the check below is about a run still under way
      indexWatermark = (await lock.loadIndex(KIS, { groupsSince: 0 })).checkpoint!.watermark;
      if (env.clock.now() - indexWatermark < 2.5 * DAY) break;
      env.clock.advance(60_000);
    }
    const now = env.clock.now();
    expect(now - indexWatermark).toBeLessThan(2.5 * DAY); // the flow is well inside its 3-day threshold

    // What the tick (worker/observe/tick.ts) and GET /flows read: the index's checkpoint where the host has one.
    // Before the fix they read the KV view alone (FlowStateStore.getWatermark), frozen at the run's start.
    const view = await currentCheckpoint(new FlowStateStore(env.kv), lock, KIS);
    const watermark = typeof view?.watermark === "number" ? view.watermark : null;
    const f = await freshnessOfFlow(env.kv, flow, { cron: "*/5 * * * *", watermark, runs: [], now });
    expect(f.alerts.map((a) => a.event)).not.toContain("watermark_stalled");
  }, 60_000);
});
