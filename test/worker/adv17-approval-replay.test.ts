import { describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { callApi, createStack, fillReferenceTables, JST, kisBills, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";

// Adversary 17: "approval: required" holds every write of the flow until approved. A dead letter left from before
// the flow was gated (or before its definition changed) must not be written by a replay while the flow waits.
describe("adversary 17: the approval gate holds replays too", () => {
  it("refuses to replay a dead letter of a flow that waits for approval, and writes nothing", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 40, [JST.salesOut]: 0 }, days: 1 });
    const live = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, live);
    const refs = new KvReferenceStore(new WorkersKvStore(live.STATE));
    const table = (await refs.get("kis_materials"))!;
    await refs.put({ ...table, rows: table.rows.filter((r) => !String(r.F_103).startsWith("TX100")) });
    const sync = await callApi(live, "POST", `/flows/${KIS}/sync`);
    expect(sync.json.run.counts.deadLettered).toBeGreaterThan(0);
    await refs.put({ ...table, updatedAt: Date.now() }); // the cause is fixed: a replay would now succeed

    // The flow is now gated (a new definition): nothing of it may be written until approved.
    const gated = workerEnv(s, { MAX_SUBREQUESTS: "10000", FLOW_APPROVAL: KIS });
    expect((await callApi(gated, "GET", `/flows/${KIS}/plan`)).json.approved).toBe(false);
    const letters = (await callApi(gated, "GET", `/dead-letters?flow=${KIS}`)).json.deadLetters;
    expect(letters.length).toBeGreaterThan(0);
    const before = (await kisBills(s)).length;
    const replay = await callApi(gated, "POST", `/dead-letters/${encodeURIComponent(letters[0].id)}/replay`, { body: {} });
    expect((await kisBills(s)).length).toBe(before);
    expect(replay.status).toBe(409);
    expect(replay.json.error.message).toContain("waits for approval");
  }, 120_000);
});
