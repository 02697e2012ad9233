/**
 * The engine's state over the flow index (shared/state/indexed-state.ts), one rule at a time, with the real
 * FlowStateStore on memory KV and MemoryFlowCoordinator (the Durable Object's rules in memory); the index port is only
 * wrapped to record what each commit carried. Asserts what state-flow-index.test.ts and the engine tests leave open
 * (docs/testing.md, `npm run mutation -- shared/state/indexed-state.ts`): the registry's load horizon, one load per
 * run, settled plans and markers riding once with the next commit, plans and markers found in KV before the index
 * held a checkpoint, the checkpoint view written only when it moved, and failures that are logged, not thrown.
 */
import { describe, expect, it } from "vitest";
import { engineStateOver } from "../../shared/engine/runner.ts";
import type { Checkpoint, RunSummary } from "../../shared/engine/types.ts";
import type { Logger } from "../../shared/ports.ts";
import { type FlowIndexCommit, type FlowIndexPort, MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { type IndexedStateOptions, indexedState } from "../../shared/state/indexed-state.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { OutboxPlan } from "../../shared/state/outbox-store.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { ManualClock } from "../emulators/manual-clock.ts";

const FLOW = "flow-x";
const T0 = Date.UTC(2024, 5, 20);
const DAY = 86_400_000;

function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

function setup() {
  const clock = new ManualClock(T0);
  const kv = new MemoryKeyValueStore({ now: () => clock.now() });
  const store = new FlowStateStore(kv, { clock, writeIntervalMs: 0 });
  const lock = new MemoryFlowCoordinator(clock);
  const commits: FlowIndexCommit[] = [];
  let loads = 0;
  let failCommits = false;
  // The coordinator itself, seen through a port that records each load and commit.
  const index: FlowIndexPort = {
    loadIndex: (flowId, options) => {
      loads++;
      return lock.loadIndex(flowId, options);
    },
    commitIndex: async (flowId, runId, epoch, commit) => {
      if (failCommits) throw new Error("index unavailable");
      commits.push(structuredClone(commit));
      return lock.commitIndex(flowId, runId, epoch, commit);
    },
    loadCarriedTraces: (flowId) => lock.loadCarriedTraces(flowId),
  };
  const log = recordingLogger();
  const base = () => engineStateOver(store, undefined, kv);
  const open = async (runId: string, more: Partial<IndexedStateOptions> = {}) => {
    const { epoch } = await lock.acquire(FLOW, runId, 600_000);
    return indexedState(base(), { index, flowId: FLOW, runId, epoch, now: () => clock.now(), logger: log.logger, runSettled: async () => false, ...more });
  };
  const release = (runId: string) => lock.release(FLOW, runId);
  return {
    clock,
    kv,
    store,
    lock,
    commits,
    log,
    base,
    open,
    release,
    loads: () => loads,
    failCommits: (on: boolean) => {
      failCommits = on;
    },
  };
}

const cp = (watermark: number, runId: string): Checkpoint => ({ watermark, runId, updatedAt: watermark });
const groupEntry = (members: string[], writtenAt: number): LedgerEntry => ({
  externalKey: "group:G",
  contentHash: "g",
  members,
  supplements: 0,
  writtenAt,
  runId: "r",
});
const plan = (unit: string): OutboxPlan => ({ v: 1, unit, groupKey: unit, supplement: 0, parts: [], members: [], planHash: "h", runId: "r", createdAt: 0 });

function summary(runId: string, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    runId,
    flowId: FLOW,
    trigger: "cron",
    dryRun: false,
    startedAt: T0,
    finishedAt: T0,
    durationMs: 0,
    outcome: "success",
    counts: { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 },
    windows: [],
    api: [],
    subrequests: 0,
    watermarkBefore: 0,
    watermarkAfter: 0,
    continues: false,
    ...extra,
  };
}

