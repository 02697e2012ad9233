/**
 * A ledger index shared by successive stores (FlowStateStore ledgerCache, a CLI backfill's windows): read once, later
 * stores list the ledger and read only keys they do not hold, so another writer's entries are still seen; compaction
 * with a shared index keeps every lookup answer.
 */
import { describe, expect, it } from "vitest";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore, type LedgerCache } from "../../shared/state/state-store.ts";

const entry = (key: string, hash: string, writtenAt: number): LedgerEntry => ({ externalKey: key, contentHash: hash, writtenAt, runId: "r1" });

describe("FlowStateStore ledgerCache", () => {
  it("reads a key once across stores, sees another writer's new keys, and compacts without losing an answer", async () => {
    const kv = new MemoryKeyValueStore();
    let now = Date.UTC(2024, 6, 1);
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const options = { clock, writeIntervalMs: 0, ledger: { compactAfterSegments: 3 } };
    const cache: LedgerCache = new Map();
    const first = new FlowStateStore(kv, { ...options, ledgerCache: cache });
    await first.ledgerAppend("f", [entry("a", "h1", now)]);
    await first.loadLedger("f");
    const readsAfterFirst = kv.stats.keysRead;

    now += 1000;
    await new FlowStateStore(kv, options).ledgerAppend("f", [entry("b", "h2", now)]); // another writer
    const second = new FlowStateStore(kv, { ...options, ledgerCache: cache });
    expect([...(await second.ledgerLookup("f", ["a", "b"])).keys()].sort()).toEqual(["a", "b"]);
    expect(kv.stats.keysRead - readsAfterFirst).toBe(1); // only b's segment

    now += 1000;
    await second.ledgerAppend("f", [entry("a", "h3", now), entry("c", "h4", now)]);
    const third = new FlowStateStore(kv, { ...options, ledgerCache: cache });
    const stats = await third.loadLedger("f");
    expect(stats.compaction).toEqual({ packsWritten: 1, keysRemoved: 3 });
    const found = await third.ledgerLookup("f", ["a", "b", "c"]);
    expect([...found].map(([k, e]) => [k, e.contentHash])).toEqual([
      ["a", "h3"],
      ["b", "h2"],
      ["c", "h4"],
    ]);
    const fresh = await new FlowStateStore(kv, options).ledgerLookup("f", ["a", "b", "c"]);
    expect([...fresh].map(([k, e]) => [k, e.contentHash])).toEqual([...found].map(([k, e]) => [k, e.contentHash]));
  });
});
