/**
 * Document trace (issue 17 item 1): the real engine against the emulators over HTTP, with the real state store;
 * the trace index's KV cost per page and per 1,000 documents, and searches by every id a user quotes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import type { RunSummary } from "../../shared/engine/types.ts";
import { searchTrace, TraceRecorder } from "../../shared/observe/trace.ts";
import type { KeyValueStore } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Counts the operations on trace keys only. */
function countingKv(inner: KeyValueStore) {
  const ops = { reads: 0, writes: 0, lists: 0, deletes: 0 };
  const kv: KeyValueStore = {
    get: (k) => (k.startsWith("trace:") && ops.reads++, inner.get(k)),
    put: (k, v, o) => (k.startsWith("trace:") && ops.writes++, inner.put(k, v, o)),
    delete: (k) => (k.startsWith("trace:") && ops.deletes++, inner.delete(k)),
    list: (p) => (p.startsWith("trace:") && ops.lists++, inner.list(p)),
  };
  return { kv, ops };
}

async function runAll(e: E2E, kv: KeyValueStore, flowId: string) {
  const summaries: RunSummary[] = [];
  for (let i = 0; i < 200; i++) {
    const { summary } = await runFlowById({ ...e.ports, kv }, { flowId, runId: `t-${flowId}-${i}`, trigger: "cli", budget: { maxSubrequests: 10_000 } });
    summaries.push(summary);
    if (!summary.continues) break;
  }
  return summaries;
}

describe("document trace", () => {
  it("indexes a run at ≤ 2 KV writes per page and finds a KIS document by io_id, FBillNo and voucher id", async () => {
    e2e = await startE2E({ otherInOut: 4000, salesOut: 0 });
    const { kv, ops } = countingKv(e2e.kv);
    const runs = await runAll(e2e, kv, KIS);
    expect(runs.at(-1)!.outcome, JSON.stringify(runs.at(-1)!.error)).toBe("success");
    const pages = runs.reduce((n, r) => n + r.windows.reduce((m, w) => m + w.pages, 0), 0);
    const read = runs.reduce((n, r) => n + r.counts.read, 0);
    const written = runs.reduce((n, r) => n + r.counts.written, 0);
    expect(written).toBeGreaterThan(50);
    // O(1) per page, not per document: one chunk per page plus the day map (and one map read per run).
    expect(ops.writes).toBeLessThanOrEqual(2 * pages + 2 * runs.length);
    expect(ops.reads).toBeLessThanOrEqual(2 * runs.length);
    console.log(
      `trace cost: ${read} documents read, ${written} written, ${pages} pages, ${runs.length} runs → ${ops.writes} writes, ${ops.reads} reads; per 1,000 documents: ${((ops.writes * 1000) / read).toFixed(1)} writes, ${((ops.reads * 1000) / read).toFixed(1)} reads`,
    );

    const doc = e2e.stack.kis.bills()[3]!;
    const billNo = String((doc as { Head?: { FBillNo?: string } }).Head?.FBillNo ?? (doc as { FBillNo?: string }).FBillNo);
    const byKey = await searchTrace(e2e.kv, [KIS, TPLUS], billNo, { now: e2e.clock.now() });
    const write = byKey.events.find((e) => e.t === "write");
    expect(write, JSON.stringify(byKey.events).slice(0, 500)).toBeDefined();
    expect(write!.t === "write" && write!.status).toBe("created");
    expect(write!.t === "write" && write!.targetId).toBeTruthy();
    expect(write!.t === "write" && write!.payload).toBeTruthy();
    const read1 = byKey.events.find((e) => e.t === "read");
    expect(read1?.window).toBeDefined();
    expect(read1?.run).toMatch(/^t-/);
    const ioId = read1!.t === "read" ? read1!.id : "";
    // Time order, and the same document's events whichever id is searched.
    const byIo = await searchTrace(e2e.kv, [KIS, TPLUS], ioId, { now: e2e.clock.now() });
    expect(byIo.events.map((e) => e.t)).toEqual(byKey.events.map((e) => e.t));
    expect([...byIo.events].sort((a, b) => a.at - b.at)).toEqual(byIo.events);
    const byVoucher = await searchTrace(e2e.kv, [KIS, TPLUS], String(write!.t === "write" ? write!.targetId : ""), { now: e2e.clock.now() });
    expect(byVoucher.events.some((e) => e.t === "write" && e.key === billNo)).toBe(true);
    // Nothing found for an unknown id; a search reads the day maps and only the chunks that mention the id.
    const none = await searchTrace(e2e.kv, [KIS, TPLUS], "no-such-document", { now: e2e.clock.now() });
    expect(none.events).toEqual([]);
    expect(none.reads).toBe(2 * 7);
  }, 120_000);

  it("follows a sales order (so_id) of a merged T+ flow to its group and ExternalCode", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const runs = await runAll(e2e, e2e.kv, TPLUS);
    expect(runs.at(-1)!.outcome, JSON.stringify(runs.at(-1)!.error)).toBe("success");
    const voucher = e2e.stack.tplus.vouchers("otherDispatch")[0] as unknown as Record<string, unknown>;
    const code = String(voucher.ExternalCode);
    const byCode = await searchTrace(e2e.kv, [KIS, TPLUS], code, { now: e2e.clock.now() });
    const write = byCode.events.find((e) => e.t === "write");
    expect(write, JSON.stringify(byCode.events).slice(0, 800)).toBeDefined();
    const members = new Set(byCode.events.flatMap((e) => (e.t === "write" || e.t === "settled" || e.t === "group" ? (e.members ?? []) : [])));
    expect(members.size).toBeGreaterThan(0);
    const ioId = [...members][0]!;
    const order = e2e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String((d as Record<string, unknown>).io_id) === ioId) as Record<
      string,
      unknown
    >;
    expect(order).toBeDefined();
    // The accountant quotes the sales order: its read, the merge group and the T+ document it went into.
    const bySo = await searchTrace(e2e.kv, [KIS, TPLUS], String(order.so_id), { now: e2e.clock.now() });
    const kinds = new Set(bySo.events.map((e) => e.t));
    expect(kinds.has("read")).toBe(true);
    expect(kinds.has("group")).toBe(true);
    expect(bySo.events.some((e) => e.t === "write" && e.key === code && e.status === "created")).toBe(true);
  }, 120_000);

  it("never writes the day map twice within a second (Workers KV's per-key rule) and loses no token", async () => {
    let now = 1_750_000_000_000;
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const kv = new MemoryKeyValueStore({ now: () => now, enforceWriteRate: true });
    const rec = new TraceRecorder({ kv, flowId: "f", runId: "r1", clock });
    const source = { idOf: (r: Record<string, unknown>) => String(r.io_id), readWindow: async function* () {} };
    for (let p = 1; p <= 5; p++) {
      rec.onPage({ from: 0, to: 1 }, p, [{ io_id: `io-${p}`, so_id: `so-${p}` }], source);
      await rec.flush();
      now += 4_000;
    }
    await rec.flush(true);
    for (let p = 1; p <= 5; p++) {
      const r = await searchTrace(kv, ["f"], `so-${p}`, { now });
      expect(r.events.map((e) => e.t === "read" && e.id)).toEqual([`io-${p}`]);
      expect(r.events[0]!.page).toBe(p);
    }
    // A chunk and the map 12 s into the run and at its end: 5 pages cost 4 writes, not 10.
    expect(rec.ops.writes).toBe(2 + 2);
  });
});
