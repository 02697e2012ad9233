/**
 * The flow index in the FlowLock Durable Object (worker/flow-index-do.ts), in workerd with real SQLite storage:
 * commits carry the lease's epoch and are refused, whole, for a stale one; the registry merges as a union; plans,
 * markers and a checkpoint larger than one SQLite row survive a new stub. Then a cron tick of both seed flows leaves
 * the checkpoint and the registry in the object (and a KV checkpoint view for dashboards).
 */
import { env as untypedEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import type { OutboxPlan } from "../../shared/state/outbox-store.ts";
import { DoFlowLock } from "../../worker/do-lock.ts";
import type { Env } from "../../worker/env.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { createStack, fillReferenceTables, fireCron, JST, startFlowAt, workerEnv } from "./stack.ts";

const env = untypedEnv as unknown as Env;
const T0 = Date.UTC(2024, 6, 1, 4);

function lockAt(now: { t: number }) {
  return new DoFlowLock(env.FLOW_LOCK, { now: () => now.t });
}

const plan = (unit: string, payloadChars = 10): OutboxPlan => ({
  v: 1,
  unit,
  groupKey: unit.split("#")[0]!,
  supplement: 0,
  parts: [{ externalKey: `${unit}-1`, payload: { memo: "x".repeat(payloadChars) }, members: ["a"], contentHash: "h" }],
  members: ["a"],
  planHash: "p",
  runId: "run-1",
  createdAt: T0,
});

describe("flow index in the FlowLock Durable Object", () => {
  it("a commit with a stale epoch is refused whole: after a takeover the old holder changes nothing", async () => {
    const now = { t: T0 };
    const lock = lockAt(now);
    const first = await lock.acquire("idx-a", "run-1", 5_000);
    expect((await lock.commitIndex("idx-a", "run-1", first.epoch, { checkpoint: { watermark: 10, runId: "run-1", updatedAt: T0 } })).committed).toBe(true);
    now.t = T0 + 6_000; // run-1 stalled past its lease; run-2 takes over
    const second = await lock.acquire("idx-a", "run-2", 5_000);
    expect(second.tookOverFrom).toBe("run-1");
    const stale = await lock.commitIndex("idx-a", "run-1", first.epoch, {
      checkpoint: { watermark: 99, runId: "run-1", updatedAt: now.t },
      groups: [{ externalKey: "group:G", contentHash: "group", members: ["x"], writtenAt: now.t, runId: "run-1" }],
      openPlans: [plan("G#S0")],
      mark: { at: now.t },
    });
    expect(stale).toEqual({ committed: false, holder: "run-2" });
    // Also the same run id with the old epoch (a re-delivered event that took its own lease over) is refused.
    const snap = await lock.loadIndex("idx-a", { groupsSince: 0 });
    expect(snap).toEqual({ initialized: true, checkpoint: { watermark: 10, runId: "run-1", updatedAt: T0 }, groups: [], plans: [], markers: [] });
    expect((await lock.commitIndex("idx-a", "run-2", second.epoch, { checkpoint: { watermark: 20, runId: "run-2", updatedAt: now.t } })).committed).toBe(true);
  });

  it("registry entries merge as a union (members, max supplements), whatever the writers' clocks; plans and markers open and close", async () => {
    const now = { t: T0 };
    const lock = lockAt(now);
    const { epoch } = await lock.acquire("idx-b", "run-1", 60_000);
    const entry = (members: string[], supplements: number, writtenAt: number) => ({
      externalKey: "group:G",
      contentHash: "group",
      members,
      supplements,
      writtenAt,
      runId: "run-1",
    });
    // A host whose clock runs 10 minutes ahead wrote first; the newer entry with fewer members must not hide its members.
    await lock.commitIndex("idx-b", "run-1", epoch, {
      groups: [entry(["a", "b"], 1, T0 + 600_000)],
      openPlans: [plan("G#S1"), plan("H#S0")],
      mark: { at: T0 },
    });
    await lock.commitIndex("idx-b", "run-1", epoch, { groups: [entry(["c"], 0, T0)], closePlans: ["G#S1"] });
    const snap = await lock.loadIndex("idx-b", { groupsSince: 0 });
    expect(snap.groups).toHaveLength(1);
    expect(snap.groups[0]!.members!.sort()).toEqual(["a", "b", "c"]);
    expect(snap.groups[0]!.supplements).toBe(1);
    expect(snap.plans.map((p) => p.unit)).toEqual(["H#S0"]);
    expect(snap.markers).toEqual(["run-1"]);
    await lock.commitIndex("idx-b", "run-1", epoch, { clearMarkers: ["run-1"], closePlans: ["H#S0"] });
    const after = await new DoFlowLock(env.FLOW_LOCK).loadIndex("idx-b", { groupsSince: 0 });
    expect(after.markers).toEqual([]);
    expect(after.plans).toEqual([]);
    // Registry entries older than the load horizon are left out (the KV ledger keeps them).
    expect((await lock.loadIndex("idx-b", { groupsSince: T0 + 1 })).groups).toEqual([]);
  });

  it("a checkpoint and a plan larger than one SQLite row (2 MB) are stored in chunks and read back whole", async () => {
    const now = { t: T0 };
    const lock = lockAt(now);
    const { epoch } = await lock.acquire("idx-c", "run-1", 60_000);
    const seenIds = Array.from({ length: 150_000 }, (_, i) => `io-${1_000_000 + i}`); // ≈ 2.2 MB of JSON
    const checkpoint = { watermark: 5, runId: "run-1", updatedAt: T0, cursor: { window: { from: 0, to: 1 }, page: 3, rescans: 0, seenIds } };
    const big = plan("BIG#S0", 2_500_000);
    expect((await lock.commitIndex("idx-c", "run-1", epoch, { checkpoint, openPlans: [big] })).committed).toBe(true);
    const snap = await new DoFlowLock(env.FLOW_LOCK).loadIndex("idx-c", { groupsSince: 0 });
    expect(snap.checkpoint).toEqual(checkpoint);
    expect(snap.plans).toEqual([big]);
  });

  it("a continuing run's carry (ledger, trace, run records) is stored fenced, chunked past one row, and dropped by kind", async () => {
    const now = { t: T0 };
    const lock = lockAt(now);
    const { epoch } = await lock.acquire("idx-d", "run-1", 60_000);
    const entry = (k: string) => ({ externalKey: k, contentHash: "h", writtenAt: T0, runId: "run-1" });
    const bigTrace = { v: 1, events: [{ t: "read", at: T0, id: "x".repeat(2_500_000) }], tokens: ["x"], lags: [5] };
    const run = {
      runId: "run-1",
      startedAt: T0,
      finishedAt: T0 + 1,
      outcome: "incomplete",
      counts: { written: 2 },
      subrequests: 35,
      continues: true,
      windows: [{ from: 0, to: 1, complete: false }],
    };
    expect((await lock.commitIndex("idx-d", "run-1", epoch, { carry: { ledger: [entry("A"), entry("B")] } })).committed).toBe(true);
    expect((await lock.commitIndex("idx-d", "run-1", epoch, { carry: { trace: bigTrace, run } })).committed).toBe(true);
    // A stale epoch adds nothing.
    expect((await lock.commitIndex("idx-d", "run-1", (epoch ?? 0) - 1, { carry: { ledger: [entry("Z")] } })).committed).toBe(false);
    const snap = await new DoFlowLock(env.FLOW_LOCK).loadIndex("idx-d", { groupsSince: 0 });
    expect(snap.carry?.ledger.map((e) => e.externalKey)).toEqual(["A", "B"]);
    expect(snap.carry?.runs).toEqual([run]);
    expect(snap.carry?.chars).toBeGreaterThan(2_500_000); // the trace is measured, not loaded
    expect(await lock.loadCarriedTraces("idx-d")).toEqual([bigTrace]);
    // A run that failed before writing its trace drops the ledger and records only: the trace waits for the next one.
    await lock.commitIndex("idx-d", "run-1", epoch, { dropCarry: ["ledger", "run"] });
    const after = await lock.loadIndex("idx-d", { groupsSince: 0 });
    expect(after.carry?.ledger).toEqual([]);
    expect(await lock.loadCarriedTraces("idx-d")).toEqual([bigTrace]);
    await lock.commitIndex("idx-d", "run-1", epoch, { dropCarry: ["trace"] });
    expect(await lock.loadIndex("idx-d", { groupsSince: 0 })).not.toHaveProperty("carry");
  });

  it("a cron tick keeps the checkpoint and the merge registry in the Durable Object, and a checkpoint view in KV", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 60, [JST.salesOut]: 60 }, days: 2 });
    const e = workerEnv(stack, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(stack, e);
    const now = Date.now();
    // Two days back: the merged T+ flow's window then holds a whole closed day at any hour (CI failed at 20:38 CST).
    await startFlowAt(e, "jst-sales-out-to-tplus", now - 2 * 86_400_000);
    await fireCron(e, "*/30 * * * *", now);
    await fireCron(e, "10 1 * * *", now);
    const store = new FlowStateStore(new WorkersKvStore(e.STATE));
    const lock = new DoFlowLock(e.FLOW_LOCK);
    for (const flowId of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
      const [run] = await store.listRuns(flowId, 1);
      expect(run?.outcome).toBe("success");
      const snap = await lock.loadIndex(flowId, { groupsSince: 0 });
      expect(snap.initialized).toBe(true);
      expect(snap.checkpoint?.watermark).toBe(run!.watermarkAfter);
      expect((await store.getWatermark(flowId))?.watermark).toBe(run!.watermarkAfter);
      expect(snap.plans).toEqual([]);
      expect(snap.markers).toEqual([]);
      if (flowId === "jst-sales-out-to-tplus") expect(snap.groups.length).toBeGreaterThan(0);
    }
  });
});
