/**
 * Adversary 17: the trace index costs O(1) KV operations per page, but its day map (`trace:d:<flow>:<day>`) held
 * every token of every document of the UTC day and was read, parsed, re-serialised and rewritten whole by every
 * run: past ~210,000 documents a day (~125 bytes each) it no longer fit a Workers KV value (25 MiB), and a CLI
 * backfill (all its documents traced on the day it runs) kept tens of MB of it alive in every window (issue 18).
 * A map that reaches DAY_MAP_MAX_TOKENS is closed as a part written once; the day's map lists its parts.
 */
import { describe, expect, it } from "vitest";
import { DAY_MAP_MAX_TOKENS, searchTrace, TraceRecorder } from "../../shared/observe/trace.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";

const KV_VALUE_LIMIT = 25 * 1024 * 1024;
const FLOW = "jst-sales-out-to-tplus";

describe("adversary 17: the trace day map stays within a KV value", () => {
  it("a day of 30,000 documents is kept as bounded parts, and a search still finds the first and the last document", async () => {
    let t = Date.UTC(2024, 5, 20, 1, 0, 0);
    const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) };
    const kv = new MemoryKeyValueStore({ now: () => t });
    const rec = new TraceRecorder({ kv, flowId: FLOW, runId: "r1", clock, payloads: false });
    const source = { idOf: (r: Record<string, unknown>) => String(r.io_id), readWindow: async function* () {} };
    const docs = 30_000;
    for (let page = 0; page < docs / 50; page++) {
      const rows = Array.from({ length: 50 }, (_, i) => {
        const n = 53_000_000 + page * 50 + i;
        return { io_id: n, so_id: `SO${n}-2024062012`, o_id: n + 7_000_000, l_id: `SF14${n}0001` };
      });
      await rec.flush();
      rec.onPage({ from: t - 60_000, to: t }, page + 1, rows, source as never);
      for (const r of rows)
        rec.onWritten(
          { operation: "create", externalKey: `JST-${r.io_id}`, payload: {} } as never,
          { status: "created", targetId: `XSCK-2024-${r.io_id}` } as never,
        );
    }
    await rec.flush(true);
    const mapKeys = (await kv.list(`trace:d:${FLOW}:20240620`)).sort();
    const day = JSON.parse((await kv.get(`trace:d:${FLOW}:20240620`))!) as { p: string[] };
    expect(day.p.length).toBeGreaterThanOrEqual(Math.floor((docs * 6) / (2 * DAY_MAP_MAX_TOKENS)));
    expect(mapKeys.length).toBe(day.p.length + 1);
    let largest = 0;
    for (const key of mapKeys) {
      const raw = (await kv.get(key))!;
      const tokens = Object.keys((JSON.parse(raw) as { t: object }).t).length;
      // A map (what a run keeps and rewrites) holds at most the bound plus one chunk's tokens (2,000 events' worth).
      expect(tokens).toBeLessThanOrEqual(DAY_MAP_MAX_TOKENS + 6 * 2_000);
      largest = Math.max(largest, new TextEncoder().encode(raw).length);
    }
    console.log(`trace day map: ${mapKeys.length} values for ${docs} documents, the largest ${(largest / 1024).toFixed(0)} KiB`);
    expect(largest).toBeLessThan(KV_VALUE_LIMIT / 10);

    const now = t;
    for (const n of [53_000_000, 53_000_000 + docs - 1]) {
      const read = await searchTrace(kv, [FLOW], `SO${n}-2024062012`, { now });
      expect(read.events.map((e) => [e.t, e.t === "read" && e.id])).toEqual([["read", String(n)]]);
      const written = await searchTrace(kv, [FLOW], `JST-${n}`, { now });
      expect(written.events.map((e) => [e.t, e.t === "write" && e.targetId])).toEqual([["write", `XSCK-2024-${n}`]]);
    }
  });
});
