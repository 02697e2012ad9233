/**
 * Adversary (issue 18 item 5 vs engine-review finding 10, the CLI's Worker-owner check). The CLI and the Worker share
 * no lock; the CLI refuses an incremental sync of a flow whose KV checkpoint view was saved by a Worker run
 * (action/cli/sync-runner.ts refuseWorkerOwned → lease-lock.ts workerOwner). Since the continuation carry, a Worker
 * run writes that view only in its LAST invocation (shared/state/indexed-state.ts recordRun returns after
 * carry.keep()), and its ledger entries stay in the Durable Object until then. During a flow's first Worker run — the
 * initial catch-up, many Free-plan invocations — KV holds no view at all, so the CLI finds no owner, no checkpoint and
 * none of the written documents, and runs the flow from its start alongside the Worker: every document the Worker
 * already wrote is sent again (KIS then relies on the precheck look-up, T+ on ExternalCode).
 * Real engine, real KIS client, emulators, real CLI (runCli) over the same file KV; MemoryFlowCoordinator models the
 * Worker's Durable Object. Manual clock only.
 *
 * Expected: the incremental CLI sync is refused with worker_owned_flow (as it was before the carry, when the first
 * invocation wrote the view). Actual: the CLI runs ("success"): measured, the 32 bills the Worker had written came back
 * as alreadyExisted (saved only by KIS_PRECHECK=always's look-up) and the CLI wrote 65 more under its own KV
 * checkpoint while the Worker's run still continues from the index. With the seed flow (no startAt) the CLI fails
 * instead with checkpoint_missing, whose hint ("set incremental.startAt") leads to the same race.
 * Fault: shared/state/indexed-state.ts recordRun (no KV view while a run continues), with action/cli/lease-lock.ts
 * workerOwner relying on it. Severity: high where the target does not refuse a repeated key; medium otherwise.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

const KIS = "jst-other-in-to-kis";
const FREE = 35;
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("adv18: the CLI's Worker-owner check during a continuing first Worker run", () => {
  it("refuses an incremental CLI sync while the Worker's first run continues", async () => {
    h = await startCliHarness({ otherInOut: 1200, salesOut: 0, days: 2 });
    await h.fillReferences();
    const e2e = h.e2e;
    const kv = new FileKeyValueStore({ dir: join(h.dir, ".jst-bridge") });
    const lock = new MemoryFlowCoordinator(e2e.clock);
    // Two invocations of the Worker's first run (cron run ids), Free budget: it continues.
    for (let i = 0; i < 2; i++) {
      const runId = makeRunId(e2e.clock.now(), "cron");
      const { summary } = await runFlowById({ ...e2e.ports, kv, lock }, { flowId: KIS, runId, trigger: "cron", budget: { maxSubrequests: FREE } });
      expect(summary.continues).toBe(true);
      e2e.clock.advance(60_000);
    }
    expect(e2e.stack.kis.bills().length).toBeGreaterThan(0); // the Worker has written bills
    const view = await new FlowStateStore(kv).getWatermark(KIS);

    // The operator's flow file (the seed flow with its incremental.startAt, as the Worker runs it).
    await writeFile(join(h.dir, "kis.json"), JSON.stringify(e2e.flows[KIS]));
    const billsBefore = e2e.stack.kis.bills().length;
    const r = await h.cli(["sync", "./kis.json", "--json"]);
    const report = JSON.parse(r.stdout) as { error?: { code?: string }; outcome?: string; counts?: unknown };
    expect({ view, code: report.error?.code, outcome: report.outcome }).toMatchObject({ code: "worker_owned_flow" });
    expect(e2e.stack.kis.bills().length).toBe(billsBefore);
  }, 90_000);
});
