import { describe, expect, it } from "vitest";
import { callApi, createStack, fillReferenceTables, JST, kisBills, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

// Issue 17 item 4 inside workerd: approval: required holds the writes as a plan until approved.
describe("approve before post", () => {
  it("a gated flow only plans (no write, no watermark) until approved; approval writes exactly the plan, once", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 200, [JST.salesOut]: 0 }, days: 2 });
    const env = workerEnv(s, { MAX_SUBREQUESTS: "10000", FLOW_APPROVAL: KIS });
    await fillReferenceTables(s, env);

    const held = await callApi(env, "POST", `/flows/${KIS}/sync`);
    expect(held.status).toBe(200);
    expect(held.json.run.approval).toBe("pending");
    expect(held.json.run.dryRun).toBe(true);
    expect(await kisBills(s)).toHaveLength(0);
    const flows = (await callApi(env, "GET", "/flows")).json.flows;
    expect(flows.find((f: { id: string }) => f.id === KIS).watermark).toBeNull();
    expect((await callApi(env, "GET", `/runs?flow=${KIS}`)).json.runs).toEqual([]);

    const plan = (await callApi(env, "GET", `/flows/${KIS}/plan`)).json;
    expect(plan).toMatchObject({ required: true, approved: false, approval: null });
    expect(plan.plan.total).toBeGreaterThan(0);
    expect(plan.plan.planned[0].payload).toBeTruthy();
    expect(plan.plan.planned.every((p: { status: string }) => p.status === "new")).toBe(true);

    // Not without the token; not for a plan that is not the latest; not for a flow that does not ask.
    expect((await callApi(env, "POST", `/flows/${KIS}/approve`, { body: {}, token: null })).status).toBe(401);
    expect((await callApi(env, "POST", `/flows/${KIS}/approve`, { body: { planId: "old-plan" } })).status).toBe(409);
    expect(await kisBills(s)).toHaveLength(0);
    expect((await callApi(env, "POST", `/flows/${TPLUS}/approve`, { body: {} })).status).toBe(400);
    // A re-sweep is a write too: refused while the flow waits (it reads the day in its own way, so it is judged on the flow).
    const sweep = await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day: "2024-06-19" } });
    expect(sweep.status).toBe(409);
    expect(sweep.json.error.message).toContain("waits for approval");

    const ok = await callApi(env, "POST", `/flows/${KIS}/approve`, { body: { planId: plan.plan.planId } });
    expect(ok.status).toBe(200);
    expect(ok.json.approval.by).toBe("api");
    expect(ok.json.run.dryRun).toBe(false);
    expect(ok.json.run.counts.written).toBe(plan.plan.total);
    const bills = await kisBills(s);
    expect(plan.plan.planned).toHaveLength(plan.plan.total); // under MAX_PLANNED: the whole plan is stored
    expect(bills.map((b) => b.FBillNo).sort()).toEqual(plan.plan.planned.map((p: { externalKey: string }) => p.externalKey).sort());
    expect(bills).toHaveLength(plan.plan.total);
    // Approved: later runs write normally (nothing new here), and the plan endpoint says so.
    const next = await callApi(env, "POST", `/flows/${KIS}/sync`);
    expect(next.json.run.approval).toBeUndefined();
    expect(next.json.run.counts.written).toBe(0);
    expect((await callApi(env, "GET", `/flows/${KIS}/plan`)).json.approved).toBe(true);
    const day = new Date(Date.now() - 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10);
    const swept = await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day } });
    expect(swept.status).toBe(200);
    expect(swept.json.run.dryRun).toBe(false); // approved: the re-sweep runs for real
    // It may find documents of that day the incremental run has not reached (modified within the end lag); never a double.
    const all = await kisBills(s);
    expect(all).toHaveLength(plan.plan.total + swept.json.run.counts.written);
    expect(new Set(all.map((b) => b.FBillNo)).size).toBe(all.length);
  }, 120_000);
});
