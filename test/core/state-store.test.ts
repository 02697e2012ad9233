import { describe, expect, it } from "vitest";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/ports.ts";
import { makeRunId, parseDeadLetterId, stateKeys } from "../../shared/state/keys.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

/** Time stands still until slept through or advanced; sleeping costs no wall time. */
function testClock(start = Date.UTC(2024, 6, 1, 4, 0, 0)) {
  let t = start;
  let slept = 0;
  const clock: Clock & { advance(ms: number): void; slept(): number } = {
    now: () => t,
    sleep: async (ms) => {
      t += Math.max(0, ms);
      slept += Math.max(0, ms);
    },
    advance: (ms) => {
      t += ms;
    },
    slept: () => slept,
  };
  return clock;
}

function setup(options: { enforceWriteRate?: boolean; compactAfterSegments?: number; retentionMs?: number; packMaxEntries?: number } = {}) {
  const clock = testClock();
  const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: options.enforceWriteRate ?? true });
  const ledger: Record<string, number> = {};
  if (options.compactAfterSegments !== undefined) ledger.compactAfterSegments = options.compactAfterSegments;
  if (options.retentionMs !== undefined) ledger.retentionMs = options.retentionMs;
  if (options.packMaxEntries !== undefined) ledger.packMaxEntries = options.packMaxEntries;
  const open = () => new FlowStateStore(kv, { clock, ledger });
  return { clock, kv, store: open(), open };
}

function entry(key: string, hash: string, writtenAt: number, runId = "r1", extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { externalKey: key, contentHash: hash, writtenAt, runId, ...extra };
}

