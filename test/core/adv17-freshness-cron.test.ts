/**
 * Adversary 17: a stalled watermark must be alerted whatever shape the flow's schedule has. Common business-hours
 * and twice-a-day crons ("*\/5 1-10 * * *", "0 9-18 * * 1-5", "0 0,12 * * *") had no known interval, so the
 * default stall threshold was null and a watermark held for a week raised nothing.
 */
import { describe, expect, it } from "vitest";
import { cronIntervalMs, flowFreshness } from "../../shared/observe/freshness.ts";

describe("adversary 17: stall alert for every cron shape", () => {
  it("a business-hours or twice-a-day cron still has a stall threshold, and a week-old watermark alerts", () => {
    const now = Date.UTC(2024, 5, 20, 2, 0, 0);
    for (const cron of ["*/5 1-10 * * *", "0 9-18 * * 1-5", "0 0,12 * * *", "15 1,5,9 * * *"]) {
      const interval = cronIntervalMs(cron);
      expect(interval, cron).not.toBeNull();
      const f = flowFreshness({
        runs: [],
        watermark: now - 7 * 86_400_000,
        now,
        policy: { intervalMs: interval, alignToDays: false, endLagMs: 300_000 },
        hourly: new Map(),
      });
      expect(
        f.alerts.map((a) => a.event),
        cron,
      ).toEqual(["watermark_stalled"]);
    }
    // 3 × the interval = the longest quiet gap + two shortest intervals: 36 h for twice a day; for hourly on
    // weekdays 9-18 the weekend (Fri 18:00 → Mon 09:00, 63 h) + 2 h.
    expect(3 * cronIntervalMs("0 0,12 * * *")!).toBe(36 * 3_600_000);
    expect(3 * cronIntervalMs("0 9-18 * * 1-5")!).toBe(65 * 3_600_000);
    // The shapes known before keep their interval.
    expect(cronIntervalMs("*/5 * * * *")).toBe(300_000);
    expect(cronIntervalMs("30 18 * * *")).toBe(86_400_000);
  });
});
