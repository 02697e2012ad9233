import { describe, expect, it } from "vitest";
import { contentHash, stableStringify } from "../../shared/engine/hash.ts";
import { createCallMeter, percentile } from "../../shared/engine/meter.ts";
import { DAY_MS, planWindows } from "../../shared/engine/window.ts";
import { BudgetExhaustedError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/ports.ts";
import { parseInZone } from "../../shared/util/time.ts";

const at = (s: string) => parseInZone(s)!;

describe("planWindows", () => {
  it("covers watermark − lookback … now − lag with abutting windows of at most the max size", () => {
    const { windows, rangeFrom, rangeTo } = planWindows({
      watermark: at("2024-03-01 00:00:00"),
      now: at("2024-03-20 12:00:00"),
      lookbackMs: 600_000,
      endLagMs: 300_000,
      maxWindowMs: 7 * DAY_MS,
    });
    expect(rangeFrom).toBe(at("2024-02-29 23:50:00"));
    expect(rangeTo).toBe(at("2024-03-20 11:55:00"));
    expect(windows[0]!.from).toBe(rangeFrom);
    expect(windows.at(-1)!.to).toBe(rangeTo);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.from).toBe(windows[i - 1]!.to);
    for (const w of windows) expect(w.to - w.from).toBeLessThanOrEqual(7 * DAY_MS);
    expect(windows).toHaveLength(3);
  });

  it("yields no window when the range is empty (lag ahead of watermark)", () => {
    const now = at("2024-03-01 00:00:00");
    expect(planWindows({ watermark: now, now, lookbackMs: 0, endLagMs: 60_000, maxWindowMs: DAY_MS }).windows).toEqual([]);
  });

  it("aligns merge-flow windows to whole Shanghai days and leaves the unfinished day out", () => {
    const { windows } = planWindows({
      watermark: at("2024-03-01 00:00:00"),
      now: at("2024-03-04 09:30:00"),
      lookbackMs: DAY_MS,
      endLagMs: 0,
      maxWindowMs: 2 * DAY_MS,
      alignToDays: true,
    });
    expect(windows).toEqual([
      { from: at("2024-02-29 00:00:00"), to: at("2024-03-02 00:00:00") },
      { from: at("2024-03-02 00:00:00"), to: at("2024-03-04 00:00:00") },
    ]);
  });

  it("refuses windows above 7 days with a hint", () => {
    expect(() => planWindows({ watermark: 0, now: 1, lookbackMs: 0, endLagMs: 0, maxWindowMs: 8 * DAY_MS })).toThrow(/windowDays/);
  });
});

describe("contentHash", () => {
  it("ignores key order but not values", () => {
    expect(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1, b: 2 })).not.toBe(contentHash({ a: 1, b: 3 }));
  });
});

describe("createCallMeter", () => {
  const clock: Clock = { now: () => 1000, sleep: async () => {} };

  it("refuses requests past the budget and counts per endpoint", async () => {
    const fetch = async (input: Request | string | URL) => (String(input).includes("slow") ? new Response("", { status: 503 }) : Response.json({ code: 0 }));
    const meter = createCallMeter(fetch, { maxSubrequests: 3 }, clock);
    await meter.fetch("https://api.example/a?x=1");
    await meter.fetch("https://api.example/a?x=2");
    await meter.fetch("https://api.example/slow");
    expect(meter.exhausted()).toBe(true);
    await expect(meter.fetch("https://api.example/a")).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(meter.used()).toBe(3);
    const stats = Object.fromEntries(meter.stats().map((s) => [s.endpoint, s]));
    expect(stats["api.example/a"]!.calls).toBe(2);
    expect(stats["api.example/slow"]!.errors).toBe(1);
  });

  it("counts Jushuitan in-band throttles and HTTP 409", async () => {
    const bodies = [
      new Response(JSON.stringify({ code: 199, msg: "调用频次超过限制" }), { headers: { "content-length": "40" } }),
      new Response("{}", { status: 409 }),
    ];
    const meter = createCallMeter(async () => bodies.shift()!, { maxSubrequests: 10 }, clock);
    const res = await meter.fetch("https://j/open/x");
    expect(((await res.json()) as { code: number }).code).toBe(199); // body still readable after the peek
    await meter.fetch("https://j/open/x");
    expect(meter.stats()[0]!.throttles).toBe(2);
  });

  it("stops at the deadline", async () => {
    let now = 0;
    const meter = createCallMeter(async () => new Response("{}"), { maxSubrequests: 100, deadline: 10 }, { now: () => now, sleep: async () => {} });
    await meter.fetch("https://a/b");
    now = 10;
    await expect(meter.fetch("https://a/b")).rejects.toThrow(/deadline/);
  });

  it("percentile", () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 95)).toBe(0);
  });
});
