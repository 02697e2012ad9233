/**
 * Where a flow without a checkpoint starts reading. A merged-by-day flow closes whole days, so its first run must
 * cover the whole of yesterday: starting "one day before now" made the first day voucher hold only the members saved
 * after the hour of the first run (at 23:50 Shanghai time: 40 minutes of a day), and `npm start`'s T+ demo wrote
 * nothing late in the evening.
 */
import { describe, expect, it } from "vitest";
import { incrementalSettings } from "../../shared/engine/runner.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";

const DAY = 86_400_000;
// 2026-12-05 23:50 and 00:10 in Asia/Shanghai (UTC+8).
const lateEvening = Date.UTC(2026, 11, 5, 15, 50);
const justAfterMidnight = Date.UTC(2026, 11, 4, 16, 10);

describe("the first run's start point", () => {
  for (const [name, now] of [
    ["23:50", lateEvening],
    ["00:10", justAfterMidnight],
  ] as const) {
    it(`a merged-by-day flow (T+ seed) started at ${name} reads the whole of yesterday, with its lookback before it`, () => {
      const flow = seedFlow("jst-sales-out-to-tplus");
      const s = incrementalSettings(flow, now);
      const yesterday = startOfDayInZone(now - DAY, flow.timezone);
      expect(s.startAt).toBe(yesterday - s.lookbackMs);
    });
  }

  it("a per-document flow (KIS seed) still starts one day and its lookback before now", () => {
    const flow = seedFlow("jst-other-in-to-kis");
    const s = incrementalSettings(flow, lateEvening);
    expect(s.startAt).toBe(lateEvening - DAY - s.lookbackMs);
  });

  it("incremental.startAt still wins", () => {
    const flow = seedFlow("jst-sales-out-to-tplus");
    const s = incrementalSettings({ ...flow, incremental: { ...flow.incremental, startAt: "2026-11-01" } }, lateEvening);
    expect(s.startAt).toBe(Date.UTC(2026, 9, 31, 16));
  });
});
