/**
 * Fencing (issue 12 item 7, engine-review finding 10): the lock issues an epoch on acquire; renewals and checkpoint
 * commits carry it and are refused for a stale epoch, so a run that lost its lease (also to a re-delivery of its own
 * run id) cannot overwrite a newer run's checkpoint.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("epochs", () => {
  it("every acquire issues a larger epoch; a commit or renewal with a stale epoch is refused, even for the same run id", async () => {
    let now = 1_000_000;
    const lock = new MemoryFlowLock({ now: () => now, sleep: async () => {} });
    const first = await lock.acquire(KIS, "run-x", 60_000);
    expect(first.acquired).toBe(true);
    expect(first.epoch).toBeGreaterThan(0);
    now += 120_000; // run-x stalls past its lease; its event is delivered again and takes the lease over
    const again = await lock.acquire(KIS, "run-x", 60_000);
    expect(again.acquired).toBe(true);
    expect(again.epoch!).toBeGreaterThan(first.epoch!);
    const cp = { watermark: 5, runId: "run-x", updatedAt: now };
    expect((await lock.commit(KIS, "run-x", cp, first.epoch)).committed).toBe(false);
    expect((await lock.renew(KIS, "run-x", 60_000, first.epoch)).renewed).toBe(false);
    expect((await lock.commit(KIS, "run-x", cp, again.epoch)).committed).toBe(true);
    expect((await lock.renew(KIS, "run-x", 60_000, again.epoch)).renewed).toBe(true);
    // Released and acquired again: still larger (the epoch never goes back).
    await lock.release(KIS, "run-x");
    const third = await lock.acquire(KIS, "run-y", 60_000);
    expect(third.epoch!).toBeGreaterThan(again.epoch!);
  });
});

describe("engine: a run that lost its lease to a re-delivery of its own event", () => {
  it("stops before its next write or checkpoint save; the newer holder's checkpoint stands", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 80 });
    const current = e2e;
    const store = new FlowStateStore(e2e.kv);
    let creates = 0;
    let createsAfterTakeover = 0;
    let takenOver = false;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      if (/create$/.test(url.pathname)) {
        creates++;
        if (takenOver) createsAfterTakeover++;
        if (creates === 3) {
          // The run stalls past its lease; the same cron event is delivered again and takes the flow over.
          current.clock.advance(2 * 60_000);
          expect((await current.lock.acquire(KIS, "test-1", 15 * 60_000)).acquired).toBe(true);
          await store.saveCheckpoint(KIS, { watermark: 42, runId: "test-1", updatedAt: current.clock.now(), cursor: null });
          takenOver = true;
        }
      }
      return globalThis.fetch(input, init);
    };
    const { summary } = await e2e.run(KIS, { leaseMs: 60_000, runId: "test-1" }, { fetch });
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.code).toBe("lease_lost");
    expect(createsAfterTakeover).toBe(0);
    expect((await store.getWatermark<{ watermark: number }>(KIS))!.watermark).toBe(42);
  });
});