describe("indexed state: loading", () => {
  it("loads the index once per run, with registry entries committed in the last 62 days", async () => {
    const s = setup();
    const writer = await s.open("run-w");
    await writer.saveCheckpoint(FLOW, cp(1, "run-w"));
    await writer.ledgerAppend(FLOW, [groupEntry(["a"], s.clock.now())]);
    await writer.recordRun(summary("run-w"));
    await s.release("run-w");
    // The carried ledger went to KV with the run's end: the registry entry is found there too, so delete it from KV to
    // see the index's horizon alone.
    for (const key of await s.kv.list("ledger:")) await s.kv.delete(key);

    s.clock.advance(61 * DAY);
    const loadsBefore = s.loads();
    const recent = await s.open("run-a");
    expect(await recent.hasCheckpoint(FLOW)).toBe(true);
    await recent.loadCheckpoint(FLOW);
    expect((await recent.ledgerView(FLOW))("group:G")?.members).toEqual(["a"]);
    expect(await recent.outbox!.list(FLOW)).toEqual([]);
    expect(await recent.writeMarker!.unsettled(FLOW, "run-a")).toEqual([]);
    expect(s.loads() - loadsBefore).toBe(1);
    await s.release("run-a");

    s.clock.advance(2 * DAY); // 63 days after the commit: past the registry's load horizon
    const late = await s.open("run-b");
    expect((await late.ledgerView(FLOW))("group:G")).toBeUndefined();
  });

  it("has no checkpoint before any, reads the KV one before the index holds one, and the index's after", async () => {
    const s = setup();
    const first = await s.open("run-1");
    expect(await first.hasCheckpoint(FLOW)).toBe(false);
    expect(await first.loadCheckpoint(FLOW)).toBeNull();
    await s.release("run-1");
    await s.store.saveCheckpoint(FLOW, { ...cp(5, "kv-run"), cursor: null });
    const second = await s.open("run-2");
    expect(await second.hasCheckpoint(FLOW)).toBe(true);
    expect((await second.loadCheckpoint(FLOW))?.watermark).toBe(5);
  });
});

describe("indexed state: commits", () => {
  it("plan closes and cleared markers ride once with the next commit, and each commit carries the lease's epoch", async () => {
    const s = setup();
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    expect(await state.outbox!.list(FLOW)).toEqual([]); // the engine lists open plans before it opens any (run.ts)
    await state.outbox!.put(FLOW, plan("U1"));
    await state.outbox!.put(FLOW, plan("U2"));
    expect(s.commits).toEqual([{ openPlans: [plan("U1")] }, { openPlans: [plan("U2")] }]);
    await state.outbox!.delete(FLOW, "U1");
    await state.writeMarker!.clear(FLOW, ["old-run"]);
    expect(s.commits).toHaveLength(2); // nothing committed for a close or a clear alone
    await state.saveCheckpoint(FLOW, cp(2, "run-1"));
    await state.saveCheckpoint(FLOW, cp(3, "run-1"));
    expect(s.commits.slice(2)).toEqual([{ checkpoint: cp(2, "run-1"), closePlans: ["U1"], clearMarkers: ["old-run"] }, { checkpoint: cp(3, "run-1") }]);
    expect((await s.lock.loadIndex(FLOW, { groupsSince: 0 })).plans.map((p) => p.unit)).toEqual(["U2"]);
    // The list is live: the first pass's put and close are seen by a second pass of the same run.
    expect((await state.outbox!.list(FLOW)).map((p) => p.unit)).toEqual(["U2"]);
  });

  it("a commit refused for a lost lease names the holder", async () => {
    const s = setup();
    const stale = indexedState(s.base(), {
      index: s.lock,
      flowId: FLOW,
      runId: "run-old",
      epoch: 1,
      now: () => s.clock.now(),
      logger: s.log.logger,
      runSettled: async () => false,
    });
    await s.lock.acquire(FLOW, "run-new", 60_000);
    await expect(stale.saveCheckpoint(FLOW, cp(1, "run-old"))).rejects.toMatchObject({ code: "lease_lost", message: expect.stringContaining("run-new") });
  });

  it("an empty ledger append commits nothing; a range run's append goes to KV with its registry entries in the index", async () => {
    const s = setup();
    const range = await s.open("run-r", { carries: false });
    await range.loadCheckpoint(FLOW);
    await range.ledgerAppend(FLOW, []);
    expect(s.commits).toEqual([]);
    const doc: LedgerEntry = { externalKey: "D1", contentHash: "d", writtenAt: s.clock.now(), runId: "run-r" };
    await range.ledgerAppend(FLOW, [doc]);
    expect(s.commits).toEqual([]); // no registry entry: the index is not touched
    await range.ledgerAppend(FLOW, [groupEntry(["a"], s.clock.now()), doc]);
    expect(s.commits).toEqual([{ groups: [groupEntry(["a"], s.clock.now())] }]);
    expect((await s.store.ledgerLookup(FLOW, ["D1", "group:G"])).size).toBe(2);
    const view = await range.ledgerView(FLOW);
    expect(view("group:G")?.members).toEqual(["a"]);
    // A range run carries nothing: its record goes straight to KV.
    expect(await range.continuation.carries(summary("run-r", { continues: true }))).toBe(false);
  });

  it("a run's appends ride in the carry, registry entries also as registry entries, and merge in its view", async () => {
    const s = setup();
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    const doc: LedgerEntry = { externalKey: "D1", contentHash: "d", writtenAt: s.clock.now(), runId: "run-1" };
    await state.ledgerAppend(FLOW, [doc]);
    await state.ledgerAppend(FLOW, [groupEntry(["a"], s.clock.now())]);
    await state.ledgerAppend(FLOW, [groupEntry(["b"], s.clock.now() - 1)]);
    expect(s.commits).toEqual([
      { carry: { ledger: [doc] } },
      { groups: [groupEntry(["a"], s.clock.now())], carry: { ledger: [groupEntry(["a"], s.clock.now())] } },
      { groups: [groupEntry(["b"], s.clock.now() - 1)], carry: { ledger: [groupEntry(["b"], s.clock.now() - 1)] } },
    ]);
    const view = await state.ledgerView(FLOW);
    expect(view("D1")).toEqual(doc);
    expect(view("group:G")?.members?.sort()).toEqual(["a", "b"]);
    expect(view("nothing")).toBeUndefined();
  });
});

