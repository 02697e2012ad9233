import { env as untypedEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Clock } from "../../shared/ports.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import type { Env } from "../../worker/env.ts";

// worker/cloudflare-globals.d.ts does not type `env` yet (an `extends import(...)` clause is ignored under skipLibCheck).
const env = untypedEnv as unknown as Env;

// Real local KV (the STATE binding from wrangler.toml) inside workerd. Time is a test clock so
// the one-write-per-second spacing costs no wall time.
function testClock(start = Date.UTC(2024, 6, 1, 4)): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, sleep: async (ms) => void (t += Math.max(0, ms)), advance: (ms) => void (t += ms) };
}

describe("FlowStateStore over the Workers KV binding", () => {
  it("round-trips a checkpoint with its cursor", async () => {
    const clock = testClock();
    const store = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    await store.saveCheckpoint("wk-flow", { watermark: 1_719_800_000_000, cursor: { window: { from: 1, to: 2 }, page: 4 }, runId: "r1" });
    const fresh = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    expect(await fresh.getWatermark("wk-flow")).toEqual({
      watermark: 1_719_800_000_000,
      cursor: { window: { from: 1, to: 2 }, page: 4 },
      runId: "r1",
      savedAt: clock.now(),
    });
    expect(JSON.parse((await env.STATE.get("wm:wk-flow")) as string).runId).toBe("r1");
  });

  it("finds ledger entries across segments with bulk reads, and compacts them", async () => {
    const clock = testClock();
    const writer = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    for (let page = 0; page < 6; page++) {
      clock.advance(1_000);
      await writer.ledgerAppend(
        "wk-ledger",
        Array.from({ length: 50 }, (_, i) => ({ externalKey: `doc-${page * 50 + i}`, contentHash: `h${page}`, writtenAt: clock.now(), runId: "r1" })),
      );
    }
    expect((await env.STATE.list({ prefix: "ledger:wk-ledger:" })).keys).toHaveLength(6);
    const reader = new FlowStateStore(new WorkersKvStore(env.STATE), { clock, ledger: { compactAfterSegments: 4 } });
    const found = await reader.ledgerLookup("wk-ledger", ["doc-0", "doc-299", "doc-300"]);
    expect(found.get("doc-0")?.contentHash).toBe("h0");
    expect(found.get("doc-299")?.contentHash).toBe("h5");
    expect(found.has("doc-300")).toBe(false);
    const keys = (await env.STATE.list({ prefix: "ledger:wk-ledger:" })).keys.map((k: { name: string }) => k.name);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/:p\d{13}-/);
    const third = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    expect((await third.ledgerLookup("wk-ledger", ["doc-150"])).get("doc-150")?.contentHash).toBe("h3");
  });

  it("adds, lists, resolves dead letters and lists runs", async () => {
    const clock = testClock();
    const store = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    const [a, b] = await store.addDeadLetters("wk-dl", [
      { runId: "r1", sourceId: "io-1", error: { code: "kis_rejected", message: "no unit" } },
      { runId: "r1", sourceId: "io-2", error: { code: "kis_rejected", message: "no unit" } },
    ]);
    await store.resolveDeadLetter(a!.id, { reason: "unit added in KIS", by: "ops" });
    const fresh = new FlowStateStore(new WorkersKvStore(env.STATE), { clock });
    expect((await fresh.listDeadLetters("wk-dl")).map((d) => d.id)).toEqual([b!.id]);
    expect((await fresh.getDeadLetter(a!.id))?.resolved?.reason).toBe("unit added in KIS");

    for (let i = 0; i < 3; i++) {
      clock.advance(600_000);
      await store.recordRun({ runId: makeRunId(clock.now(), "cron"), flowId: "wk-dl", startedAt: clock.now(), outcome: "success" });
    }
    const runs = await fresh.listRuns("wk-dl", 2);
    expect(runs.map((r) => r.startedAt)).toEqual([clock.now(), clock.now() - 600_000]);
  });

  it("lists past a page boundary by following the cursor until list_complete", async () => {
    for (let i = 0; i < 23; i++) await env.STATE.put(`page-test:${String(i).padStart(2, "0")}`, "x");
    await env.STATE.put("page-tesu:other", "x");
    const keys = await new WorkersKvStore(env.STATE, { listPageSize: 5 }).list("page-test:");
    expect(keys).toHaveLength(23);
    expect(keys[22]).toBe("page-test:22");
    const many = await new WorkersKvStore(env.STATE).getMany(["page-test:00", "page-test:99"]);
    expect([...many.entries()]).toEqual([
      ["page-test:00", "x"],
      ["page-test:99", null],
    ]);
  });

  it("shares tokens and reference tables through the binding", async () => {
    const kv = new WorkersKvStore(env.STATE);
    await new KvTokenStore(kv).put("jushuitan", { accessToken: "a1", refreshToken: "r1" });
    expect(await new KvTokenStore(new WorkersKvStore(env.STATE)).get("jushuitan")).toEqual({ accessToken: "a1", refreshToken: "r1" });
    const rows = Array.from({ length: 2_000 }, (_, i) => ({ code: `M${i}`, name: `物料${i}` }));
    await new KvReferenceStore(kv, { maxChunkBytes: 16 * 1024 }).put({ name: "materials", rows, updatedAt: 7 });
    const table = await new KvReferenceStore(new WorkersKvStore(env.STATE)).get("materials");
    expect(table?.rows).toEqual(rows);
    expect(await new KvReferenceStore(kv).list()).toEqual(["materials"]);
  });
});
