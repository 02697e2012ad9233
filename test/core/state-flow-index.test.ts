/**
 * The engine's state over the flow index (shared/state/indexed-state.ts) with the real FlowStateStore on memory KV and
 * MemoryFlowCoordinator (the Durable Object's rules in memory): a run that lost its lease changes nothing in the index
 * (checkpoint, registry, plans, markers: one fenced step each); registry entries merge as a union; the first run after
 * the upgrade reads the KV checkpoint once; a settled run leaves no marker.
 */
import { describe, expect, it } from "vitest";
import { engineStateOver } from "../../shared/engine/runner.ts";
import type { Checkpoint } from "../../shared/engine/types.ts";
import { silentLogger } from "../../shared/ports.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { indexedState } from "../../shared/state/indexed-state.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { ManualClock } from "../emulators/manual-clock.ts";

const FLOW = "flow-x";
const T0 = Date.UTC(2024, 5, 20);

function setup() {
  const clock = new ManualClock(T0);
  const kv = new MemoryKeyValueStore();
  const store = new FlowStateStore(kv, { clock, writeIntervalMs: 0 });
  const lock = new MemoryFlowCoordinator(clock);
  const stateFor = (runId: string, epoch: number | undefined) =>
    indexedState(engineStateOver(store, undefined, kv), {
      index: lock,
      flowId: FLOW,
      runId,
      epoch,
      now: () => clock.now(),
      logger: silentLogger,
      runSettled: async () => false,
    });
  return { clock, kv, store, lock, stateFor };
}

const cp = (watermark: number, runId: string): Checkpoint => ({ watermark, runId, updatedAt: watermark });
const group = (members: string[], supplements: number, writtenAt: number, runId = "r") => ({
  externalKey: "group:G",
  contentHash: "group",
  members,
  supplements,
  writtenAt,
  runId,
});

describe("engine state over the flow index", () => {
  it("a run whose lease was taken over gets lease_lost from every commit and changes nothing", async () => {
    const { clock, lock, stateFor } = setup();
    const a = await lock.acquire(FLOW, "run-a", 5_000);
    const stateA = stateFor("run-a", a.epoch);
    await stateA.loadCheckpoint(FLOW);
    await stateA.saveCheckpoint(FLOW, cp(1, "run-a"));
    clock.advance(6_000); // run-a stalls past its lease; run-b takes the flow over
    const b = await lock.acquire(FLOW, "run-b", 5_000);
    const stateB = stateFor("run-b", b.epoch);
    expect(await stateB.loadCheckpoint(FLOW)).toEqual(cp(1, "run-a"));
    await stateB.saveCheckpoint(FLOW, cp(2, "run-b"));

    await expect(stateA.saveCheckpoint(FLOW, cp(99, "run-a"))).rejects.toMatchObject({ code: "lease_lost" });
    await expect(stateA.ledgerAppend(FLOW, [group(["x"], 0, clock.now(), "run-a")])).rejects.toMatchObject({ code: "lease_lost" });
    await expect(
      stateA.outbox!.put(FLOW, { v: 1, unit: "G#S0", groupKey: "G", supplement: 0, parts: [], members: [], planHash: "h", runId: "run-a", createdAt: 0 }),
    ).rejects.toMatchObject({ code: "lease_lost" });
    await expect(stateA.writeMarker!.mark(FLOW, "run-a", clock.now())).rejects.toMatchObject({ code: "lease_lost" });
    const snap = await lock.loadIndex(FLOW, { groupsSince: 0 });
    expect(snap).toMatchObject({ checkpoint: cp(2, "run-b"), groups: [], plans: [], markers: [] });
  });

  it("registry entries merge as a union with the KV ledger's, whatever the writers' clocks", async () => {
    const { clock, lock, store, stateFor } = setup();
    // A CLI host whose clock ran 10 minutes ahead left an entry in the KV ledger.
    await store.ledgerAppend(FLOW, [group(["a", "b"], 1, T0 + 600_000)]);
    const { epoch } = await lock.acquire(FLOW, "run-1", 60_000);
    const state = stateFor("run-1", epoch);
    await state.loadCheckpoint(FLOW);
    await state.ledgerAppend(FLOW, [group(["c"], 0, clock.now())]);
    const view = await stateFor("run-2", undefined).ledgerView(FLOW);
    expect(view("group:G")?.members?.sort()).toEqual(["a", "b", "c"]);
    expect(view("group:G")?.supplements).toBe(1);
    expect((await lock.loadIndex(FLOW, { groupsSince: 0 })).groups[0]?.members).toEqual(["c"]);
  });

  it("the first run after the upgrade reads the KV checkpoint once; later runs read the index only", async () => {
    const { lock, store, kv, stateFor } = setup();
    await store.saveCheckpoint(FLOW, cp(5, "old-run"));
    const { epoch } = await lock.acquire(FLOW, "run-1", 60_000);
    const first = stateFor("run-1", epoch);
    expect((await first.loadCheckpoint(FLOW))?.watermark).toBe(5);
    await first.saveCheckpoint(FLOW, cp(7, "run-1"));
    await lock.release(FLOW, "run-1");
    await kv.delete("wm:" + FLOW); // the KV view may be stale or gone: the index decides
    const second = stateFor("run-2", (await lock.acquire(FLOW, "run-2", 60_000)).epoch);
    expect(await second.loadCheckpoint(FLOW)).toEqual(cp(7, "run-1"));
    expect(await second.hasCheckpoint(FLOW)).toBe(true);
  });
});