describe("indexed state: ledger view", () => {
  it("merges KV, carried and registry entries: registry as a union, dead-letter markers and documents latest first", async () => {
    const s = setup();
    const now = s.clock.now();
    // KV holds older copies (a CLI host's run); the index and the carry newer ones.
    await s.store.ledgerAppend(FLOW, [
      { externalKey: "dead:K", contentHash: "kv", writtenAt: now + 50, runId: "cli" },
      { externalKey: "D1", contentHash: "kv", writtenAt: now + 50, runId: "cli" },
      groupEntry(["kv"], now + 50),
    ]);
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    await state.ledgerAppend(FLOW, [
      { externalKey: "dead:K", contentHash: "carried", writtenAt: now, runId: "run-1" },
      { externalKey: "D1", contentHash: "carried", writtenAt: now, runId: "run-1" },
      groupEntry(["carried"], now),
    ]);
    const view = await state.ledgerView(FLOW);
    // The KV copies are later: they win for the document and the marker; the registry entry is the union.
    expect(view("D1")?.contentHash).toBe("kv");
    expect(view("dead:K")?.contentHash).toBe("kv");
    expect(view("group:G")?.members?.sort()).toEqual(["carried", "kv"]);
    // A run reading a later marker from the index (another run filed it after this run's KV read).
    await s.release("run-1");
    const next = await s.open("run-2");
    await next.loadCheckpoint(FLOW);
    const nextView = await next.ledgerView(FLOW);
    expect(nextView("dead:K")?.contentHash).toBe("kv");
    expect(nextView("group:G")?.members?.sort()).toEqual(["carried", "kv"]);
  });
});

