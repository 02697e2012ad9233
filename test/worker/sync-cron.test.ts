import { describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { actualKis, actualTplus, expectedKis, expectedTplus } from "../helpers/targets.ts";
import { createStack, fillReferenceTables, fireCron, JST, kisBills, sourceDocuments, startFlowAt, tplusDispatches, workerEnv } from "./stack.ts";

const KIS_CRON = "*/30 * * * *";
const TPLUS_CRON = "10 1 * * *";

describe("cron ticks inside workerd against the emulators", () => {
  it("sync both seed flows end to end: the targets hold exactly what the source says", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 300, [JST.salesOut]: 200 }, days: 2 });
    const e = workerEnv(stack, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(stack, e);
    const now = Date.now();
    await startFlowAt(e, "jst-sales-out-to-tplus", now - 2 * 86_400_000); // a whole closed day at any hour
    await fireCron(e, KIS_CRON, now);
    await fireCron(e, TPLUS_CRON, now);

    const store = new FlowStateStore(new WorkersKvStore(e.STATE));
    const [kisRun] = await store.listRuns("jst-other-in-to-kis", 1);
    const [tplusRun] = await store.listRuns("jst-sales-out-to-tplus", 1);
    expect(kisRun?.outcome).toBe("success");
    expect(tplusRun?.outcome).toBe("success");
    type Windows = { windows: Array<{ from: number; to: number }> };
    const kw = (kisRun as unknown as Windows).windows;
    const tw = (tplusRun as unknown as Windows).windows;

    const expectedK = expectedKis(await sourceDocuments(stack, JST.otherInOut), kw[0]!.from, kw.at(-1)!.to);
    // The T+ seed reads by modified and groups by io_date: the days closed by the run, from what was modified in its windows.
    const expectedT = expectedTplus(await sourceDocuments(stack, JST.salesOut), 0, tw.at(-1)!.to, tw.at(-1)!.to, tw[0]!.from);
    expect(expectedK.size).toBeGreaterThan(5);
    expect(expectedT.size).toBeGreaterThan(1);
    const bills = await kisBills(stack);
    const dispatches = await tplusDispatches(stack);
    expect(Object.fromEntries(actualKis(bills))).toEqual(Object.fromEntries(expectedK));
    expect(Object.fromEntries(actualTplus(dispatches))).toEqual(Object.fromEntries(expectedT));
    expect(bills).toHaveLength(expectedK.size);
    expect(dispatches).toHaveLength(expectedT.size);
  });
});
