/**
 * Edges of the read windows (shared/engine/window.ts) that a window off by one second or one day would get wrong
 * (issue 18, found by `npm run mutation -- shared/engine/window.ts`): the size limits, negative lookback and lag,
 * row ownership at whole-second boundaries, the source clock's end, halving, and the sync windows of a seed flow.
 * Times are explicit: nothing here reads the clock.
 */
import { describe, expect, it } from "vitest";
import kisFlow from "../../shared/flows/jst-other-in-to-kis.json" with { type: "json" };
import tplusFlow from "../../shared/flows/jst-sales-out-to-tplus.json" with { type: "json" };
import { loadFlow } from "../../shared/flow/schema.ts";
import { DAY_MS, halveWindow, MAX_JST_WINDOW_MS, ownsInstant, planSyncWindows, planWindows, sourceClockEnd } from "../../shared/engine/window.ts";
import { parseInZone } from "../../shared/util/time.ts";

const at = (s: string) => parseInZone(s)!;
const plan = (over: Partial<Parameters<typeof planWindows>[0]>) =>
  planWindows({ watermark: at("2024-03-01 00:00:00"), now: at("2024-03-01 06:00:00"), lookbackMs: 0, endLagMs: 0, maxWindowMs: DAY_MS, ...over });

describe("planWindows limits", () => {
  it("accepts exactly 7 days and refuses 0 ms and 7 days + 1 ms, naming incremental.windowDays", () => {
    expect(plan({ maxWindowMs: MAX_JST_WINDOW_MS }).windows).toHaveLength(1);
    expect(MAX_JST_WINDOW_MS).toBe(7 * DAY_MS);
    for (const maxWindowMs of [0, -DAY_MS, MAX_JST_WINDOW_MS + 1]) {
      expect(() => plan({ maxWindowMs }), String(maxWindowMs)).toThrow(/outside \(0, 7 days\] — set incremental\.windowDays between 1 and 7/);
    }
  });

  it("a negative lookback or end lag counts as none: the range is watermark … now", () => {
    const { rangeFrom, rangeTo, windows } = plan({ lookbackMs: -60_000, endLagMs: -60_000 });
    expect([rangeFrom, rangeTo]).toEqual([at("2024-03-01 00:00:00"), at("2024-03-01 06:00:00")]);
    expect(windows).toEqual([{ from: rangeFrom, to: rangeTo }]);
  });

  it("day-aligned with keepStart keeps the watermark's start, and still ends at the start of today", () => {
    const { rangeFrom, rangeTo } = plan({ watermark: at("2024-03-01 10:20:00"), now: at("2024-03-03 09:00:00"), alignToDays: true, keepStart: true });
    expect(rangeFrom).toBe(at("2024-03-01 10:20:00"));
    expect(rangeTo).toBe(at("2024-03-03 00:00:00"));
    const aligned = plan({ watermark: at("2024-03-01 10:20:00"), now: at("2024-03-03 09:00:00"), alignToDays: true });
    expect(aligned.windows).toEqual([
      { from: at("2024-03-01 00:00:00"), to: at("2024-03-02 00:00:00") },
      { from: at("2024-03-02 00:00:00"), to: at("2024-03-03 00:00:00") },
    ]);
  });

  it("a day-aligned window starting mid-day ends on the next day boundary, not a full window later", () => {
    const { windows } = plan({
      watermark: at("2024-03-01 10:20:00"),
      now: at("2024-03-05 09:00:00"),
      alignToDays: true,
      keepStart: true,
      maxWindowMs: 2 * DAY_MS,
    });
    expect(windows).toEqual([
      { from: at("2024-03-01 10:20:00"), to: at("2024-03-03 00:00:00") },
      { from: at("2024-03-03 00:00:00"), to: at("2024-03-05 00:00:00") },
    ]);
  });
});

describe("planWindows cuts", () => {
  it("unaligned windows are cut at the window size, not on day boundaries", () => {
    const { windows } = plan({ watermark: at("2024-03-01 10:20:00"), now: at("2024-03-04 12:00:00"), maxWindowMs: 2 * DAY_MS });
    expect(windows).toEqual([
      { from: at("2024-03-01 10:20:00"), to: at("2024-03-03 10:20:00") },
      { from: at("2024-03-03 10:20:00"), to: at("2024-03-04 12:00:00") },
    ]);
  });

  it("day-aligned windows are at least a whole day, even with a window size under a day", () => {
    const { windows } = plan({ now: at("2024-03-03 09:00:00"), alignToDays: true, maxWindowMs: DAY_MS / 2 });
    expect(windows).toEqual([
      { from: at("2024-03-01 00:00:00"), to: at("2024-03-02 00:00:00") },
      { from: at("2024-03-02 00:00:00"), to: at("2024-03-03 00:00:00") },
    ]);
  });

  it("the window-size error carries its hint for the operator", () => {
    expect(() => plan({ maxWindowMs: 0 })).toThrow(expect.objectContaining({ hint: expect.stringContaining("incremental.windowDays") }));
  });
});