describe("indexed state: plans and markers from before the index", () => {
  it("lists KV plans until the index holds a checkpoint; closing one deletes it in KV, closing an index plan does not", async () => {
    const s = setup();
    await s.base().outbox!.put(FLOW, plan("KV1"));
    await s.base().outbox!.put(FLOW, plan("BOTH"));
    const state = await s.open("run-1");
    await state.outbox!.put(FLOW, plan("BOTH"));
    await state.outbox!.put(FLOW, plan("IDX"));
    await s.release("run-1");
    const next = await s.open("run-2");
    expect((await next.outbox!.list(FLOW)).map((p) => p.unit).sort()).toEqual(["BOTH", "IDX", "KV1"]);
    await next.outbox!.delete(FLOW, "KV1");
    await next.outbox!.delete(FLOW, "BOTH");
    expect((await s.base().outbox!.list(FLOW)).map((p) => p.unit)).toEqual(["BOTH"]);
    expect((await next.outbox!.list(FLOW)).map((p) => p.unit)).toEqual(["IDX"]);
    // Once the index holds a checkpoint, KV's plans are not read any more.
    await next.saveCheckpoint(FLOW, cp(1, "run-2"));
    await s.release("run-2");
    const third = await s.open("run-3");
    expect((await third.outbox!.list(FLOW)).map((p) => p.unit)).toEqual(["IDX"]);
  });

  it("reports unsettled markers of other runs, clears settled ones with the next commit, and KV markers until the index holds a checkpoint", async () => {
    const s = setup();
    await s.base().writeMarker!.mark(FLOW, "kv-run", T0);
    await s.base().writeMarker!.mark(FLOW, "both", T0);
    for (const runId of ["both", "settled", "open"]) {
      const state = await s.open(runId);
      await state.writeMarker!.mark(FLOW, runId, s.clock.now());
      await s.release(runId);
    }
    const settled = new Set(["settled"]);
    const state = await s.open("both-again", { runSettled: async (_flow, runId) => settled.has(runId) });
    await state.writeMarker!.mark(FLOW, "both-again", s.clock.now());
    const open = await state.writeMarker!.unsettled(FLOW, "both-again");
    expect(open.sort()).toEqual(["both", "kv-run", "open"]);
    expect(await state.writeMarker!.unsettled(FLOW, "both-again")).toEqual(expect.not.arrayContaining(["settled"]));
    await state.writeMarker!.clear(FLOW, ["kv-run", "open"]);
    // KV's marker is deleted at once; the index's ride with the next commit (with the settled one).
    expect((await s.kv.list(`wip:${FLOW}:`)).sort()).toEqual([`wip:${FLOW}:both`]);
    await state.saveCheckpoint(FLOW, cp(1, "both-again"));
    expect(s.commits.at(-1)).toEqual({ checkpoint: cp(1, "both-again"), clearMarkers: ["settled", "kv-run", "open"] });
    expect((await state.writeMarker!.unsettled(FLOW, "both-again")).sort()).toEqual(["both"]);
    expect((await s.lock.loadIndex(FLOW, { groupsSince: 0 })).markers.sort()).toEqual(["both", "both-again"]);
    await s.release("both-again");
    // The index holds a checkpoint now: KV's markers are not read.
    await s.base().writeMarker!.mark(FLOW, "kv-late", T0);
    const after = await s.open("run-9");
    expect((await after.writeMarker!.unsettled(FLOW, "run-9")).sort()).toEqual(["both", "both-again"]);
  });
});