describe("FlowStateStore checkpoint", () => {
  it("round-trips watermark and cursor through KV and stamps the save time", async () => {
    const { store, open, clock, kv } = setup();
    expect(await store.getWatermark("flow-a")).toBeNull();
    const cursor = { window: { from: 1_000, to: 2_000 }, page: 3, seenIds: ["a", "b"], rescans: 0 };
    const saved = await store.saveCheckpoint("flow-a", { watermark: 1_000, cursor, runId: "run-1" });
    expect(saved.savedAt).toBe(clock.now());
    // A fresh instance reads it from KV, not from the writer's memory.
    const again = await open().getWatermark("flow-a");
    expect(again).toEqual({ watermark: 1_000, cursor, runId: "run-1", savedAt: clock.now() });
    expect(JSON.parse(kv.snapshot()["wm:flow-a"] as string).cursor.page).toBe(3);
  });

  it("drops the cursor when a run completes, and keeps unknown fields the engine adds", async () => {
    const { store, open, clock } = setup();
    await store.saveCheckpoint("flow-a", { watermark: 5, cursor: { page: 2 }, runId: "r" });
    clock.advance(2_000);
    await store.saveCheckpoint("flow-a", { watermark: 9, cursor: null, runId: "r", updatedAt: 42 } as never);
    const cp = await open().getWatermark("flow-a");
    expect(cp?.watermark).toBe(9);
    expect(cp && "cursor" in cp).toBe(false);
    expect((cp as unknown as Record<string, unknown>).updatedAt).toBe(42);
  });

  it("spaces two saves of the same key a second apart instead of tripping KV's 429", async () => {
    const { store, clock, kv } = setup({ enforceWriteRate: true });
    await store.saveCheckpoint("flow-a", { watermark: 1 });
    clock.advance(300);
    await store.saveCheckpoint("flow-a", { watermark: 2 });
    expect(clock.slept()).toBe(700);
    expect(kv.stats.writes).toBe(2);
    expect((await store.getWatermark("flow-a"))?.watermark).toBe(2);
  });

  it("rejects a bad flow id or checkpoint with a hint", async () => {
    const { store } = setup();
    await expect(store.saveCheckpoint("bad:flow", { watermark: 1 })).rejects.toBeInstanceOf(ConfigError);
    const err = await store.saveCheckpoint("ok", { watermark: {} as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain("watermark");
    expect((err as ConfigError).hint).toBeTruthy();
  });

  it("reports a corrupted stored checkpoint with the key and a way out", async () => {
    const { store, kv } = setup();
    await kv.put("wm:flow-a", "{not json");
    const err = await store.getWatermark("flow-a").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe("state_corrupt");
    expect((err as BridgeError).hint).toContain("wm:flow-a");
  });
});

describe("FlowStateStore ledger", () => {
  it("finds entries appended across several segments, from a fresh instance, latest write winning", async () => {
    const { store, open, clock, kv } = setup();
    const t0 = clock.now();
    await store.ledgerAppend("flow-a", [entry("doc-1", "h1", t0), entry("doc-2", "h2", t0, "r1", { targetId: "T-2", members: ["io-2", "io-3"] })]);
    clock.advance(10);
    await store.ledgerAppend("flow-a", [entry("doc-3", "h3", t0 + 10)]);
    clock.advance(10);
    await store.ledgerAppend("flow-a", [entry("doc-1", "h1-changed", t0 + 20, "r2")]);
    await store.ledgerAppend("flow-b", [entry("doc-1", "other-flow", t0 + 20)]);
    await expect(kv.list("ledger:flow-a:")).resolves.toHaveLength(3);

    const reader = open();
    const found = await reader.ledgerLookup("flow-a", ["doc-1", "doc-2", "doc-3", "doc-404"]);
    expect([...found.keys()].sort()).toEqual(["doc-1", "doc-2", "doc-3"]);
    expect(found.get("doc-1")).toEqual(entry("doc-1", "h1-changed", t0 + 20, "r2"));
    expect(found.get("doc-2")).toEqual(entry("doc-2", "h2", t0, "r1", { targetId: "T-2", members: ["io-2", "io-3"] }));
    expect((await reader.ledgerLookup("flow-b", ["doc-1"])).get("doc-1")?.contentHash).toBe("other-flow");
  });

  it("loads once per instance and sees its own appends without re-reading KV", async () => {
    const { store, kv, clock } = setup();
    await store.ledgerAppend("flow-a", [entry("x", "1", clock.now())]);
    await store.ledgerLookup("flow-a", ["x"]);
    const readsAfterLoad = kv.stats.reads;
    const listsAfterLoad = kv.stats.lists;
    await store.ledgerAppend("flow-a", [entry("y", "2", clock.now())]);
    const found = await store.ledgerLookup("flow-a", ["x", "y"]);
    expect(found.size).toBe(2);
    expect(kv.stats.reads).toBe(readsAfterLoad);
    expect(kv.stats.lists).toBe(listsAfterLoad);
  });

  it("rejects malformed entries before writing anything", async () => {
    const { store, kv } = setup();
    const err = await store
      .ledgerAppend("flow-a", [entry("ok", "h", 1), { externalKey: "", contentHash: "h", writtenAt: 1, runId: "r" }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("[1]");
    expect(kv.stats.writes).toBe(0);
    expect(await store.ledgerAppend("flow-a", [])).toEqual({ segment: null, entries: 0 });
    expect(kv.stats.writes).toBe(0);
  });

  it("compacts piled-up segments into a pack, deletes them, and keeps every lookup answer", async () => {
    const { store, open, kv, clock } = setup({ compactAfterSegments: 5 });
    for (let page = 0; page < 7; page++) {
      clock.advance(1_000);
      await store.ledgerAppend("flow-a", [entry(`doc-${page}`, `h${page}`, clock.now()), entry("shared", `s${page}`, clock.now())]);
    }
    const keysBefore = await kv.list("ledger:flow-a:");
    expect(keysBefore).toHaveLength(7);

    const reader = open();
    const stats = await reader.loadLedger("flow-a");
    expect(stats.compaction).toEqual({ packsWritten: 1, keysRemoved: 7 });
    const keysAfter = await kv.list("ledger:flow-a:");
    expect(keysAfter).toHaveLength(1);
    expect(keysAfter[0]).toMatch(/^ledger:flow-a:p\d{13}-/);
    const pack = JSON.parse(kv.snapshot()[keysAfter[0] as string] as string);
    expect(pack.kind).toBe("pack");
    expect(pack.entries).toHaveLength(8); // 7 docs + one "shared", de-duplicated

    const third = open();
    const found = await third.ledgerLookup("flow-a", ["doc-0", "doc-6", "shared"]);
    expect(found.get("doc-0")?.contentHash).toBe("h0");
    expect(found.get("doc-6")?.contentHash).toBe("h6");
    expect(found.get("shared")?.contentHash).toBe("s6");
    expect((await third.loadLedger("flow-a")).compaction).toBeUndefined();
  });

  it("a failing compaction does not fail the lookup; the next load compacts", async () => {
    const { store, kv, clock } = setup({ compactAfterSegments: 2 });
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      await store.ledgerAppend("flow-a", [entry(`d${i}`, "h", clock.now())]);
    }
    const realPut = kv.put.bind(kv);
    let failPacks = true;
    kv.put = async (key, value, options) => {
      if (failPacks && key.includes(":p")) throw new BridgeError("kv_error", "KV PUT failed: 500");
      return realPut(key, value, options);
    };
    const flaky = new FlowStateStore(kv, { clock, ledger: { compactAfterSegments: 2 } });
    expect((await flaky.ledgerLookup("flow-a", ["d0", "d1", "d2"])).size).toBe(3);
    expect(await kv.list("ledger:flow-a:")).toHaveLength(3);
    failPacks = false;
    const stats = await new FlowStateStore(kv, { clock, ledger: { compactAfterSegments: 2 } }).loadLedger("flow-a");
    expect(stats).toMatchObject({ entries: 3, segments: 0, packs: 1, compaction: { packsWritten: 1, keysRemoved: 3 } });
  });

  it("keeps closed packs and drops entries past retention at compaction", async () => {
    const day = 86_400_000;
    const { store, open, kv, clock } = setup({ compactAfterSegments: 2, packMaxEntries: 3, retentionMs: 30 * day });
    const old = clock.now();
    await store.ledgerAppend("flow-a", [entry("old-1", "h", old), entry("old-2", "h", old), entry("old-3", "h", old)]);
    clock.advance(1_000);
    await store.ledgerAppend("flow-a", [entry("mid", "h", clock.now())]);
    await open().loadLedger("flow-a"); // → one closed pack (3 old) + one open pack (mid)
    expect((await kv.list("ledger:flow-a:")).every((k) => k.includes(":p"))).toBe(true);

    clock.advance(40 * day);
    await store.ledgerAppend("flow-a", [entry("new-1", "h", clock.now())]);
    clock.advance(1_000);
    await store.ledgerAppend("flow-a", [entry("new-2", "h", clock.now())]);
    const reader = open();
    await reader.loadLedger("flow-a");
    const found = await reader.ledgerLookup("flow-a", ["old-1", "mid", "new-1", "new-2"]);
    expect([...found.keys()].sort()).toEqual(["new-1", "new-2"]);
  });
});

describe("FlowStateStore dead letters", () => {
  it("adds in one write, lists, gets by id, resolves with reason, and keeps the resolved one", async () => {
    const { store, open, kv, clock } = setup();
    const added = await store.addDeadLetters("flow-a", [
      {
        runId: "r1",
        sourceId: "io-1",
        externalKey: "doc-1",
        stage: "write",
        error: { code: "kis_rejected", message: "stock not found" },
        source: { io_id: 1 },
      },
      { runId: "r1", sourceId: "io-2", error: { code: "lookup_missing", message: "no material for sku X" } },
    ]);
    expect(kv.stats.writes).toBe(1);
    expect(added).toHaveLength(2);
    expect(parseDeadLetterId(added[0]!.id).flow).toBe("flow-a");

    clock.advance(5_000);
    await store.addDeadLetters("flow-b", [{ runId: "r9", error: { code: "x", message: "y" } }]);

    const reader = open();
    expect((await reader.listDeadLetters("flow-a")).map((d) => d.sourceId)).toEqual(["io-1", "io-2"]);
    expect(await reader.listDeadLetters()).toHaveLength(3);
    const one = await reader.getDeadLetter(added[0]!.id);
    expect(one).toMatchObject({ flow: "flow-a", runId: "r1", externalKey: "doc-1", source: { io_id: 1 }, error: { code: "kis_rejected" } });

    clock.advance(60_000);
    const resolved = await reader.resolveDeadLetter(added[0]!.id, { reason: "fixed the stock in KIS and re-ran", by: "ops@example" });
    expect(resolved.resolved).toEqual({ at: clock.now(), reason: "fixed the stock in KIS and re-ran", by: "ops@example" });

    const third = open();
    expect((await third.listDeadLetters("flow-a")).map((d) => d.sourceId)).toEqual(["io-2"]);
    const resolvedList = await third.listDeadLetters("flow-a", { status: "resolved" });
    expect(resolvedList.map((d) => d.resolved?.reason)).toEqual(["fixed the stock in KIS and re-ran"]);
    expect(await third.listDeadLetters("flow-a", { resolvedSince: clock.now() + 1 })).toEqual([]);
    expect((await third.getDeadLetter(added[0]!.id))?.resolved?.by).toBe("ops@example");
  });

  it("resolving twice changes nothing; resolving the last open item puts a TTL on the segment", async () => {
    const { store, kv, clock } = setup();
    const [a, b] = await store.addDeadLetters("flow-a", [
      { runId: "r1", error: { code: "e", message: "m" } },
      { runId: "r1", error: { code: "e", message: "m" } },
    ]);
    await store.resolveDeadLetter(a!.id, { reason: "dup", by: "me" });
    const writes = kv.stats.writes;
    await store.resolveDeadLetter(a!.id, { reason: "again", by: "me" });
    expect(kv.stats.writes).toBe(writes);
    expect((await store.getDeadLetter(a!.id))?.resolved?.reason).toBe("dup");
    await store.resolveDeadLetter(b!.id, { reason: "dup", by: "me" });
    clock.advance(91 * 86_400_000);
    expect(await kv.list("dl:flow-a:")).toEqual([]);
  });

  it("refuses unknown ids, malformed ids and empty reasons clearly", async () => {
    const { store } = setup();
    const [a] = await store.addDeadLetters("flow-a", [{ runId: "r1", error: { code: "e", message: "m" } }]);
    const missing = a!.id.replace(/~0$/, "~7");
    const err = await store.resolveDeadLetter(missing, { reason: "x", by: "y" }).catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("not_found");
    await expect(store.getDeadLetter("nope")).rejects.toBeInstanceOf(ConfigError);
    await expect(store.resolveDeadLetter(a!.id, { reason: " ", by: "y" })).rejects.toBeInstanceOf(ConfigError);
    await expect(store.addDeadLetters("flow-a", [{ runId: "r", flowId: "flow-b", error: { code: "e", message: "m" } }])).rejects.toThrow(/flow-b/);
  });
});

describe("FlowStateStore run records", () => {
  it("records runs with a TTL and lists them newest first, per flow and across flows", async () => {
    const { store, open, clock, kv } = setup();
    const started: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(600_000);
      started.push(clock.now());
      await store.recordRun({
        runId: makeRunId(clock.now(), "cron"),
        flowId: i % 2 ? "flow-b" : "flow-a",
        startedAt: clock.now(),
        outcome: "success",
        counts: { written: i },
      });
    }
    const reader = open();
    const a = await reader.listRuns("flow-a", 10);
    expect(a.map((r) => r.startedAt)).toEqual([started[4], started[2], started[0]]);
    expect(a[0]?.counts).toEqual({ written: 4 });
    const all = await reader.listRuns(undefined, 2);
    expect(all.map((r) => r.startedAt)).toEqual([started[4], started[3]]);
    expect(await reader.getRun("flow-b", makeRunId(started[3]!, "cron"))).toMatchObject({ outcome: "success" });

    clock.advance(31 * 86_400_000); // default TTL is 30 days
    expect(await open().listRuns("flow-a")).toEqual([]);
    expect(kv.stats.writes).toBe(5);
  });

  it("rejects a run record without flow id, run id or start", async () => {
    const { store } = setup();
    await expect(store.recordRun({ runId: "r", startedAt: 1 } as never)).rejects.toThrow(/flowId/);
  });
});

describe("key scheme", () => {
  it("builds the documented keys and refuses separators in names", () => {
    expect(stateKeys.watermark("jst-other-in")).toBe("wm:jst-other-in");
    expect(stateKeys.run("f", "20240701T120000000Z-cron")).toBe("run:f:20240701T120000000Z-cron");
    expect(stateKeys.token("tplus")).toBe("tok:tplus");
    expect(stateKeys.referenceMeta("skus")).toBe("ref:skus:meta");
    expect(() => stateKeys.ledger("a:b", "s")).toThrow(ConfigError);
    expect(makeRunId(Date.UTC(2024, 6, 1, 12, 0, 0), "cron")).toBe("20240701T120000000Z-cron");
  });
});
