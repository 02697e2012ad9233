import { describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { callApi, createStack, fillReferenceTables, JST, kisBills, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";

// Issue 17 item 1 inside workerd: GET /trace over what a real sync, a dead letter and its replay left behind.
describe("HTTP API: document trace", () => {
  it("traces a written bill and a dead-lettered document through its replay; needs the token; refuses a bad query", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 300, [JST.salesOut]: 0 }, days: 2 });
    const env = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, env);
    const refs = new KvReferenceStore(new WorkersKvStore(env.STATE));
    const table = (await refs.get("kis_materials"))!;
    const broken = table.rows.filter((r) => !String(r.F_103).startsWith("TX100"));
    expect((await callApi(env, "POST", "/reference/kis_materials", { body: { rows: broken } })).status).toBe(200);
    const sync = await callApi(env, "POST", `/flows/${KIS}/sync`);
    expect(sync.json.run.counts.written).toBeGreaterThan(0);
    expect(sync.json.run.counts.deadLettered).toBeGreaterThan(0);

    // Freshness on GET /flows: the run's lag figures and the watermark's age.
    const flows = (await callApi(env, "GET", "/flows")).json.flows;
    const fresh = flows.find((f: { id: string }) => f.id === KIS).freshness;
    expect(fresh.lastRun.n).toBe(sync.json.run.counts.written);
    expect(fresh.lastRun.p95Ms).toBeGreaterThanOrEqual(fresh.lastRun.p50Ms);
    expect(fresh.day.n).toBe(sync.json.run.counts.written);
    expect(fresh.watermarkAgeMs).toBeGreaterThan(0);

    // A written bill: found by its FBillNo with the read (run, window, page), the payload and KIS's answer.
    const bill = (await kisBills(s))[0]!;
    const t = await callApi(env, "GET", `/trace?q=${encodeURIComponent(bill.FBillNo)}`);
    expect(t.status).toBe(200);
    const kinds = t.json.events.map((e: { t: string }) => e.t);
    expect(kinds).toContain("read");
    expect(kinds).toContain("write");
    const write = t.json.events.find((e: { t: string }) => e.t === "write");
    expect(write.key).toBe(bill.FBillNo);
    expect(write.targetId).toBeTruthy();
    expect(write.payload).toBeTruthy();
    expect(write.run).toBe(sync.json.run.runId);
    const read = t.json.events.find((e: { t: string }) => e.t === "read");
    expect(read.window.from).toBeLessThan(read.window.to);
    expect(read.page).toBeGreaterThanOrEqual(1);
    // No secret of the deployment in the answer.
    expect(JSON.stringify(t.json)).not.toContain(env.KIS_CLIENT_SECRET ?? "never-set");

    // A dead letter, then its replay after the master data is fixed: both in the document's trace.
    const letter = (await callApi(env, "GET", `/dead-letters?flow=${KIS}`)).json.deadLetters[0];
    const before = await callApi(env, "GET", `/trace?q=${encodeURIComponent(letter.sourceId)}`);
    expect(before.json.events.map((e: { t: string }) => e.t)).toEqual(expect.arrayContaining(["read", "dead_letter"]));
    expect(before.json.deadLetters[0].id).toBe(letter.id);
    expect(before.json.deadLetters[0].resolved).toBeUndefined();
    await refs.put({ ...table, updatedAt: Date.now() });
    expect((await callApi(env, "POST", `/dead-letters/${encodeURIComponent(letter.id)}/replay`)).status).toBe(200);
    const after = await callApi(env, "GET", `/trace?q=${encodeURIComponent(letter.sourceId)}`);
    const status = after.json.events.find((e: { t: string }) => e.t === "dead_letter_status");
    expect(status.reason).toMatch(/^replayed: /);
    expect(after.json.events.map((e: { at: number }) => e.at)).toEqual(
      [...after.json.events.map((e: { at: number }) => e.at)].sort((a: number, b: number) => a - b),
    );

    // Authenticated like every API route; one plain id only.
    expect((await callApi(env, "GET", `/trace?q=${encodeURIComponent(bill.FBillNo)}`, { token: null })).status).toBe(401);
    expect((await callApi(env, "GET", "/trace")).status).toBe(400);
    expect((await callApi(env, "GET", `/trace?q=${encodeURIComponent("a b<script>")}`)).status).toBe(400);
    const none = await callApi(env, "GET", "/trace?q=nothing-like-this");
    expect(none.json.events).toEqual([]);
  });
});
