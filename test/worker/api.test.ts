import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { actualKis, expectedKis } from "../helpers/targets.ts";
import expectedPlain from "../fixtures/flows/jst-sales-out-to-tplus/plain/expected.json";
import inputPlain from "../fixtures/flows/jst-sales-out-to-tplus/plain/input.json";
import tablesPlain from "../fixtures/flows/jst-sales-out-to-tplus/plain/tables.json";
import {
  callApi,
  createStack,
  emulatorRequests,
  fillReferenceTables,
  type HubStack,
  JST,
  kisBills,
  sourceDocuments,
  tplusDispatches,
  workerEnv,
} from "./stack.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let stack: HubStack;
let e: Env;
let dryRunJstCalls = 0;

beforeAll(async () => {
  stack = await createStack({ documents: { [JST.otherInOut]: 400, [JST.salesOut]: 150 }, days: 2 });
  e = workerEnv(stack, { MAX_SUBREQUESTS: "10000" });
  await fillReferenceTables(stack, e);
});

describe("HTTP API: authentication and validation", () => {
  const routes: Array<[string, string]> = [
    ["GET", "/flows"],
    ["GET", `/flows/${KIS}`],
    ["POST", `/flows/${KIS}/sync`],
    ["POST", `/flows/${KIS}/preview`],
    ["GET", "/runs"],
    ["GET", "/runs/x~y"],
    ["GET", "/dead-letters"],
    ["POST", "/dead-letters/x~y~0/replay"],
    ["DELETE", "/dead-letters/x~y~0"],
    ["GET", "/apis"],
    ["GET", "/reference"],
    ["POST", "/reference/warehouses"],
    ["POST", "/reference/warehouses/refresh"],
  ];

  it("GET /health needs no token and reveals nothing but status and version", async () => {
    const res = await callApi(e, "GET", "/health", { token: null });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(["status", "version"]);
  });

  it("every other route answers 401 without a token and with a wrong one", async () => {
    for (const [method, path] of routes) {
      const none = await callApi(e, method, path, { token: null, body: {} });
      expect(none.status, `${method} ${path} without token`).toBe(401);
      expect(none.json.error.code).toBe("unauthorized");
      const wrong = await callApi(e, method, path, { token: `${e.SYNC_API_TOKEN}x`, body: {} });
      expect(wrong.status, `${method} ${path} wrong token`).toBe(401);
      const prefix = await callApi(e, method, path, { token: e.SYNC_API_TOKEN!.slice(0, -1), body: {} });
      expect(prefix.status, `${method} ${path} token prefix`).toBe(401);
    }
  });

  it("closes the API when SYNC_API_TOKEN is not configured", async () => {
    const res = await callApi({ ...e, SYNC_API_TOKEN: undefined } as Env, "GET", "/flows", { token: "anything" });
    expect(res.status).toBe(503);
    expect(res.json.error.hint).toContain("wrangler secret put SYNC_API_TOKEN");
  });

  it("validation errors name the field", async () => {
    const bad = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: { from: "yesterday", to: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("invalid_request");
    expect(bad.json.error.message).toContain("from");
    const half = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: { from: "2024-01-01" } });
    expect(half.status).toBe(400);
    expect(half.json.error.message).toContain("both from and to");
    const extra = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: { dryrun: true } });
    expect(extra.status).toBe(400);
    const notJson = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: "{nope" });
    expect(notJson.json.error.message).toContain("not valid JSON");
    const unknownFlow = await callApi(e, "GET", "/flows/nope");
    expect(unknownFlow.status).toBe(404);
    const limit = await callApi(e, "GET", "/runs?limit=0");
    expect(limit.status).toBe(400);
  });

  it("refuses bodies over the limit", async () => {
    const big = await callApi(e, "POST", `/flows/${KIS}/preview`, { body: JSON.stringify({ documents: [{ x: "a".repeat(1_100_000) }] }) });
    expect(big.status).toBe(413);
  });
});

