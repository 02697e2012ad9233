/**
 * The ledger index's memory (issue 18: a 100,000-document backfill ≤ 120 MB peak RSS). The index keeps each key's
 * merged entry as JSON text; V8 keeps a string with any character above U+00FF at two bytes per character, so a
 * before-image whose head holds one Chinese word (`"Fnote":"报损出库"`) cost twice its length. The kept text is ASCII
 * (one byte per character; non-ASCII written as JSON escapes) and every lookup still answers the exact entry.
 */
import { describe, expect, it } from "vitest";
import { asciiJson, LedgerIndex } from "../../shared/state/ledger-index.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { LedgerEntry, StoredLedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

const image = (id: string): LedgerEntry => ({
  externalKey: `img:${id}`,
  contentHash: "35bed13858ad3b9314bf973cbbff8251",
  writtenAt: Date.UTC(2026, 11, 5),
  runId: "20261205T191528909Z-cli-d8e200-w018",
  members: [id],
  before: {
    d: id,
    l: [["1034", 27, 2053.35, { FItemID: "1034", FNote: "整箱 ×2 ¥5 é" }]],
    h: { Head: { FBillNo: id, Fdate: "2026-10-23T01:36:00", Fnote: "报损出库 😀", odd: "\ud800 lone" } },
  },
});

const isAscii = (text: string) => [...text].every((c) => c.charCodeAt(0) < 0x80);

describe("ledger index memory: the kept text is one byte per character", () => {
  it("keeps a before-image with Chinese, Latin-1 and astral characters as ASCII JSON and answers it unchanged", async () => {
    const kv = new MemoryKeyValueStore();
    const store = new FlowStateStore(kv, { writeIntervalMs: 0 });
    const entries = ["2108670", "2108673"].map(image);
    await store.ledgerAppend("f", entries);
    const found = await store.ledgerLookup("f", ["img:2108670", "img:2108673"]);
    expect([...found.values()]).toEqual(entries);

    // The same answer from the index read back from the stored segment (what a later window or run loads).
    const index = new LedgerIndex("f");
    const stored = entries.map((e) => ({ k: e.externalKey, h: e.contentHash, w: e.writtenAt, r: e.runId, m: e.members, b: e.before }) as StoredLedgerEntry);
    index.addSegment({ id: "s1", key: "ledger:f:s1", kind: "s", createdAt: 0, entries: stored, bytes: 0 });
    for (const e of stored) {
      const text = index.keptText(e.k)!;
      expect(isAscii(text)).toBe(true);
      expect(text.length).toBeLessThan(JSON.stringify(e).length * 1.25); // escapes, not a second encoding of it all
      expect(index.stored(e.k)).toEqual(e);
    }
  });

  it("compacts from the kept texts: the pack is ASCII JSON (one byte per character) and answers every entry unchanged", async () => {
    const kv = new MemoryKeyValueStore();
    let now = Date.UTC(2026, 11, 5);
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const options = { clock, writeIntervalMs: 0, ledger: { compactAfterSegments: 2 } };
    const writer = new FlowStateStore(kv, options);
    const pages = [["2108670", "2108671"], ["2108672"]].map((ids) => ids.map(image));
    for (const page of pages) {
      now += 1000;
      await writer.ledgerAppend("f", page);
    }
    const compacting = new FlowStateStore(kv, options);
    expect((await compacting.loadLedger("f")).compaction).toEqual({ packsWritten: 1, keysRemoved: 2 });
    const keys = await kv.list("ledger:f:");
    expect(keys).toHaveLength(1);
    const pack = (await kv.get(keys[0]!))!;
    expect(isAscii(pack)).toBe(true);
    const all = pages.flat();
    const value = JSON.parse(pack) as { v: number; flow: string; kind: string; entries: StoredLedgerEntry[] };
    expect({ ...value, entries: value.entries.map((e) => e.k) }).toEqual({ v: 1, flow: "f", kind: "pack", entries: all.map((e) => e.externalKey) });
    const keysOf = all.map((e) => e.externalKey);
    expect([...(await compacting.ledgerLookup("f", keysOf)).values()]).toEqual(all);
    expect([...(await new FlowStateStore(kv, options).ledgerLookup("f", keysOf)).values()]).toEqual(all);
  });

  it("asciiJson leaves ASCII JSON as it is and escapes the rest", () => {
    expect(asciiJson({ a: "plain" })).toBe('{"a":"plain"}');
    expect(asciiJson({ a: "报" })).toBe('{"a":"\\u62a5"}');
    expect(JSON.parse(asciiJson({ a: "😀 é \ud800" }))).toEqual({ a: "😀 é \ud800" });
  });
});
