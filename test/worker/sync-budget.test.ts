import { describe, expect, it } from "vitest";
import { invocationsOf } from "../helpers/invocations.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { actualKis, expectedKis } from "../helpers/targets.ts";
import { createStack, fillReferenceTables, fireCron, JST, kisBills, sourceDocuments, workerEnv } from "./stack.ts";

const KIS_CRON = "*/30 * * * *";

// Its own file: KV storage is isolated per test file, and this test needs a flow that has never run.
describe("budgeted cron runs inside workerd", () => {
  it("a budget of 5 fetches per invocation takes many ticks, each within budget, with the same final state", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 1200, [JST.salesOut]: 0 }, days: 2 });
    const e = workerEnv(stack, { MAX_SUBREQUESTS: "8", STATE_SUBREQUEST_RESERVE: "3", FLOWS: "jst-other-in-to-kis" });
    await fillReferenceTables(stack, e);
    const store = new FlowStateStore(new WorkersKvStore(e.STATE));
    const start = Date.now();
    let ticks = 0;
    // Continuing invocations keep their records in the flow index; the run's last one writes the run record (chain).
    for (; ticks < 150; ticks++) {
      await fireCron(e, KIS_CRON, start + ticks * 1000);
      const [last] = await store.listRuns("jst-other-in-to-kis", 1);
      if (last && !(last as unknown as { continues: boolean }).continues) break;
    }
    expect(ticks).toBeGreaterThan(2);
    const runs = invocationsOf(await store.listRuns("jst-other-in-to-kis", 100));
    expect(runs).toHaveLength(ticks + 1);
    for (const run of runs) expect(run.subrequests).toBeLessThanOrEqual(5);
    const first = runs[0]!;
    const last = runs.at(-1)!;
    const expected = expectedKis(await sourceDocuments(stack, JST.otherInOut), first.windows[0]!.from, last.windows.at(-1)!.to);
    const bills = await kisBills(stack);
    expect(Object.fromEntries(actualKis(bills))).toEqual(Object.fromEntries(expected));
    expect(bills).toHaveLength(expected.size);
  }, 30_000);
});
