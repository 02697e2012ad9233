/**
 * The ledger index's own rules (shared/state/ledger-index.ts), asserted exactly where the store-level tests
 * (state-store, ledger-index-memory) only check that lookups still answer: which segments a compaction merges, keeps
 * and deletes, how packs are cut by entries and bytes, which entry of a key wins, and what the index holds after a
 * compaction is applied. Written against the surviving mutants of `npm run mutation -- shared/state/ledger-index.ts`
 * (docs/testing.md); each assertion below fails on one of them.
 */
import { describe, expect, it } from "vitest";
import {
  type CompactionPlan,
  type LedgerCompactionOptions,
  LedgerIndex,
  type LedgerSegmentInfo,
  mergeEntries,
  packValue,
  planCompaction,
} from "../../shared/state/ledger-index.ts";
import type { SegmentKind } from "../../shared/state/keys.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { StoredLedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

const e = (k: string, w: number, extra: Partial<StoredLedgerEntry> = {}): StoredLedgerEntry => ({ k, h: `h-${k}-${w}`, w, r: "r1", ...extra });

/** Adds one segment (page `s` or pack `p`) of these entries; `bytes` is the stored value's size the plan reads. */
function add(index: LedgerIndex, id: string, kind: SegmentKind, entries: StoredLedgerEntry[], bytes = 100): void {
  index.addSegment({ id, key: `ledger:f:${id}`, kind, createdAt: 0, entries, bytes });
}

const limits = (o: Partial<LedgerCompactionOptions> = {}): LedgerCompactionOptions => ({
  compactAfterSegments: 2,
  packMaxEntries: 100,
  packMaxBytes: 1_000_000,
  ...o,
});

const keysOf = (segments: readonly LedgerSegmentInfo[]) => segments.map((s) => s.key);

describe("LedgerIndex.addSegment", () => {
  it("records each segment once, with its keys and its newest writtenAt whatever the entries' order", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("a", 5), e("b", 9), e("c", 7)]);
    add(index, "s1", "s", [e("a", 50)]); // listed by a load while this run appended it: taken once
    expect(index.segments).toEqual([{ id: "s1", key: "ledger:f:s1", kind: "s", createdAt: 0, bytes: 100, keys: ["a", "b", "c"], newestWrittenAt: 9 }]);
    expect(index.stored("a")?.w).toBe(5);
    expect(index.size).toBe(3);
    expect(index.hasSegment("ledger:f:s1")).toBe(true);
    expect(index.hasSegment("ledger:f:s2")).toBe(false);
  });
});

describe("mergeEntries", () => {
  it("takes the first entry of a key as it is", () => {
    const only = e("a", 1);
    expect(mergeEntries(undefined, only)).toBe(only);
    expect(mergeEntries(undefined, e("group:G", 1, { m: ["x"] }))).toEqual(e("group:G", 1, { m: ["x"] }));
  });

  it("a plain key: the later writtenAt wins, and on a tie the entry read last", () => {
    const older = e("a", 1, { h: "old" });
    const newer = e("a", 2, { h: "new" });
    expect(mergeEntries(older, newer)).toBe(newer);
    expect(mergeEntries(newer, older)).toBe(newer);
    const tie = e("a", 1, { h: "tie" });
    expect(mergeEntries(older, tie)).toBe(tie);
  });

  it("a group key: members are a union, supplements the maximum, the rest from the newer entry", () => {
    const current = e("group:G", 10, { h: "cur", m: ["a", "b"], s: 2 });
    expect(mergeEntries(current, e("group:G", 5, { h: "old", m: ["c"] }))).toEqual({ ...current, m: ["a", "b", "c"], s: 2, w: 10 });
    expect(mergeEntries(current, e("group:G", 20, { h: "next", m: ["b"], s: 1 }))).toEqual({ k: "group:G", h: "next", w: 20, r: "r1", m: ["a", "b"], s: 2 });
    expect(mergeEntries(current, e("group:G", 10, { h: "tie", m: [] }))).toMatchObject({ h: "tie", w: 10, s: 2 });
    // Entries without members or supplements (written before the registry kept them).
    expect(mergeEntries(e("group:G", 1), e("group:G", 2))).toEqual({ ...e("group:G", 2), m: [], s: 0 });
  });

  it("the index keeps the merged entry whatever order the segments are read in", () => {
    for (const order of [
      ["s1", "s2"],
      ["s2", "s1"],
    ]) {
      const index = new LedgerIndex("f");
      const segs: Record<string, StoredLedgerEntry[]> = { s1: [e("a", 3, { h: "late" })], s2: [e("a", 1, { h: "early" })] };
      for (const id of order) add(index, id, "s", segs[id]!);
      expect(index.stored("a")?.h).toBe("late");
      expect(index.lookup(["a", "zz"])).toEqual(new Map([["a", expect.objectContaining({ contentHash: "late", writtenAt: 3 })]]));
    }
  });
});

