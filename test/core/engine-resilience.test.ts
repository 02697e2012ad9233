import { afterEach, describe, expect, it } from "vitest";
import { actualTargets, E2E_START, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { expectTargetsExact } from "../helpers/e2e-expect.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("engine resilience (Node, emulators over HTTP)", () => {
  it("a budget of 5 subrequests takes many invocations, each within budget, with the same final state", async () => {
    e2e = await startE2E();
    for (const flow of [KIS, TPLUS]) {
      const runs = await e2e.runToCompletion(flow, { budget: { maxSubrequests: 5 } });
      expect(runs.length).toBeGreaterThan(3);
      for (const run of runs) expect(run.subrequests).toBeLessThanOrEqual(5);
      expect(runs.slice(0, -1).every((r) => r.continues && r.outcome === "incomplete")).toBe(true);
    }
    expectTargetsExact(e2e);
  });

  it("page drift, token expiry, throttling and 5xx during the run change nothing in the outcome", async () => {
    e2e = await startE2E();
    e2e.stack.jushuitan.addFaults([
      { kind: "pageDrift", path: JST_PATHS.otherInOut, count: 3, skip: 1 },
      { kind: "tokenExpired", skip: 3 },
      { kind: "throttle", code: 199, skip: 5 },
      { kind: "http5xx", status: 502, skip: 7, times: 2 },
      { kind: "html", skip: 10 },
    ]);
    e2e.stack.tplus.addFaults([
      { kind: "http5xx", path: "otherDispatch/Create", skip: 1 },
      { kind: "throttle409", path: "otherDispatch/Create", skip: 3 },
      { kind: "tokenExpired", path: "otherDispatch/Create", skip: 5 },
    ]);
    e2e.stack.kis.addFaults([
      { kind: "http5xx", path: "miscellaneousreceipt/create", skip: 2 },
      { kind: "authExpired", path: "miscellaneousreceipt/create", skip: 4 },
      { kind: "throttle", path: "miscellaneousreceipt/create", skip: 6, retryAfterS: 1 },
    ]);
    await e2e.runToCompletion(KIS);
    await e2e.runToCompletion(TPLUS);
    expectTargetsExact(e2e);
  });

  it("commit-then-timeout at both targets writes each document once", async () => {
    e2e = await startE2E();
    e2e.stack.tplus.addFaults([{ kind: "commitThenTimeout", path: "otherDispatch/Create", skip: 2, times: 2 }]);
    e2e.stack.kis.addFaults([{ kind: "commitThenTimeout", path: "miscellaneousreceipt/create", skip: 3, times: 2 }]);
    await e2e.runToCompletion(KIS);
    await e2e.runToCompletion(TPLUS);
    expectTargetsExact(e2e);
  });

  it("an invocation killed after the target committed but before the ledger was saved: the next run writes nothing twice", async () => {
    e2e = await startE2E();
    for (const flow of [KIS, TPLUS]) {
      // Never settles: the run is abandoned the way a killed isolate is, holding its lease.
      void e2e.run(flow, {}, { fetch: e2e.crashingFetch(4) });
      await new Promise((r) => setTimeout(r, 300));
      const blocked = await e2e.run(flow);
      expect(blocked.summary.outcome).toBe("skipped_locked");
      e2e.clock.advance(16 * 60_000); // the dead run's lease expires
      const after = await e2e.runToCompletion(flow);
      expect(after.at(-1)!.outcome).toBe("success");
    }
    expectTargetsExact(e2e);
  });

  it("a document with a permanent mapping error is dead-lettered once; the rest completes and the watermark moves on", async () => {
    e2e = await startE2E();
    // Remove one material from the lookup table: every receipt using that SKU cannot be mapped.
    const refs = new KvReferenceStore(e2e.kv);
    const table = (await refs.get("kis_materials"))!;
    const victim = table.rows[0]!;
    await refs.put({ ...table, rows: table.rows.slice(1) });

    const runs = await e2e.runToCompletion(KIS);
    const last = runs.at(-1)!;
    const deadLettered = runs.reduce((n, r) => n + r.counts.deadLettered, 0);
    expect(deadLettered).toBeGreaterThan(0);
    expect(last.outcome).toBe("partial");
    expect(last.watermarkAfter).toBeGreaterThanOrEqual(E2E_START - 5 * 60_000 - 60_000);

    const store = new FlowStateStore(e2e.kv);
    const letters = await store.listDeadLetters(KIS);
    expect(letters).toHaveLength(deadLettered);
    expect(letters[0]!.error.code).toBe("lookup_miss");
    expect(JSON.stringify(letters[0]!.source)).toContain(String(victim.F_103));

    const expected = expectedTargets(e2e, { kis: E2E_START - 5 * 60_000, tplusDayEnd: 0 });
    const written = actualTargets(e2e);
    expect(written.kisCount + deadLettered).toBe(expected.kis.size);

    // The lookback re-reads the failed documents: they are not filed again.
    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS);
    expect(again.summary.counts.deadLettered).toBe(0);
    expect(await store.listDeadLetters(KIS)).toHaveLength(deadLettered);
  });
});
