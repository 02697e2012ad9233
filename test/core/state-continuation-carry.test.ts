/**
 * Continuation carry (shared/state/continuation.ts, issue 18 item 5): on the Workers Free budget a run takes many
 * invocations; each used to write a ledger segment, a trace chunk and day map, a freshness rollup and a run record to
 * KV (1,000 writes a day). Now an invocation that continues keeps them in the flow index (the Durable Object; its
 * model MemoryFlowCoordinator here) and the run's last invocation writes them once. Real engine, real KIS client,
 * emulators over loopback HTTP, the real state store on memory KV.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { searchTrace } from "../../shared/observe/trace.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { actualTargets, type E2E, E2E_START, expectedTargets, startE2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
/** The Workers Free budget: 50 subrequests less the Worker's state reserve. */
const FREE = 35;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function runFree(env: E2E, lock: MemoryFlowCoordinator, first: number, max = 60) {
  const invocations: Array<{ runId: string; continues: boolean; writes: string[] }> = [];
  for (let i = first; i < first + max; i++) {
    const before = env.kv.writeLog.length;
    const runId = `free-${String(i).padStart(3, "0")}`;
    const { summary } = await runFlowById({ ...env.ports, lock }, { flowId: KIS, runId, trigger: "cron", budget: { maxSubrequests: FREE } });
    expect(summary.outcome).not.toBe("failed");
    invocations.push({ runId, continues: summary.continues, writes: env.kv.writeLog.slice(before) });
    if (!summary.continues) return invocations;
    env.clock.advance(60_000);
  }
  throw new Error("the run did not end");
}

describe("continuation carry: a run of many Free-budget invocations", () => {
  it("writes no KV key from an invocation that continues; the last one writes the ledger, trace, view and record once; nothing lost or doubled", async () => {
    e2e = await startE2E({ otherInOut: 1500, salesOut: 0, days: 2 });
    const lock = new MemoryFlowCoordinator(e2e.clock);
    const invocations = await runFree(e2e, lock, 0);
    expect(invocations.length).toBeGreaterThan(3);
    // The first invocation fills reference tables and tokens (not per invocation) and writes the checkpoint view (the
    // CLI's Worker-owner check, adv18-cli-owner-carry); every later continuing one writes nothing.
    for (const inv of invocations.slice(1, -1)) expect({ runId: inv.runId, writes: inv.writes }).toEqual({ runId: inv.runId, writes: [] });
    const last = invocations.at(-1)!.writes.map((k) => k.split(":")[0]);
    for (const kind of ["ledger", "trace", "wm", "run", "fresh"]) expect(last).toContain(kind);

    // Nothing lost, nothing doubled: the target holds exactly the expected bills, the KV ledger every one of them.
    const expected = expectedTargets(e2e, { kis: E2E_START, tplusDayEnd: 0 }).kis;
    const actual = actualTargets(e2e);
    expect(actual.kisCount).toBe(expected.size);
    expect(actual.kis).toEqual(expected);
    const store = new FlowStateStore(e2e.kv);
    const written = e2e.stack.kis.bills().map((b) => String((b as { FBillNo?: unknown }).FBillNo));
    const ledger = await store.ledgerLookup(KIS, written);
    expect(written.filter((k) => !ledger.has(k))).toEqual([]);

    // The dashboard's record: one per run, summing its invocations.
    const runs = await store.listRuns(KIS, 100);
    expect(runs.map((r) => r.runId)).toEqual([invocations.at(-1)!.runId]);
    const chain = runs[0]!.chain as { invocations: number; runIds: string[]; counts: { written: number } };
    expect(chain.invocations).toBe(invocations.length);
    expect(chain.runIds).toEqual(invocations.map((i) => i.runId));
    expect(chain.counts.written).toBe(actual.kisCount);

    // The trace of a document written by an early (continuing) invocation is searchable once the run ended.
    const found = await searchTrace(e2e.kv, [KIS], written[0]!, { now: e2e.clock.now() });
    expect(found.events.map((ev) => ev.t)).toEqual(expect.arrayContaining(["read", "write"]));
    expect(await lock.loadIndex(KIS, { groupsSince: 0 })).not.toHaveProperty("carry");
  }, 60_000);

  it("a failed KV write at the run's end keeps the carry: the next invocation writes it, nothing lost", async () => {
    e2e = await startE2E({ otherInOut: 1000, salesOut: 0, days: 2 });
    const env = e2e;
    const lock = new MemoryFlowCoordinator(env.clock);
    // Ledger writes fail while `failing` is set (a KV outage at the run's last invocation).
    let failing = false;
    const put = env.kv.put.bind(env.kv);
    env.kv.put = async (key, value, options) => {
      if (failing && key.startsWith("ledger:")) throw new Error("KV unavailable");
      return put(key, value, options);
    };
    const firstRun = [];
    for (let i = 0; i < 60; i++) {
      const { summary } = await runFlowById(
        { ...env.ports, lock },
        { flowId: KIS, runId: `a-${String(i).padStart(3, "0")}`, trigger: "cron", budget: { maxSubrequests: FREE } },
      );
      firstRun.push(summary);
      if (!summary.continues) break;
      // The next invocation ends the run: its ledger write fails.
      failing = (await lock.loadIndex(KIS, { groupsSince: 0 })).carry !== undefined && i >= 2;
      env.clock.advance(60_000);
      if (failing) break;
    }
    // The invocation with the outage (it may still continue or end the run): the carry survives it.
    await runFlowById({ ...env.ports, lock }, { flowId: KIS, runId: "b-000", trigger: "cron", budget: { maxSubrequests: 10_000 } });
    expect((await lock.loadIndex(KIS, { groupsSince: 0 })).carry?.ledger.length).toBeGreaterThan(0);
    failing = false;
    env.clock.advance(60_000);
    const { summary } = await runFlowById({ ...env.ports, lock }, { flowId: KIS, runId: "c-000", trigger: "cron", budget: { maxSubrequests: 10_000 } });
    expect(summary.continues).toBe(false);
    const written = env.stack.kis.bills().map((b) => String((b as { FBillNo?: unknown }).FBillNo));
    const ledger = await new FlowStateStore(env.kv).ledgerLookup(KIS, written);
    expect(written.filter((k) => !ledger.has(k))).toEqual([]);
    expect(actualTargets(env).kisCount).toBe(expectedTargets(env, { kis: E2E_START, tplusDayEnd: 0 }).kis.size);
    expect(await lock.loadIndex(KIS, { groupsSince: 0 })).not.toHaveProperty("carry");
  }, 60_000);
});