describe("planCompaction", () => {
  it("waits for enough page segments: packs do not count", () => {
    const index = new LedgerIndex("f");
    add(index, "p1", "p", [e("a", 1)]);
    add(index, "p2", "p", [e("b", 1)]);
    add(index, "s1", "s", [e("c", 1)]);
    expect(planCompaction(index, limits())).toBeNull();
    add(index, "s2", "s", [e("d", 1)]);
    expect(planCompaction(index, limits())).not.toBeNull();
  });

  it("merges page segments and open packs; a pack full by entries or half full by bytes stays", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("a", 1)]);
    add(index, "s2", "s", [e("b", 2)]);
    add(index, "pFull", "p", [e("c", 3), e("d", 3)], 10); // 2 entries = packMaxEntries: closed
    add(index, "pOpen", "p", [e("f", 4)], 499); // under half of 1,000 bytes, under 2 entries: open
    add(index, "pHalf", "p", [e("g", 5)], 500); // exactly half the bytes: closed
    add(index, "pBig", "p", [e("h", 6)], 800); // more than half (and under the maximum): closed
    const plan = planCompaction(index, limits({ packMaxEntries: 2, packMaxBytes: 1_000 }))!;
    expect(keysOf(plan.remove)).toEqual(["ledger:f:s1", "ledger:f:s2", "ledger:f:pOpen"]);
    expect(plan.packs.map((p) => p.keys)).toEqual([["a", "b"], ["f"]]);
  });

  it("deletes closed packs whose newest entry is past retention (not one at the cutoff), and drops expired entries", () => {
    const index = new LedgerIndex("f");
    add(index, "pOld", "p", [e("a", 1), e("b", 9)]); // newest 9 < 10: the whole pack goes
    add(index, "pEdge", "p", [e("c", 5), e("d", 10)]); // newest 10 = cutoff: kept
    add(index, "s1", "s", [e("x", 9), e("y", 10)]); // x expired, y kept
    add(index, "s2", "s", [e("z", 11)]);
    add(index, "s3", "s", [e("v", 2)]); // a page segment past retention is merged (its entry dropped), not deleted twice
    const plan = planCompaction(index, limits({ packMaxEntries: 2, retentionCutoff: 10 }))!;
    expect(keysOf(plan.remove)).toEqual(["ledger:f:s1", "ledger:f:s2", "ledger:f:s3", "ledger:f:pOld"]);
    expect(plan.packs.map((p) => p.keys)).toEqual([["y", "z"]]);
    // Without retention nothing expires.
    expect(keysOf(planCompaction(index, limits({ packMaxEntries: 2 }))!.remove)).toEqual(["ledger:f:s1", "ledger:f:s2", "ledger:f:s3"]);
  });

  it("plans no pack when every merged entry is past retention", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("a", 1)]);
    add(index, "s2", "s", [e("b", 2)]);
    expect(planCompaction(index, limits({ retentionCutoff: 100 }))).toEqual({ packs: [], remove: index.segments });
  });

  it("writes each key once, oldest first, ties by key", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("m", 30), e("b", 20), e("k", 20)]);
    add(index, "s2", "s", [e("m", 10), e("a", 20), e("c", 5)]); // m's older copy: the merged m (30) is kept
    const [pack] = planCompaction(index, limits())!.packs;
    expect(pack!.keys).toEqual(["c", "a", "b", "k", "m"]);
    expect(pack!.texts.map((t) => JSON.parse(t) as StoredLedgerEntry)).toEqual([e("c", 5), e("a", 20), e("b", 20), e("k", 20), e("m", 30)]);
    expect(pack!.newestWrittenAt).toBe(30);
  });

  it("cuts packs by entries: each pack's newest writtenAt is its own", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("a", 1), e("b", 2), e("c", 3)]);
    add(index, "s2", "s", [e("d", 4), e("f", 5)]);
    const { packs } = planCompaction(index, limits({ packMaxEntries: 2 }))!;
    expect(packs.map((p) => [p.keys, p.newestWrittenAt])).toEqual([
      [["a", "b"], 2],
      [["c", "d"], 4],
      [["f"], 5],
    ]);
  });

  it("cuts packs by bytes: each entry costs its JSON text plus one comma", () => {
    const index = new LedgerIndex("f");
    add(index, "s1", "s", [e("a", 1)]);
    add(index, "s2", "s", [e("b", 1)]);
    const size = index.keptText("a")!.length; // both texts have this length
    expect(index.keptText("b")!.length).toBe(size);
    const cut = (packMaxBytes: number) => planCompaction(index, limits({ packMaxBytes }))!.packs.map((p) => p.keys);
    expect(cut(2 * (size + 1))).toEqual([["a", "b"]]); // exactly full: one pack
    expect(cut(2 * (size + 1) - 1)).toEqual([["a"], ["b"]]); // one byte short: two
    expect(cut(size)).toEqual([["a"], ["b"]]); // an entry over the limit alone still gets a pack (no empty one before it)
  });
});

