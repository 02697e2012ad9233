import { describe, expect, it } from "vitest";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/ports.ts";
import { decideAcquire, MemoryFlowLock, withFlowLease } from "../../shared/state/lock.ts";

function testClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, sleep: async (ms) => void (t += Math.max(0, ms)), advance: (ms) => void (t += ms) };
}

describe("MemoryFlowLock (the shared lease rules)", () => {
  it("refuses a second run while the lease is live, refuses the holder's own run id too (not re-entrant), and hands over after expiry", async () => {
    const clock = testClock();
    const lock = new MemoryFlowLock(clock);
    expect(await lock.acquire("flow-a", "run-1", 60_000)).toEqual({ acquired: true, holder: "run-1", expiresAt: 1_060_000, epoch: 1_000_000 });
    expect(await lock.acquire("flow-a", "run-2", 60_000)).toEqual({ acquired: false, holder: "run-1", expiresAt: 1_060_000 });
    expect((await lock.acquire("flow-b", "run-2", 60_000)).acquired).toBe(true); // other flows are independent
    clock.advance(10_000);
    // A re-delivered event with the same run id must not run alongside the first delivery (engine-review finding 10).
    expect(await lock.acquire("flow-a", "run-1", 60_000)).toEqual({ acquired: false, holder: "run-1", expiresAt: 1_060_000 });
    expect((await lock.renew("flow-a", "run-1", 60_000)).expiresAt).toBe(1_070_000);
    clock.advance(70_000); // expiry is exclusive: at expiresAt the lease is gone
    expect(await lock.acquire("flow-a", "run-2", 30_000)).toEqual({
      acquired: true,
      holder: "run-2",
      expiresAt: 1_110_000,
      tookOverFrom: "run-1",
      epoch: 1_080_000,
    });
    expect(await lock.inspect("flow-a")).toEqual({ holder: "run-2", expiresAt: 1_110_000, expired: false });
  });

  it("renews only for the holder; a run whose lease was taken over cannot renew, release or commit", async () => {
    const clock = testClock();
    const lock = new MemoryFlowLock(clock);
    await lock.acquire("f", "run-1", 1_000);
    expect(await lock.renew("f", "run-1", 5_000)).toEqual({ renewed: true, holder: "run-1", expiresAt: 1_005_000 });
    expect(await lock.renew("f", "run-2", 5_000)).toEqual({ renewed: false, holder: "run-1", expiresAt: 1_005_000 });
    clock.advance(6_000);
    await lock.acquire("f", "run-2", 5_000);
    expect((await lock.renew("f", "run-1", 5_000)).renewed).toBe(false);
    expect(await lock.release("f", "run-1")).toEqual({ released: false, holder: "run-2" });
    expect(await lock.commit("f", "run-1", { watermark: 5 })).toEqual({ committed: false, holder: "run-2" });
    expect(await lock.commit("f", "run-2", { watermark: 9, runId: "run-2" })).toEqual({ committed: true });
    expect(await lock.read("f")).toEqual({ checkpoint: { watermark: 9, runId: "run-2" }, runId: "run-2", savedAt: 1_006_000 });
    expect(await lock.release("f", "run-2")).toEqual({ released: true });
    expect(await lock.release("f", "run-2")).toEqual({ released: false });
    expect(await lock.inspect("f")).toEqual({ expired: false });
  });

  it("validates its arguments", () => {
    expect(() => decideAcquire(null, "f", "r", 0, 0)).toThrow(ConfigError);
    expect(() => decideAcquire(null, "", "r", 10, 0)).toThrow(ConfigError);
    expect(() => decideAcquire(null, "f", "r", Number.NaN, 0)).toThrow(/lease/);
  });

  it("withFlowLease runs the task under the lease, releases it even on failure, and refuses when held", async () => {
    const lock = new MemoryFlowLock(testClock());
    await expect(
      withFlowLease(lock, "f", "run-1", 1_000, async () => {
        expect((await lock.inspect("f")).holder).toBe("run-1");
        const blocked = await withFlowLease(lock, "f", "run-2", 1_000, async () => "ran").catch((e: unknown) => e);
        expect((blocked as BridgeError).code).toBe("flow_locked");
        throw new Error("task failed");
      }),
    ).rejects.toThrow("task failed");
    expect(await lock.inspect("f")).toEqual({ expired: false });
    expect(await withFlowLease(lock, "f", "run-2", 1_000, async (lease) => lease.holder)).toBe("run-2");
  });
});
