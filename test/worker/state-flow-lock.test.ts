import { env as untypedEnv } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DoFlowLock } from "../../worker/do-lock.ts";
import type { FlowLock } from "../../worker/flow-lock.ts";
import type { Env } from "../../worker/env.ts";

// worker/cloudflare-globals.d.ts does not type `env` yet (an `extends import(...)` clause is ignored under skipLibCheck).
const env = untypedEnv as unknown as Env;

// Time is passed into the Durable Object (`now`), so lease expiry is tested without sleeping.
const T0 = Date.UTC(2024, 6, 1, 4);

function stubFor(flowId: string) {
  return env.FLOW_LOCK.get(env.FLOW_LOCK.idFromName(flowId));
}

describe("FlowLock Durable Object", () => {
  it("refuses a second acquire while the lease is held", async () => {
    const stub = stubFor("lock-a");
    expect(await stub.acquire("lock-a", "run-1", 60_000, T0)).toEqual({ acquired: true, holder: "run-1", expiresAt: T0 + 60_000, epoch: T0 });
    expect(await stub.acquire("lock-a", "run-2", 60_000, T0 + 59_999)).toEqual({ acquired: false, holder: "run-1", expiresAt: T0 + 60_000 });
    expect(await stub.inspect("lock-a", T0 + 1)).toEqual({ holder: "run-1", expiresAt: T0 + 60_000, expired: false });
  });

  it("lets another run take over an expired lease; the old holder can then neither renew nor release", async () => {
    const stub = stubFor("lock-b");
    await stub.acquire("lock-b", "run-1", 5_000, T0);
    expect(await stub.acquire("lock-b", "run-2", 5_000, T0 + 5_000)).toEqual({
      acquired: true,
      holder: "run-2",
      expiresAt: T0 + 10_000,
      tookOverFrom: "run-1",
      epoch: T0 + 5_000,
    });
    expect((await stub.renew("lock-b", "run-1", 5_000, T0 + 5_001)).renewed).toBe(false);
    expect(await stub.release("lock-b", "run-1")).toEqual({ released: false, holder: "run-2" });
    expect(await stub.renew("lock-b", "run-2", 5_000, T0 + 6_000)).toEqual({ renewed: true, holder: "run-2", expiresAt: T0 + 11_000 });
  });

  it("refuses release by a non-holder and frees the lease on release by the holder", async () => {
    const stub = stubFor("lock-c");
    await stub.acquire("lock-c", "run-1", 60_000, T0);
    expect(await stub.release("lock-c", "intruder")).toEqual({ released: false, holder: "run-1" });
    expect((await stub.acquire("lock-c", "run-2", 60_000, T0 + 1)).acquired).toBe(false);
    expect(await stub.release("lock-c", "run-1")).toEqual({ released: true });
    expect((await stub.acquire("lock-c", "run-2", 60_000, T0 + 2)).acquired).toBe(true);
  });

  it("keeps the lease in SQLite storage (survives a new stub) and commits checkpoints only from the holder", async () => {
    const stub = stubFor("lock-d");
    await stub.acquire("lock-d", "run-1", 60_000, T0);
    expect(await stub.commit("lock-d", "run-9", { watermark: 1 }, T0)).toEqual({ committed: false, holder: "run-1" });
    expect(await stub.commit("lock-d", "run-1", { watermark: 42, cursor: { page: 3 }, runId: "run-1" }, T0 + 10)).toEqual({ committed: true });
    const again = stubFor("lock-d");
    expect(await again.read("lock-d")).toEqual({ checkpoint: { watermark: 42, cursor: { page: 3 }, runId: "run-1" }, runId: "run-1", savedAt: T0 + 10 });
    const rows = await runInDurableObject(again, (_instance: FlowLock, state) => state.storage.sql.exec("SELECT run_id, expires_at FROM lease").toArray());
    expect(rows).toEqual([{ run_id: "run-1", expires_at: T0 + 60_000 }]);
  });

  it("fencing: each acquire issues a larger epoch (also after a release); renew and commit with a stale epoch are refused, even for the same run id", async () => {
    const stub = stubFor("lock-f");
    const first = await stub.acquire("lock-f", "run-1", 5_000, T0);
    // The same event delivered again after the lease lapsed takes it over under the same run id.
    const again = await stub.acquire("lock-f", "run-1", 5_000, T0 + 6_000);
    expect(again.acquired).toBe(true);
    expect(again.epoch!).toBeGreaterThan(first.epoch!);
    expect((await stub.renew("lock-f", "run-1", 5_000, T0 + 6_001, first.epoch)).renewed).toBe(false);
    expect(await stub.commit("lock-f", "run-1", { watermark: 1, runId: "run-1" }, T0 + 6_001, first.epoch)).toEqual({ committed: false, holder: "run-1" });
    expect(await stub.commit("lock-f", "run-1", { watermark: 2, runId: "run-1" }, T0 + 6_002, again.epoch)).toEqual({ committed: true });
    expect((await stub.renew("lock-f", "run-1", 5_000, T0 + 6_003, again.epoch)).renewed).toBe(true);
    expect((await stub.release("lock-f", "run-1")).released).toBe(true);
    // The clock of the object went back (or two acquires in one millisecond): the epoch still grows.
    const third = await stub.acquire("lock-f", "run-2", 5_000, T0);
    expect(third.epoch!).toBeGreaterThan(again.epoch!);
  });

  it("rejects invalid arguments with a clear message", async () => {
    const message = await runInDurableObject(stubFor("lock-e"), (instance: FlowLock) => {
      try {
        instance.acquire("lock-e", "run-1", -5, T0);
        return "accepted";
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(message).toMatch(/Invalid lease length -5 ms/);
  });
});

describe("DoFlowLock adapter (FlowLockPort over the DO)", () => {
  it("addresses one object per flow and applies the lease rules", async () => {
    let now = T0;
    const lock = new DoFlowLock(env.FLOW_LOCK, { now: () => now });
    expect((await lock.acquire("adapter-a", "run-1", 1_000)).acquired).toBe(true);
    expect((await lock.acquire("adapter-b", "run-2", 1_000)).acquired).toBe(true); // independent flow
    expect((await lock.acquire("adapter-a", "run-2", 1_000)).acquired).toBe(false);
    now += 1_000;
    expect(await lock.inspect("adapter-a")).toEqual({ holder: "run-1", expiresAt: T0 + 1_000, expired: true });
    expect((await lock.acquire("adapter-a", "run-2", 1_000)).tookOverFrom).toBe("run-1");
    expect(await lock.commit("adapter-a", "run-2", { watermark: 7 })).toEqual({ committed: true });
    expect((await lock.read("adapter-a"))?.checkpoint).toEqual({ watermark: 7 });
    expect(await lock.release("adapter-a", "run-1")).toEqual({ released: false, holder: "run-2" });
    expect(await lock.release("adapter-a", "run-2")).toEqual({ released: true });
    await expect(lock.acquire("adapter-a", "", 1_000)).rejects.toThrow(/run id/);
  });
});