describe("indexed state: the run's end", () => {
  it("a settled run clears its own marker; the checkpoint view is written once, only when the watermark moved", async () => {
    const s = setup();
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    await state.writeMarker!.mark(FLOW, "run-1", s.clock.now());
    await state.saveCheckpoint(FLOW, cp(7, "run-1"));
    await state.recordRun(summary("run-1", { writesSettled: true }));
    expect(s.commits.at(-1)).toEqual({ clearMarkers: ["run-1"] });
    expect((await s.store.getWatermark(FLOW))?.watermark).toBe(7);
    expect(await s.store.getRun(FLOW, "run-1")).toMatchObject({ runId: "run-1" });
    await s.release("run-1");

    // A run that does not move the watermark writes no view; an unsettled run keeps its marker.
    const next = await s.open("run-2");
    await next.loadCheckpoint(FLOW);
    await next.writeMarker!.mark(FLOW, "run-2", s.clock.now());
    await next.saveCheckpoint(FLOW, cp(7, "run-2"));
    s.kv.resetStats();
    const commitsBefore = s.commits.length;
    await next.recordRun(summary("run-2", { writesSettled: false }));
    expect(s.kv.writeLog).toEqual([`run:${FLOW}:run-2`]);
    expect(s.commits.length).toBe(commitsBefore);
    expect((await s.lock.loadIndex(FLOW, { groupsSince: 0 })).markers).toEqual(["run-2"]);
  });

  it("a continuing invocation keeps its record in the index and writes the view only as the run's first, when it moved", async () => {
    const s = setup();
    const first = await s.open("inv-1");
    await first.loadCheckpoint(FLOW);
    await first.saveCheckpoint(FLOW, cp(3, "inv-1"));
    s.kv.resetStats();
    await first.recordRun(summary("inv-1", { continues: true }));
    expect(s.kv.writeLog).toEqual([`wm:${FLOW}`]); // the view: a Worker run owns the flow
    await s.release("inv-1");

    const second = await s.open("inv-2");
    await second.loadCheckpoint(FLOW);
    await second.saveCheckpoint(FLOW, cp(4, "inv-2"));
    s.kv.resetStats();
    await second.recordRun(summary("inv-2", { continues: true }));
    expect(s.kv.writeLog).toEqual([]); // a later continuing invocation writes nothing to KV
    await s.release("inv-2");

    const last = await s.open("inv-3");
    await last.loadCheckpoint(FLOW);
    s.kv.resetStats();
    await last.recordRun(summary("inv-3"));
    // The run's end: the view (the index's checkpoint, from the chain) and one record summing the invocations.
    expect(s.kv.writeLog).toEqual([`wm:${FLOW}`, `run:${FLOW}:inv-3`]);
    expect((await s.store.getWatermark(FLOW))?.watermark).toBe(4);
    expect((await s.store.getRun(FLOW, "inv-3"))?.chain).toMatchObject({ invocations: 3, runIds: ["inv-1", "inv-2", "inv-3"] });
  });

  it("a failed view write, settle commit or carry keep is logged and the run's record still goes to KV", async () => {
    for (const continues of [true, false]) {
      const s = setup();
      const state = await s.open("run-1");
      await state.loadCheckpoint(FLOW);
      await state.saveCheckpoint(FLOW, cp(9, "run-1"));
      await state.outbox!.list(FLOW);
      await state.outbox!.put(FLOW, plan("U1"));
      await state.outbox!.delete(FLOW, "U1");
      const realPut = s.kv.put.bind(s.kv);
      s.kv.put = async (key, value, options) => {
        if (key.startsWith("wm:")) throw new Error("KV PUT failed: 500");
        return realPut(key, value, options);
      };
      s.failCommits(true);
      await state.recordRun(summary("run-1", { continues }));
      // A continuing invocation's keep takes the plan close along (and fails with it): the plan stays open in the index
      // and the next run resumes it (every part found written), as after a failed settle.
      const failed = continues
        ? ["could not keep the invocation's record in the flow index", "index unavailable"]
        : ["could not settle plans/markers in the flow index", "index unavailable"];
      expect(s.log.lines.map((l) => [l.level, l.message, l.fields])).toEqual([
        ["warn", failed[0], { flowId: FLOW, message: failed[1] }],
        ["warn", "could not write the checkpoint view to KV", { flowId: FLOW, message: "KV PUT failed: 500" }],
      ]);
      expect(await s.store.getRun(FLOW, "run-1")).toMatchObject({ runId: "run-1" });
      expect((await s.lock.loadIndex(FLOW, { groupsSince: 0 })).plans.map((p) => p.unit)).toEqual(["U1"]);
    }
  });

  it("a failed write of the carried ledger to KV is logged; the carry stays for the next invocation", async () => {
    const s = setup();
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    const doc: LedgerEntry = { externalKey: "D1", contentHash: "d", writtenAt: s.clock.now(), runId: "run-1" };
    await state.ledgerAppend(FLOW, [doc]);
    const realPut = s.kv.put.bind(s.kv);
    s.kv.put = async (key, value, options) => {
      if (key.startsWith("ledger:")) throw new Error("KV PUT failed: 503");
      return realPut(key, value, options);
    };
    await state.recordRun(summary("run-1"));
    expect(s.log.lines).toEqual([
      {
        level: "warn",
        message: "could not write the carried ledger to KV; the next invocation writes it",
        fields: { flowId: FLOW, message: "KV PUT failed: 503" },
      },
    ]);
    expect((await s.lock.loadIndex(FLOW, { groupsSince: 0 })).carry?.ledger).toEqual([doc]);
  });
});

