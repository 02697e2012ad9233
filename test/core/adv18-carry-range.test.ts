/**
 * Adversary (issue 18 item 5, continuation carry in the flow index). The carry is kept per FLOW, not per run: whatever
 * run next ends without continuing "ends the run" and writes the carry. A range backfill (POST /flows/:id/sync with
 * from/to, the CLI's `sync --from/--to`) that takes the free lease between two invocations of a continuing incremental
 * run therefore flushes the incremental run's carried ledger AND its carried run records: its own run record gets a
 * `chain` that sums the incremental invocations (their counts, subrequests, windows) as if they were the backfill's,
 * and the incremental run's final record later sums only the invocations after the backfill. The dashboard, alerts on
 * run records and the budget figures (chain.subrequests, chain.counts.written) then describe neither run truly.
 * Real engine, real KIS client, emulators, real state store; MemoryFlowCoordinator is the DO's model (as in
 * test/core/state-continuation-carry.test.ts). Explicit manual clock: no dependence on the time of day.
 *
 * Expected: the backfill's record carries no chain of the other run (its chain, if any, lists only its own runId); the
 * incremental run's final record lists every one of its invocations. Actual: the backfill's chain lists the
 * incremental invocations (free-000 …), and the incremental run's final chain misses them.
 * Fault: shared/state/continuation.ts openCarry/flush (carry not keyed by run; chainOf takes every carried run) and
 * shared/state/indexed-state.ts recordRun (a range run flushes the incremental carry). Severity: low–medium
 * (records and budget figures wrong; the ledger itself is flushed correctly, nothing lost or doubled in the target).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { type E2E, E2E_START, startE2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const FREE = 35;
const DAY = 86_400_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv18: a range backfill between invocations of a continuing run", () => {
  it("does not take over the continuing run's carried run records", async () => {
    e2e = await startE2E({ otherInOut: 600, salesOut: 0, days: 2 });
    const env = e2e;
    const lock = new MemoryFlowCoordinator(env.clock);
    const incremental: string[] = [];
    const invoke = async (runId: string) => {
      const { summary } = await runFlowById({ ...env.ports, lock }, { flowId: KIS, runId, trigger: "cron", budget: { maxSubrequests: FREE } });
      incremental.push(runId);
      env.clock.advance(60_000);
      return summary;
    };
    // Two invocations of an incremental run that continues (the Free budget).
    expect((await invoke("free-000")).continues).toBe(true);
    expect((await invoke("free-001")).continues).toBe(true);
    expect((await lock.loadIndex(KIS, { groupsSince: 0 })).carry?.runs.map((r) => r.runId)).toEqual(["free-000", "free-001"]);

    // An operator's backfill of an old, empty day, with a normal budget: it ends in one invocation.
    const range = { from: E2E_START - 30 * DAY, to: E2E_START - 29 * DAY };
    const backfill = await runFlowById(
      { ...env.ports, lock },
      { flowId: KIS, runId: "backfill-1", trigger: "http", budget: { maxSubrequests: 10_000 }, range },
    );
    expect(backfill.summary.continues).toBe(false);
    env.clock.advance(60_000);

    // The incremental run goes on to its end.
    for (let i = 2; i < 80; i++) if (!(await invoke(`free-${String(i).padStart(3, "0")}`)).continues) break;

    const runs = await new FlowStateStore(env.kv).listRuns(KIS, 100);
    const backfillRecord = runs.find((r) => r.runId === "backfill-1")!;
    const backfillChain = (backfillRecord as { chain?: { runIds: string[] } }).chain;
    expect(backfillChain?.runIds ?? ["backfill-1"]).toEqual(["backfill-1"]);
    const last = runs.find((r) => r.runId === incremental.at(-1))! as { chain?: { runIds: string[] } };
    expect(last.chain?.runIds).toEqual(incremental);
  }, 60_000);
});