describe("LedgerIndex.applyCompaction", () => {
  it("swaps the merged segments for the written packs and drops only keys no segment holds any more", () => {
    const index = new LedgerIndex("f");
    add(index, "pKeep", "p", [e("x", 50), e("old", 1)]);
    add(index, "s1", "s", [e("old", 1), e("gone", 1), e("a", 60)]);
    add(index, "s2", "s", [e("b", 70)]);
    const plan = planCompaction(index, limits({ packMaxEntries: 2, retentionCutoff: 10 }))!;
    expect(plan.packs.map((p) => p.keys)).toEqual([["a", "b"]]);
    expect(keysOf(plan.remove)).toEqual(["ledger:f:s1", "ledger:f:s2"]);
    const pack: LedgerSegmentInfo = { id: "pNew", key: "ledger:f:pNew", kind: "p", createdAt: 1, keys: ["a", "b"], bytes: 10, newestWrittenAt: 70 };
    index.applyCompaction(plan, [pack, pack]);
    expect(keysOf(index.segments)).toEqual(["ledger:f:pKeep", "ledger:f:pNew"]);
    expect(index.hasSegment("ledger:f:s1")).toBe(false);
    expect(index.hasSegment("ledger:f:pNew")).toBe(true);
    // "gone" was only in s1 (past retention); "old" is also in the kept pack, so it stays.
    expect([...index.lookup(["x", "old", "gone", "a", "b"]).keys()]).toEqual(["x", "old", "a", "b"]);
    expect(index.size).toBe(4);
    // The written pack, listed by a later refresh, is known: not taken in twice.
    add(index, "pNew", "p", [e("a", 1)]);
    expect(index.segments).toHaveLength(2);
  });

  it("a store that compacts twice keeps one copy of each pack and answers every key", async () => {
    let now = Date.UTC(2026, 11, 5);
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const kv = new MemoryKeyValueStore();
    const options = { clock, writeIntervalMs: 0, ledger: { compactAfterSegments: 2, packMaxEntries: 2 } };
    const writer = new FlowStateStore(kv, options);
    for (const page of [["a", "b"], ["c"], ["d"], ["f"]]) {
      now += 1000;
      await writer.ledgerAppend(
        "f",
        page.map((k) => ({ externalKey: k, contentHash: "h", writtenAt: now, runId: "r" })),
      );
      // Each new store compacts what piled up since the last one (2 page segments).
      await new FlowStateStore(kv, options).loadLedger("f");
    }
    const reader = new FlowStateStore(kv, options);
    expect(await reader.loadLedger("f")).toEqual({ entries: 5, segments: 0, packs: 3 });
    expect([...(await reader.ledgerLookup("f", ["a", "b", "c", "d", "f"])).keys()]).toEqual(["a", "b", "c", "d", "f"]);
  });
});

describe("packValue", () => {
  it("is the stored pack JSON of the entries' texts", () => {
    const plan: CompactionPlan["packs"][number] = { keys: ["a"], texts: [JSON.stringify(e("a", 1))], newestWrittenAt: 1 };
    expect(JSON.parse(packValue('f"1', plan))).toEqual({ v: 1, flow: 'f"1', kind: "pack", entries: [e("a", 1)] });
  });
});