describe("indexed state: what the mutation run left", () => {
  it("dead-letter markers live in the index: found there when KV lags, the later one (or the index's on a tie) wins", async () => {
    const s = setup();
    const t = s.clock.now();
    const marker = (key: string, hash: string, at: number): LedgerEntry => ({ externalKey: key, contentHash: hash, writtenAt: at, runId: "r" });
    // KV alone knows dead:Z (a CLI run without the index); KV's copies of dead:A and dead:B are older or as old.
    await s.store.ledgerAppend(FLOW, [marker("dead:Z", "kv", t), marker("dead:A", "kv", t), marker("dead:B", "kv", t)]);
    const writer = await s.open("run-1", { carries: false });
    await writer.loadCheckpoint(FLOW);
    await writer.ledgerAppend(FLOW, [marker("dead:A", "index", t), marker("dead:B", "index", t + 100), marker("dead:C", "index", t)]);
    expect(s.commits.at(-1)?.groups?.map((g) => g.externalKey)).toEqual(["dead:A", "dead:B", "dead:C"]);
    await s.release("run-1");
    // KV lags: the run's own segment is not listed yet.
    let own = "";
    for (const key of await s.kv.list(`ledger:${FLOW}:`)) if ((await s.kv.get(key))!.includes('"index"')) own = key;
    const kept = (await s.kv.get(own))!;
    await s.kv.delete(own);
    const reader = await s.open("run-2");
    await reader.loadCheckpoint(FLOW);
    const view = await reader.ledgerView(FLOW);
    expect(view("dead:Z")?.contentHash).toBe("kv");
    expect(view("dead:A")?.contentHash).toBe("index");
    expect(view("dead:B")?.contentHash).toBe("index");
    expect(view("dead:C")?.contentHash).toBe("index");
    expect(view("D-none")).toBeUndefined();
    await s.kv.put(own, kept);
  });

  it("a range run carries no traces; a plan closed before any list, and markers only in the index, touch no KV key", async () => {
    const s = setup();
    const range = await s.open("run-r", { carries: false });
    expect(await range.continuation.carriedTraces()).toEqual([]);
    await range.outbox!.delete(FLOW, "never-listed");
    await range.writeMarker!.mark(FLOW, "run-r", s.clock.now());
    expect(s.commits.at(-1)).toEqual({ mark: { at: s.clock.now() }, closePlans: ["never-listed"] });
    s.kv.resetStats();
    await range.writeMarker!.clear(FLOW, ["index-only"]);
    expect(s.kv.stats.deletes).toBe(0);
  });

  it("an empty append of a carrying run commits nothing; a settled run that never marked commits nothing at its end", async () => {
    const s = setup();
    const state = await s.open("run-1");
    await state.loadCheckpoint(FLOW);
    await state.ledgerAppend(FLOW, []);
    await state.recordRun(summary("run-1", { writesSettled: true }));
    expect(s.commits).toEqual([]);
  });

  it("a continuing run's first invocation writes no view when the watermark did not move", async () => {
    const s = setup();
    await s.store.saveCheckpoint(FLOW, { ...cp(4, "old"), cursor: null });
    const first = await s.open("inv-1");
    expect((await first.loadCheckpoint(FLOW))?.watermark).toBe(4);
    await first.saveCheckpoint(FLOW, cp(4, "inv-1"));
    s.kv.resetStats();
    await first.recordRun(summary("inv-1", { continues: true }));
    expect(s.kv.writeLog).toEqual([]);
  });
});
