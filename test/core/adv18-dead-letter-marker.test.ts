/**
 * Adversary (issue 18's split: run-ledger.ts flushState, one stop path failRun; "nothing lost"). flushState saves the
 * ledger first — in the Worker that commits the dead-letter MARKERS (`dead:<key>`, content hash) to the flow index —
 * and the dead letters themselves to KV after it. When the dead-letter write fails (a KV hiccup), the letters were
 * already spliced out of pendingDead, failRun's second flushState has nothing left to save and the run is "failed"
 * with its window unsettled; so far, fine. But the next run re-reads the window, the target refuses the same document
 * the same way, and fileDeadLetter finds the marker with the same hash and SKIPS it ("filed once") — the letter that was
 * never stored is never filed, the window settles and the watermark moves past a document that is neither in the target
 * nor among the dead letters. Silent loss.
 * Real engine, real KIS client and emulator (errcode 10201 refusals), real state store over memory KV whose dead-letter
 * puts fail during the first run; MemoryFlowCoordinator models the DO. Manual clock only.
 *
 * Expected: after the second run every refused bill is a stored dead letter (or written). Actual: the bill refused in
 * run 1 is skipped by its marker in run 2 (counts.skipped 1), no letter and no bill for it, and run 2's watermark
 * moves past it (2 refused documents, 1 stored letter).
 * Fault: shared/engine/run-ledger.ts flushState (markers saved before the letters; pendingDead spliced before the
 * write) with fileDeadLetter's marker check (run-ledger.ts). Severity: high (silent loss after a transient KV error).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv18: a dead letter whose KV write failed", () => {
  it("is filed by the next run, not skipped by its marker", async () => {
    e2e = await startE2E({ otherInOut: 12, salesOut: 0, days: 2 });
    const env = e2e;
    const lock = new MemoryFlowCoordinator(env.clock);
    let failing = true;
    const put = env.kv.put.bind(env.kv);
    env.kv.put = async (key, value, options) => {
      if (failing && key.startsWith("dl:")) throw new Error("KV unavailable");
      return put(key, value, options);
    };
    // KIS refuses every bill (errcode 10201: a refusal, dead-lettered, not retried).
    env.stack.kis.addFaults([{ kind: "bizError", path: "create", times: 1_000, reason: "物料未审核" }]);
    const run = (runId: string) => runFlowById({ ...env.ports, lock }, { flowId: KIS, runId, trigger: "cron", budget: { maxSubrequests: 10_000 } });

    const first = await run("r-1");
    expect(first.summary.outcome).toBe("failed");
    expect(first.summary.counts.deadLettered).toBeGreaterThan(0);
    failing = false;
    env.clock.advance(10 * 60_000);
    const second = await run("r-2");

    const letters = await new FlowStateStore(env.kv).listDeadLetters(KIS);
    expect(env.stack.kis.bills()).toHaveLength(0);
    // Measured: run 1 refused 1 bill (letter lost with the KV error); run 2 skipped that one by its marker
    // (counts.skipped 1) and dead-lettered 1 new one: 1 letter stored for 2 refused documents.
    expect(second.summary.counts.skipped).toBe(0);
    // Fixed (markers saved after their letters): run 2 files run 1's refused bill afresh with its own, each stored once.
    expect(second.summary.counts.deadLettered).toBeGreaterThan(first.summary.counts.deadLettered);
    expect(letters.length).toBe(second.summary.counts.deadLettered);
    expect(new Set(letters.map((l) => l.sourceId)).size).toBe(letters.length);
  }, 60_000);
});
