import { describe, expect, it } from "vitest";
import type { Clock } from "../../shared/ports.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { md5Hex } from "../../shared/util/md5.ts";

function testClock(start = Date.UTC(2024, 6, 1, 4, 0, 0)): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += Math.max(0, ms);
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

const DOCS = 1_000;
const PAGE = 50;

/**
 * Drives the store the way the engine does for one run: look the page up in the ledger, write the
 * changed documents (elsewhere), append the page's entries, then save the checkpoint and the run record.
 */
async function simulateRun(kv: MemoryKeyValueStore, clock: ReturnType<typeof testClock>, version: string, deadLetterEvery = 0) {
  const store = new FlowStateStore(kv, { clock });
  const runId = makeRunId(clock.now(), "cron");
  const startedAt = clock.now();
  let written = 0;
  let unchanged = 0;
  for (let first = 0; first < DOCS; first += PAGE) {
    const keys = Array.from({ length: PAGE }, (_, i) => `jst-other-in:${100_000 + first + i}`);
    const known = await store.ledgerLookup("jst-other-in", keys);
    const entries: LedgerEntry[] = [];
    const failed = [];
    for (const key of keys) {
      const hash = md5Hex(`${key}|${version}`);
      if (known.get(key)?.contentHash === hash) {
        unchanged++;
        continue;
      }
      if (deadLetterEvery && Number(key.split(":")[1]) % deadLetterEvery === 0) {
        failed.push({ runId, sourceId: key, error: { code: "kis_rejected", message: "unit not found" } });
        continue;
      }
      entries.push({ externalKey: key, contentHash: hash, targetId: `T${key.slice(-6)}`, writtenAt: clock.now(), runId });
    }
    await store.ledgerAppend("jst-other-in", entries);
    if (failed.length) await store.addDeadLetters("jst-other-in", failed);
    written += entries.length;
    clock.advance(300); // pages follow each other quickly: no key may be written twice within a second
  }
  await store.saveCheckpoint("jst-other-in", { watermark: clock.now(), runId });
  await store.recordRun({ runId, flowId: "jst-other-in", startedAt, finishedAt: clock.now(), outcome: "success", counts: { written, unchanged } });
  return { written, unchanged };
}

describe("KV write budget", () => {
  it("writes 1,000 documents in pages of 50 with at most 25 KV writes, watermark and run record included", async () => {
    const clock = testClock();
    const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: true });
    const result = await simulateRun(kv, clock, "v1");
    expect(result.written).toBe(DOCS);
    // 20 ledger segments + 1 checkpoint + 1 run record.
    expect(kv.stats.writes).toBe(22);
    expect(kv.stats.writes).toBeLessThanOrEqual(25);
    expect(kv.writeLog.filter((k) => k.startsWith("ledger:"))).toHaveLength(20);
    expect(kv.writeLog.filter((k) => k === "wm:jst-other-in")).toHaveLength(1);
    // The ledger was loaded once: one list and one bulk read (nothing to read on a first run).
    expect(kv.stats.lists).toBe(1);
  });

  it("a re-run over the same unchanged documents writes only the checkpoint and the run record", async () => {
    const clock = testClock();
    const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: true });
    await simulateRun(kv, clock, "v1");
    clock.advance(600_000);
    kv.resetStats();
    const again = await simulateRun(kv, clock, "v1");
    expect(again).toEqual({ written: 0, unchanged: DOCS });
    expect(kv.stats.writes).toBe(2);
    // Loading 20 segments costs one list and one bulk read.
    expect(kv.stats.lists).toBe(1);
    expect(kv.stats.reads).toBe(1);
    expect(kv.stats.keysRead).toBe(20);
  });

  it("stays within budget when every page also dead-letters some documents, and compaction amortizes", async () => {
    const clock = testClock();
    const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: true });
    await simulateRun(kv, clock, "v1", 7);
    // 20 ledger + 20 dead-letter segments + checkpoint + run: dead letters are one write per page, never per document.
    expect(kv.stats.writes).toBe(42);

    // Ten more runs that each change every document: compaction kicks in once 24 page segments pile up.
    let totalWrites = 0;
    let maxKeys = 0;
    for (let run = 0; run < 10; run++) {
      clock.advance(600_000);
      kv.resetStats();
      await simulateRun(kv, clock, `v${run + 2}`);
      totalWrites += kv.stats.writes;
      maxKeys = Math.max(maxKeys, (await kv.list("ledger:jst-other-in:")).length);
    }
    const perThousand = totalWrites / 10;
    expect(perThousand).toBeLessThanOrEqual(25);
    // The number of ledger keys a run must read stays bounded instead of growing by 20 per run.
    expect(maxKeys).toBeLessThanOrEqual(24 + 20 + 2);
    const store = new FlowStateStore(kv, { clock });
    const found = await store.ledgerLookup("jst-other-in", ["jst-other-in:100007", "jst-other-in:100999"]);
    expect(found.get("jst-other-in:100999")?.contentHash).toBe(md5Hex("jst-other-in:100999|v11"));
    expect(found.get("jst-other-in:100007")?.contentHash).toBe(md5Hex("jst-other-in:100007|v11"));
  });
});
