import { describe, expect, it } from "vitest";
import { SlidingWindowRateLimiter, type RateLimit } from "../../shared/http/rate-limiter.ts";
import { ManualClock } from "../emulators/manual-clock.ts";

const JST_LIMITS: RateLimit[] = [
  { limit: 5, windowMs: 1000 },
  { limit: 100, windowMs: 60_000 },
];

/** The largest number of grants inside any half-open interval [t, t + windowMs). */
function densest(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe("SlidingWindowRateLimiter", () => {
  it("never exceeds any limit and waits no longer than needed", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: JST_LIMITS });
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      // Answers come back at once here: each grant is settled right away.
      (await limiter.acquire()).settle();
      times.push(clock.now());
    }
    expect(densest(times, 1000)).toBe(5);
    expect(densest(times, 60_000)).toBe(100);
    // Grant i lands at minute-block ⌊i/100⌋ plus one second per 5 grants: as early as the limits allow.
    times.forEach((t, i) => expect(t, `grant ${i}`).toBe(Math.floor(i / 100) * 60_000 + Math.floor((i % 100) / 5) * 1000));
    expect(limiter.granted).toBe(300);
  });

  it("serialises concurrent acquirers in arrival order without exceeding the limits", async () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: [{ limit: 3, windowMs: 500 }] });
    const order: number[] = [];
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.acquire().then((grant) => {
          grant.settle();
          order.push(i);
          times.push(clock.now());
        }),
      ),
    );
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(densest(times, 500)).toBe(3);
    expect(times.at(-1)! - times[0]!).toBe(Math.floor(19 / 3) * 500);
  });

  it("widens windows by the margin", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: [{ limit: 2, windowMs: 1000 }], marginMs: 100 });
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      (await limiter.acquire()).settle();
      times.push(clock.now());
    }
    expect(times).toEqual([0, 0, 1100, 1100]);
  });

  it("rejects an aborted wait without using a slot, and keeps serving later callers", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: [{ limit: 1, windowMs: 1000 }] });
    (await limiter.acquire()).settle();
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(limiter.acquire(controller.signal)).rejects.toThrow("stop");
    expect(limiter.granted).toBe(1);
    await limiter.acquire();
    expect(clock.now()).toBe(1000);
    expect(limiter.granted).toBe(2);
  });

  it("holds every acquirer after pauseUntil", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: [{ limit: 10, windowMs: 1000 }] });
    limiter.pauseUntil(5000);
    expect(limiter.delayAt(0)).toBe(5000);
    await limiter.acquire();
    expect(clock.now()).toBe(5000);
  });

  it("counts a grant whose answer is not back as arriving now, and a settled one from its answer", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({ clock, limits: [{ limit: 2, windowMs: 1000 }] });
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    // Both in flight: the server may count them at any instant until they answer, so a third must wait.
    expect(limiter.delayAt(5000)).toBe(1000);
    clock.set(800);
    a.settle(); // answered at 800: its slot lasts until 1800, not 1000
    b.settle();
    expect(limiter.delayAt(1000)).toBe(800);
    const third = limiter.acquire();
    await third;
    expect(clock.now()).toBe(1800);
  });

  it("never deadlocks on requests in flight: a waiter is served once one answers", async () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowRateLimiter({
      clock,
      limits: [
        { limit: 1, windowMs: 1000 },
        { limit: 100, windowMs: 60_000 },
      ],
    });
    const first = await limiter.acquire();
    const sleepSpy = clock.sleeps;
    setTimeout(() => first.settle(), 5);
    await limiter.acquire();
    // The ManualClock moves time at every sleep; what matters is that the waiter got through.
    expect(clock.sleeps).toBeGreaterThan(sleepSpy);
    expect(limiter.granted).toBe(2);
  });

  it("refuses nonsense limits", () => {
    const clock = new ManualClock(0);
    expect(() => new SlidingWindowRateLimiter({ clock, limits: [{ limit: 0, windowMs: 1000 }] })).toThrow(RangeError);
    expect(() => new SlidingWindowRateLimiter({ clock, limits: [{ limit: 1.5, windowMs: 1000 }] })).toThrow(RangeError);
  });
});
