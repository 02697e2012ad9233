/**
 * Freshness (issue 17 item 2): the lag of every posted document measured by the real engine against the
 * emulators, the stall and objective decisions, and their alerts through the robot emulator.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseJstTime } from "../../shared/connectors/jushuitan/paging.ts";
import { notifyObservations } from "../../shared/observe/alerts.ts";
import { cronIntervalMs, flowFreshness, type FreshnessStats, freshnessOf, hourlyOf, poolFreshness } from "../../shared/observe/freshness.ts";
import { freshnessKey, utcDay } from "../../shared/observe/trace.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { DINGTALK_SECRET, httpFetch, type ReceiverSetup, startReceiver } from "./alerts-fixture.ts";

const KIS = "jst-other-in-to-kis";
let e2e: E2E | undefined;
let receiver: ReceiverSetup | undefined;
afterEach(async () => {
  await e2e?.close();
  await receiver?.close();
  e2e = undefined;
  receiver = undefined;
});

const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

describe("freshness", () => {
  it("records each run's lag (posted − 聚水潭 modified) in the run record and the hourly rollup", async () => {
    e2e = await startE2E({ otherInOut: 600, salesOut: 0 });
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).toBe("success");
    const stored = (await new FlowStateStore(e2e.kv).listRuns(KIS, 1))[0] as unknown as { freshness?: FreshnessStats };
    const f = stored.freshness!;
    expect(f.n).toBe(summary.counts.written);
    // Independently: every bill's source document's `modified`, against the run's start and end.
    const docs = new Map(
      e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => [String((d as Record<string, unknown>).io_id), d as Record<string, unknown>]),
    );
    const modified = e2e.stack.kis
      .bills()
      .map((b) => docs.get(String((b as unknown as { Head: { FBillNo: string } }).Head.FBillNo)))
      .map((d) => parseJstTime(d!.modified, "Asia/Shanghai")!)
      .sort((a, b) => b - a); // newest first = smallest lag first
    expect(modified).toHaveLength(f.n);
    const lo = modified.map((m) => summary.startedAt - m);
    const hi = modified.map((m) => summary.finishedAt - m);
    for (const [p, got] of [
      [50, f.p50Ms],
      [95, f.p95Ms],
      [100, f.maxMs],
    ] as const) {
      expect(got).toBeGreaterThanOrEqual(quantile(lo, p));
      expect(got).toBeLessThanOrEqual(quantile(hi, p));
    }
    const hourly = hourlyOf(utcDay(e2e.clock.now()), await e2e.kv.get(freshnessKey(KIS, utcDay(e2e.clock.now()))));
    expect([...hourly.values()].reduce((n, h) => n + h.n, 0)).toBe(f.n);
  }, 60_000);

  it("pools runs by count and reads cron intervals", () => {
    const a = freshnessOf(Array.from({ length: 100 }, () => 60_000))!;
    const b = freshnessOf([600_000])!;
    const pooled = poolFreshness([a, b])!;
    expect(pooled.n).toBe(101);
    expect(pooled.p95Ms).toBe(60_000); // one slow document in 101 is not the p95
    expect(pooled.maxMs).toBe(600_000);
    expect(cronIntervalMs("* * * * *")).toBe(60_000);
    expect(cronIntervalMs("*/5 * * * *")).toBe(300_000);
    expect(cronIntervalMs("0 * * * *")).toBe(3_600_000);
    expect(cronIntervalMs("30 18 * * *")).toBe(86_400_000);
  });

  it("alerts on a stalled watermark although every run succeeds, and on p95 over the objective; clears once", async () => {
    const now = Date.UTC(2024, 5, 20, 2, 0, 0);
    const okRuns = Array.from({ length: 5 }, (_, i) => ({
      startedAt: now - i * 60_000,
      finishedAt: now - i * 60_000 + 500,
      watermarkBefore: now - 3_600_000,
      watermarkAfter: now - 3_600_000,
    }));
    const policy = { intervalMs: 60_000, alignToDays: false, endLagMs: 5 * 60_000, objectiveP95Ms: 120_000 };
    const healthy = flowFreshness({ runs: okRuns, watermark: now - 6 * 60_000, now, policy, hourly: new Map() });
    expect(healthy.alerts).toEqual([]);
    const stalled = flowFreshness({
      runs: okRuns,
      watermark: now - 3_600_000,
      now,
      policy,
      hourly: new Map([[now - 3_600_000, freshnessOf([300_000, 400_000])!]]),
    });
    expect(stalled.alerts.map((a) => a.event)).toEqual(["watermark_stalled", "lag_objective"]);
    expect(stalled.stallThresholdMs).toBe(180_000);
    // Day-aligned (merged) flows: the watermark moves once a day, so a day more is normal.
    expect(flowFreshness({ runs: okRuns, watermark: now - 20 * 3_600_000, now, policy: { ...policy, alignToDays: true }, hourly: new Map() }).alerts).toEqual(
      [],
    );

    receiver = await startReceiver();
    const kv = new MemoryKeyValueStore({ now: () => receiver!.clock.now() });
    const deps = {
      env: { ALERT_WEBHOOK_URL: receiver.urls.dingtalk, ALERT_KIND: "dingtalk", ALERT_SECRET: DINGTALK_SECRET, ALERT_PERIOD_MINUTES: "30" },
      kv,
      fetch: httpFetch,
      clock: receiver.clock,
    };
    const events = ["watermark_stalled", "lag_objective"] as const;
    expect((await notifyObservations(KIS, events, stalled.alerts, deps)).sent).toEqual(["watermark_stalled", "lag_objective"]);
    receiver.clock.advance(60_000);
    expect((await notifyObservations(KIS, events, stalled.alerts, deps)).sent).toEqual([]); // grouped within the period
    receiver.clock.advance(31 * 60_000);
    expect(await notifyObservations(KIS, events, stalled.alerts.slice(0, 1), deps)).toMatchObject({ sent: ["watermark_stalled"], cleared: ["lag_objective"] });
    const texts = receiver.receiver.accepted().map((r) => (r.body as { markdown: { text: string } }).markdown.text);
    expect(texts).toHaveLength(4);
    expect(texts[0]).toContain("水位停止前进 / watermark stalled");
    expect(texts[0]).toContain("threshold 3 min");
    expect(texts[3]).toContain("cleared");
  });
});
