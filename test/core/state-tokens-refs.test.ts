import { describe, expect, it } from "vitest";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/ports.ts";
import { MAX_VALUE_BYTES, utf8Length } from "../../shared/state/kv-helpers.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { chunkRows, KvReferenceStore } from "../../shared/state/reference-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { SKUS } from "../emulators/catalog.ts";

function testClock(start = Date.UTC(2024, 6, 1)): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, sleep: async (ms) => void (t += Math.max(0, ms)), advance: (ms) => void (t += ms) };
}

describe("KvTokenStore", () => {
  it("shares a rotated token pair between instances (hosts) through tok:<system>", async () => {
    const clock = testClock();
    const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: true });
    const worker = new KvTokenStore(kv, { clock });
    expect(await worker.get("jushuitan")).toBeNull();
    await worker.put("jushuitan", { accessToken: "at-1", refreshToken: "rt-1", expiresAt: 1_000, extra: { co_id: "10001" } });
    // A refresh right after the first write waits out KV's one-write-per-second rule instead of failing.
    await worker.put("jushuitan", { accessToken: "at-2", refreshToken: "rt-2", expiresAt: 2_000 });
    expect(clock.now()).toBe(Date.UTC(2024, 6, 1) + 1_000);
    const cli = new KvTokenStore(kv, { clock });
    expect(await cli.get("jushuitan")).toEqual({ accessToken: "at-2", refreshToken: "rt-2", expiresAt: 2_000 });
    expect(Object.keys(kv.snapshot())).toEqual(["tok:jushuitan"]);
  });

  it("returns copies, and rejects bad token sets without echoing their values", async () => {
    const kv = new MemoryKeyValueStore();
    const store = new KvTokenStore(kv, { clock: testClock() });
    await store.put("tplus", { accessToken: "secret-access" });
    const got = await store.get("tplus");
    got!.accessToken = "mutated";
    expect((await store.get("tplus"))?.accessToken).toBe("secret-access");
    const err = await store.put("tplus", { accessToken: 12345678 as never, refreshToken: "super-secret-refresh" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(JSON.stringify(err) + String(err)).not.toContain("super-secret-refresh");
    expect(String(err)).not.toContain("12345678");
    await kv.put("tok:kis", '{"refreshToken":"only-refresh"}');
    const corrupt = await new KvTokenStore(kv).get("kis").catch((e: unknown) => e);
    expect((corrupt as BridgeError).code).toBe("state_corrupt");
    expect(String(corrupt)).not.toContain("only-refresh");
  });
});

function bigTable(rows: number) {
  return Array.from({ length: rows }, (_, i) => {
    const sku = SKUS[i % SKUS.length]!;
    return {
      F_103: `${sku.skuId}-${i}`,
      FItemID: 10_000 + i,
      FNumber: `${sku.kisNumber}.${i}`,
      FName: `${sku.name} 第${i}号`,
      FUnitID: sku.kisUnitId,
      spec: sku.propertiesValue,
    };
  });
}

describe("KvReferenceStore", () => {
  it("stores a 50,000-row table in chunks under KV's 25 MiB value limit and loads it with two reads", async () => {
    const kv = new MemoryKeyValueStore();
    const store = new KvReferenceStore(kv, { clock: testClock(), maxChunkBytes: 4 * 1024 * 1024 });
    const rows = bigTable(50_000);
    await store.put({ name: "kis_items", rows, updatedAt: 123, source: "upload" });
    const snapshot = kv.snapshot();
    const chunkKeys = Object.keys(snapshot).filter((k) => k.startsWith("ref:kis_items:") && k !== "ref:kis_items:meta");
    expect(chunkKeys.length).toBeGreaterThan(1);
    for (const k of chunkKeys) expect(utf8Length(snapshot[k] as string)).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(Math.max(...chunkKeys.map((k) => utf8Length(snapshot[k] as string)))).toBeLessThan(MAX_VALUE_BYTES);
    expect(kv.stats.writes).toBe(chunkKeys.length + 1);

    kv.resetStats();
    const loaded = await new KvReferenceStore(kv).get("kis_items");
    expect(kv.stats.reads).toBe(2); // manifest + one bulk read of the chunks
    expect(loaded?.rows).toHaveLength(50_000);
    expect(loaded?.rows[49_999]).toEqual(rows[49_999]);
    expect(loaded).toMatchObject({ name: "kis_items", updatedAt: 123, source: "upload" });
    expect(await store.describe("kis_items")).toEqual({ rows: 50_000, chunks: chunkKeys.length, updatedAt: 123, source: "upload" });
  });

  it("replaces a table: new chunks, then the manifest, then the old chunks go", async () => {
    const clock = testClock();
    const kv = new MemoryKeyValueStore({ now: clock.now, enforceWriteRate: true });
    const store = new KvReferenceStore(kv, { clock, maxChunkBytes: 2048 });
    await store.put({ name: "units", rows: bigTable(100), updatedAt: 1 });
    const firstKeys = Object.keys(kv.snapshot());
    await store.put({ name: "units", rows: bigTable(3), updatedAt: 2 });
    const after = Object.keys(kv.snapshot());
    expect(after.filter((k) => firstKeys.includes(k))).toEqual(["ref:units:meta"]);
    expect((await store.get("units"))?.rows).toHaveLength(3);
    await store.put({ name: "skus", rows: [], updatedAt: 3 });
    expect(await store.list()).toEqual(["skus", "units"]);
    expect((await store.get("skus"))?.rows).toEqual([]);
    expect(await store.get("never")).toBeNull();
  });

  it("fails clearly (retryable) when the manifest points at chunks that are gone", async () => {
    const kv = new MemoryKeyValueStore();
    const store = new KvReferenceStore(kv, { maxChunkBytes: 2048 });
    await store.put({ name: "units", rows: bigTable(50), updatedAt: 1 });
    const chunk = Object.keys(kv.snapshot()).find((k) => k.endsWith("-1"))!;
    await kv.delete(chunk);
    const err = await store.get("units").catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("reference_table_inconsistent");
    expect((err as BridgeError).retryable).toBe(true);
  });

  it("chunks by UTF-8 size and rejects non-object rows and bad names", async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ name: "汉字".repeat(50), i }));
    const chunks = chunkRows(rows, 1024, "t");
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(utf8Length(c)).toBeLessThanOrEqual(1024);
    expect(chunks.flatMap((c) => JSON.parse(c))).toEqual(rows);
    expect(() => chunkRows([1 as never], 1024, "t")).toThrow(/row 0/);
    await expect(new KvReferenceStore(new MemoryKeyValueStore()).put({ name: "a:b", rows: [], updatedAt: 1 })).rejects.toBeInstanceOf(ConfigError);
  });
});
