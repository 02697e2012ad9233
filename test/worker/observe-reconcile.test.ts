import { describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { readWorkerConfig } from "../../worker/config.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { reconcileTick } from "../../worker/observe/reconcile-service.ts";
import { callApi, createStack, fillReferenceTables, JST, kisBills, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD", "Asia/Shanghai");

// Issue 17 item 3 inside workerd: the shared reconcile over the Worker's ports, drill-down, re-sweep of a day.
describe("reconcile in the Worker", () => {
  it("finds the documents a sync dead-lettered as missing, re-sweeps their day through the exactly-once path, and then agrees", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 300, [JST.salesOut]: 0 }, days: 2 });
    const env = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, env);
    const refs = new KvReferenceStore(new WorkersKvStore(env.STATE));
    const table = (await refs.get("kis_materials"))!;
    await refs.put({ ...table, rows: table.rows.filter((r) => !String(r.F_103).startsWith("TX100")) });
    const sync = await callApi(env, "POST", `/flows/${KIS}/sync`);
    expect(sync.json.run.counts.deadLettered).toBeGreaterThan(0);
    await refs.put({ ...table, updatedAt: Date.now() }); // the master data is fixed; the letters stay open

    const range = { from: day(Date.now() - 4 * 86_400_000), to: day(Date.now()) };
    const first = await callApi(env, "POST", `/flows/${KIS}/reconcile`, { body: range });
    expect(first.status).toBe(200);
    const report = first.json.report;
    expect(report.drift).toBe(true);
    // Every dead-lettered document is missing (and any the incremental sync has not reached in the range).
    const letters = (await callApi(env, "GET", `/dead-letters?flow=${KIS}`)).json.deadLetters;
    for (const l of letters) expect(report.missing).toContain(l.sourceId);
    // Drill-down: every missing key with its day and warehouse, in a drifting row of the table.
    const missing = report.documents.filter((d: { status: string }) => d.status === "missing");
    expect(missing.map((d: { key: string }) => d.key).sort()).toEqual([...report.missing].sort());
    const drifting = report.rows.filter((r: { drift: boolean }) => r.drift);
    expect(drifting.every((r: { docType: string }) => r.docType)).toBe(true);
    for (const d of missing) expect(drifting.some((r: { day: string; warehouse: string }) => r.day === d.day && r.warehouse === d.warehouse)).toBe(true);
    // The stored result is what GET /reconcile and the page show.
    expect((await callApi(env, "GET", `/reconcile?flow=${KIS}`)).json.results[0].latest.report.missing).toEqual(report.missing);

    // Re-sweep each drifting day: a range sync (same ledger, same lease); the bills appear once each.
    const before = (await kisBills(s)).length;
    const days = [...new Set<string>(missing.map((d: { day: string }) => d.day))];
    for (const d of days) {
      const r = await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day: d } });
      expect(r.status).toBe(200);
      expect(r.json.run.trigger).toBe("http");
    }
    const bills = await kisBills(s);
    expect(bills.length).toBe(before + report.missing.length);
    expect(new Set(bills.map((b) => b.FBillNo)).size).toBe(bills.length);
    // A second re-sweep writes nothing (exactly once).
    const again = await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day: days[0] } });
    expect(again.json.run.counts.written).toBe(0);
    const second = await callApi(env, "POST", `/flows/${KIS}/reconcile`, { body: range });
    expect(second.json.report.drift).toBe(false);
    expect(second.json.report.missing).toEqual([]);

    // Authenticated (requireAuth on /flows/*, which also holds cookie writes to this origin); bad days are refused.
    expect((await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day: days[0] }, token: null })).status).toBe(401);
    expect((await callApi(env, "POST", `/flows/${KIS}/resweep`, { body: { day: "yesterday" } })).status).toBe(400);
    expect((await callApi(env, "POST", `/flows/${KIS}/reconcile`, { body: { from: "2024-01-01", to: "2024-06-01" } })).status).toBe(400);
    expect((await callApi(env, "GET", "/reconcile?flow=nope")).status).toBe(404);
  }, 120_000);

  it("runs the scheduled reconcile once it is due (not on the first tick after a deploy)", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 60, [JST.salesOut]: 0 }, days: 2 });
    const env = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, env);
    const config = readWorkerConfig(env);
    const kv = new WorkersKvStore(env.STATE);
    const t0 = Date.now();
    await kv.delete(`reconcile:${KIS}:latest`);
    await kv.delete(`reconcile:${KIS}:due`);
    await reconcileTick(env, config, t0, 10_000);
    expect(await kv.get(`reconcile:${KIS}:latest`)).toBeNull();
    await reconcileTick(env, config, t0 + 60_000, 10_000); // 18:30 UTC not passed in a minute (unless it just did)
    const ranEarly = (await kv.get(`reconcile:${KIS}:latest`)) !== null;
    await reconcileTick(env, config, t0 + 86_400_000 + 120_000, 10_000); // a day later: due
    const stored = JSON.parse((await kv.get(`reconcile:${KIS}:latest`))!);
    expect(stored.trigger).toBe("cron");
    expect(stored.report ?? stored.error).toBeDefined();
    expect(typeof ranEarly).toBe("boolean");
  }, 120_000);
});
