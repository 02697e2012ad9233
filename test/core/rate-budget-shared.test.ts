import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import { SlidingWindowRateLimiter } from "../../shared/http/rate-limiter.ts";
import { JST_RATE_MARGIN_MS, jstRateLimits } from "../../shared/http/rate-budget.ts";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/**
 * Emulated time that runs `speed` times faster than the wall clock. A ManualClock jumps whenever any waiter
 * sleeps, so with runs going on at the same time a request granted at t could reach the emulator seconds of
 * emulated time later: concurrency needs a clock where time passes for everyone at once, as it does for real.
 */
function runRealTime(e: E2E, speed: number) {
  const realStart = Date.now();
  const start = e.clock.now();
  const clock = e.clock as unknown as { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> };
  clock.now = () => start + (Date.now() - realStart) * speed;
  clock.sleep = (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(resolve, Math.max(0, ms) / speed);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
}

/** Throttled answers Jushuitan gave (code 199 per second, 200 per minute), counted by the emulator per app. */
function throttles(e: E2E) {
  const log = e.stack.jushuitan.requests();
  return { requests: log.length, perSecond: log.filter((r) => r.code === 199).length, perMinute: log.filter((r) => r.code === 200).length };
}

/**
 * Two flows' incremental runs and a backfill of one of them, at the same time, on one app_key: what a cron tick
 * of two flows plus a CLI backfill (or an HTTP sync) does. The emulator counts per app across all clients.
 */
async function runAllAtOnce(e: E2E, shared: boolean) {
  const budget = shared ? new SlidingWindowRateLimiter({ clock: e.clock, limits: jstRateLimits(), marginMs: JST_RATE_MARGIN_MS }) : undefined;
  const ports = { ...e.ports, ...(budget ? { rateBudget: budget } : {}) };
  const budgetOf = { maxSubrequests: 10_000 };
  const started = e.clock.now();
  const results = await Promise.all([
    runFlowById(ports, { flowId: KIS, runId: "cron-kis", trigger: "cron", budget: budgetOf }),
    runFlowById(ports, { flowId: TPLUS, runId: "cron-tplus", trigger: "cron", budget: budgetOf }),
    // A backfill holds its own (range-scoped) lease, as the CLI's does.
    runFlowById(
      { ...ports, lock: new MemoryFlowLock(e.clock) },
      {
        flowId: KIS,
        runId: "backfill-kis",
        trigger: "cli",
        budget: budgetOf,
        range: { from: E2E_START - 6 * DAY_MS, to: E2E_START - 3 * DAY_MS },
      },
    ),
  ]);
  return { summaries: results.map((r) => r.summary), elapsedMs: e.clock.now() - started };
}

describe("one Jushuitan rate budget per app", () => {
  it("two flows and a backfill running at once draw no throttled answer", async () => {
    e2e = await startE2E({ otherInOut: 1500, salesOut: 900, days: 8 });
    // Small pages: a read-heavy minute (well over 100 requests between the three runs).
    for (const flow of Object.values(e2e.flows)) flow.source.paging = { ...flow.source.paging, pageSize: 5 } as typeof flow.source.paging;
    runRealTime(e2e, 5);
    const { summaries, elapsedMs } = await runAllAtOnce(e2e, true);
    const t = throttles(e2e);
    // Measured numbers (docs/performance.md): requests, throttles, emulated time.
    console.log(`shared budget: ${t.requests} Jushuitan requests, ${t.perSecond} × 199, ${t.perMinute} × 200, ${(elapsedMs / 1000).toFixed(1)} s emulated`);
    expect(t.requests).toBeGreaterThan(100);
    expect(t.perSecond + t.perMinute).toBe(0);
    expect(summaries.every((s) => s.api.every((a) => a.throttles === 0))).toBe(true);
    for (const s of summaries) expect(s.outcome, JSON.stringify(s.error)).toBe("success");
  });
});