describe("HTTP API: flows, sync, runs, catalog", () => {
  it("lists both seed flows with schedule and next run", async () => {
    const res = await callApi(e, "GET", "/flows");
    expect(res.status).toBe(200);
    const ids = res.json.flows.map((f: { id: string }) => f.id).sort();
    expect(ids).toEqual([KIS, TPLUS]);
    const kis = res.json.flows.find((f: { id: string }) => f.id === KIS);
    expect(kis.schedule.cron).toBe("*/30 * * * *");
    expect(kis.schedule.next).toBeGreaterThan(Date.now());
    // The KIS duplicate guard in force is visible (issue 12, finding 6): "always" unless KIS_PRECHECK says otherwise.
    expect(kis.target.precheck).toBe("always");
    expect(kis.target.precheckSource).toMatch(/^default|^env KIS_PRECHECK/); // fix-13: where the choice came from
    expect(res.json.flows.find((f: { id: string }) => f.id === TPLUS).target.precheck).toBeUndefined();
  });

  it("a dry run fetches and maps but writes nothing, and returns the planned payloads", async () => {
    const before = (await kisBills(stack)).length;
    const res = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: { dryRun: true } });
    expect(res.status).toBe(200);
    expect(res.json.run.dryRun).toBe(true);
    expect(res.json.planned.length).toBeGreaterThan(0);
    expect(res.json.planned[0].payload.Head.FBillNo).toBe(res.json.planned[0].externalKey);
    expect((await kisBills(stack)).length).toBe(before);
    dryRunJstCalls = res.json.run.api.find((a: { endpoint: string }) => a.endpoint.endsWith(JST.otherInOut)).calls;
    const runs = await callApi(e, "GET", `/runs?flow=${KIS}`);
    expect(runs.json.runs).toHaveLength(0); // dry runs leave no state
  });

  it("an inline sync writes, shows up in /runs and /flows/:id, and the API catalog matches the emulators' logs", async () => {
    const res = await callApi(e, "POST", `/flows/${KIS}/sync`);
    expect(res.status).toBe(200);
    const run = res.json.run;
    expect(run.outcome).toBe("success");
    expect(run.counts.written).toBeGreaterThan(0);
    const expected = expectedKis(await sourceDocuments(stack, JST.otherInOut), run.windows[0].from, run.windows.at(-1).to);
    expect(Object.fromEntries(actualKis(await kisBills(stack)))).toEqual(Object.fromEntries(expected));

    const runs = await callApi(e, "GET", `/runs?flow=${KIS}&limit=5`);
    expect(runs.json.runs[0].runId).toBe(run.runId);
    const one = await callApi(e, "GET", `/runs/${encodeURIComponent(runs.json.runs[0].id)}`);
    expect(one.json.counts.written).toBe(run.counts.written);
    const flow = await callApi(e, "GET", `/flows/${KIS}`);
    expect(flow.json.watermark).toBe(run.watermarkAfter);
    expect(flow.json.mapping.some((m: { path: string }) => m.path === "Entry[].FItemID")).toBe(true);

    const apis = (await callApi(e, "GET", "/apis")).json.apis as Array<{ endpoint: string; calls: number }>;
    const jstCalls = (await emulatorRequests(stack.urls.jushuitan)).filter((r) => r.path === JST.otherInOut).length;
    const kisCalls = (await emulatorRequests(stack.urls.kis)).filter((r) => r.path.endsWith("/miscellaneousreceipt/create")).length;
    // The dry run above keeps no run record, so its page reads are in the emulator's log but not in the catalog.
    expect(apis.find((a) => a.endpoint.endsWith(JST.otherInOut))!.calls).toBe(jstCalls - dryRunJstCalls);
    expect(apis.find((a) => a.endpoint.endsWith("/koas/app007104/api/miscellaneousreceipt/create"))!.calls).toBe(kisCalls);
    expect(apis.find((a) => a.endpoint.includes("/tplus/api/v2/otherDispatch/Create"))).toBeDefined();
  });

  it("preview returns the fixture's payloads with a per-field trace", async () => {
    const res = await callApi(e, "POST", `/flows/${TPLUS}/preview`, { body: { documents: inputPlain, tables: tablesPlain } });
    expect(res.status).toBe(200);
    expect(res.json.documents.map((d: { payload: unknown }) => d.payload)).toEqual(expectedPlain.documents.map((d) => d.payload));
    expect(res.json.documents[0].trace.length).toBeGreaterThan(3);
  });
});

describe("HTTP API: reference tables", () => {
  it("reference uploads are validated", async () => {
    const noKey = await callApi(e, "POST", "/reference/warehouses", { body: [{ name: "x" }] });
    expect(noKey.status).toBe(400);
    expect(noKey.json.error.message).toContain("wms_co_id");
    const badCsv = await callApi(e, "POST", "/reference/warehouses", { body: 'a,b\n"x', headers: { "Content-Type": "text/csv" } });
    expect(badCsv.status).toBe(400);
    const badName = await callApi(e, "POST", "/reference/bad%20name", { body: [{ a: 1 }] });
    expect(badName.status).toBe(400);
    const list = await callApi(e, "GET", "/reference");
    expect(list.json.tables.map((t: { name: string }) => t.name).sort()).toEqual(["kis_materials", "warehouses"]);
    const refresh = await callApi(e, "POST", "/reference/kis_materials/refresh");
    expect(refresh.json.rows).toBe(96);
    const cannot = await callApi(e, "POST", "/reference/warehouses/refresh");
    expect(cannot.status).toBe(404);
  });
});

describe("HTTP API: T+ flow inline", () => {
  it("syncs the merge flow inline", async () => {
    const res = await callApi(e, "POST", `/flows/${TPLUS}/sync`);
    expect(res.json.run.outcome).toBe("success");
    expect((await tplusDispatches(stack)).length).toBe(res.json.run.counts.written);
  });
});