describe("ownsInstant: whole-second boundaries, each row one owner", () => {
  const Y = at("2024-03-01 12:00:00");
  it("owns [second(from), second(to)) and keeps rows without an instant", () => {
    const w = { from: Y + 700, to: Y + 10_700 };
    expect(ownsInstant(w, Y + 300)).toBe(true);
    expect(ownsInstant(w, Y)).toBe(true);
    expect(ownsInstant(w, Y - 1)).toBe(false);
    expect(ownsInstant(w, Y + 9_999)).toBe(true);
    expect(ownsInstant(w, Y + 10_000)).toBe(false);
    expect(ownsInstant(w, undefined)).toBe(true);
    // The window before it ends where this one begins: Y.300 is not its row.
    expect(ownsInstant({ from: Y - 10_000, to: Y + 700 }, Y + 300)).toBe(false);
  });
});

describe("sourceClockEnd", () => {
  const now = at("2024-03-01 12:00:00");
  it("is undefined without a source clock or when it is less than a second behind", () => {
    expect(sourceClockEnd({ now, sourceNow: undefined, endLagMs: 0 })).toBeUndefined();
    expect(sourceClockEnd({ now, sourceNow: now - 999, endLagMs: 0 })).toBeUndefined();
    expect(sourceClockEnd({ now, sourceNow: now + 5_000, endLagMs: 0 })).toBeUndefined();
  });

  it("a source clock a second or more behind ends the range at its time minus the lag (day-aligned for merge flows)", () => {
    expect(sourceClockEnd({ now, sourceNow: now - 1000, endLagMs: 60_000 })).toBe(now - 61_000);
    expect(sourceClockEnd({ now, sourceNow: now - 1000, endLagMs: -60_000 })).toBe(now - 1000);
    expect(sourceClockEnd({ now, sourceNow: now - 20 * 60_000, endLagMs: 0, alignToDays: true })).toBe(at("2024-03-01 00:00:00"));
  });
});

describe("halveWindow", () => {
  const d = at("2024-03-01 00:00:00");
  it("splits a day-aligned window of several days on the middle day boundary", () => {
    expect(halveWindow({ from: d, to: d + 4 * DAY_MS }, true)).toBe(d + 2 * DAY_MS);
    expect(halveWindow({ from: d, to: d + 3 * DAY_MS }, true)).toBe(d + DAY_MS);
    expect(halveWindow({ from: d, to: d + 2 * DAY_MS }, true)).toBe(d + DAY_MS);
  });

  it("splits a one-day (or unaligned) window on its middle second, and a one-second window not at all", () => {
    expect(halveWindow({ from: d, to: d + DAY_MS }, true)).toBe(d + DAY_MS / 2);
    expect(halveWindow({ from: d, to: d + 4 * DAY_MS })).toBe(d + 2 * DAY_MS);
    expect(halveWindow({ from: d, to: d + 3_000 })).toBe(d + 1_000);
    expect(halveWindow({ from: d, to: d + 2_000 })).toBe(d + 1_000);
    expect(halveWindow({ from: d, to: d + 1_000 })).toBeUndefined();
    expect(halveWindow({ from: d + 500, to: d + 1_500 })).toBe(d + 1_000);
    expect(halveWindow({ from: d + 200, to: d + 900 })).toBeUndefined();
  });
});

describe("planSyncWindows (sync and reconcile over a range)", () => {
  const range = { from: at("2024-03-01 10:00:00"), to: at("2024-03-03 10:00:00") };
  it("day-merged T+ flow: whole days, the unfinished last day left out, no lookback", () => {
    expect(planSyncWindows(loadFlow(tplusFlow), range, 7 * DAY_MS)).toEqual([{ from: at("2024-03-01 00:00:00"), to: at("2024-03-03 00:00:00") }]);
  });

  it("per-document KIS flow: exactly the range, cut at the window size", () => {
    expect(planSyncWindows(loadFlow(kisFlow), range, DAY_MS)).toEqual([
      { from: range.from, to: range.from + DAY_MS },
      { from: range.from + DAY_MS, to: range.to },
    ]);
  });
});
