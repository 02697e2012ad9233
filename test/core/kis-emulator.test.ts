import { afterEach, describe, expect, it } from "vitest";
import { SKUS, WAREHOUSES } from "../emulators/catalog.ts";
import { createKisEmulator, type KisEmulator, type KisEmulatorOptions } from "../emulators/kis/index.ts";
import { manualClock, receiptObject } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(options: KisEmulatorOptions = {}) {
  const clock = manualClock();
  const emulator = createKisEmulator({ now: clock.now, ...options });
  const server = await serveOnLoopback(emulator.app);
  servers.push(server);
  return { emulator, clock, url: server.url };
}

interface Envelope {
  errcode: number;
  description: string;
  data: any;
}

/** A business call with valid credentials unless overridden. */
async function call(
  ctx: { emulator: KisEmulator; clock: ReturnType<typeof manualClock>; url: string },
  path: string,
  body: unknown,
  tweak: { headers?: Record<string, string | null>; token?: string | null; rawBody?: string } = {},
): Promise<{ status: number; env: Envelope }> {
  const c = ctx.emulator.credentials();
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "KIS-AuthData": c.authData,
    "X-GW-Router-Addr": c.gwRouterAddr,
    "KIS-Timestamp": String(Math.floor(ctx.clock.now() / 1000)),
    "KIS-State": "abcdef0123456789",
    "KIS-TraceID": crypto.randomUUID(),
    "KIS-Ver": "1.0",
  };
  for (const [k, v] of Object.entries(tweak.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const token = tweak.token === undefined ? c.accessToken : tweak.token;
  const url = `${ctx.url}/koas/${path}${token === null ? "" : `?access_token=${encodeURIComponent(token)}`}`;
  const res = await fetch(url, { method: "POST", headers, body: tweak.rawBody ?? JSON.stringify(body) });
  return { status: res.status, env: (await res.json()) as Envelope };
}

const create = (object: unknown) => ({ Object: object });

describe("KIS emulator: gateway checks", () => {
  it("requires access_token, KIS-AuthData, X-GW-Router-Addr and the KIS-* headers", async () => {
    const ctx = await start();
    const body = { CurrentPage: 1, ItemsOfPage: 10 };
    expect((await call(ctx, "APP006992/api/Stock/List", body)).env.errcode).toBe(0);
    expect((await call(ctx, "APP006992/api/Stock/List", body, { token: null })).env.errcode).toBe(41001);
    expect((await call(ctx, "APP006992/api/Stock/List", body, { token: "at-forged" })).env.errcode).toBe(40014);
    const missingAuth = await call(ctx, "APP006992/api/Stock/List", body, { headers: { "KIS-AuthData": null } });
    expect(missingAuth.env.description).toContain("KIS-AuthData");
    const forgedAuth = await call(ctx, "APP006992/api/Stock/List", body, { headers: { "KIS-AuthData": "ad-forged" } });
    expect(forgedAuth.env).toMatchObject({ errcode: 40001 });
    const wrongRouter = await call(ctx, "APP006992/api/Stock/List", body, { headers: { "X-GW-Router-Addr": "elsewhere:1" } });
    expect(wrongRouter.env.description).toContain("X-GW-Router-Addr");
    for (const h of ["KIS-Timestamp", "KIS-State", "KIS-TraceID", "KIS-Ver"]) {
      const r = await call(ctx, "APP006992/api/Stock/List", body, { headers: { [h]: null } });
      expect(r.env.errcode, h).not.toBe(0);
      expect(r.env.description).toContain(h);
    }
    expect((await call(ctx, "APP006992/api/Stock/List", body, { headers: { "KIS-Ver": "2.0" } })).env.errcode).not.toBe(0);
    expect((await call(ctx, "APP006992/api/Stock/List", body, { headers: { "KIS-Timestamp": "1709258400000" } })).env.errcode).not.toBe(0);
  });

  it("expires credentials on the injected clock", async () => {
    const ctx = await start({ ttl: { accessTokenMs: 3_600_000, authDataMs: 7_200_000 } });
    const body = { CurrentPage: 1, ItemsOfPage: 10 };
    ctx.clock.advance(3_600_000);
    expect((await call(ctx, "APP006992/api/Stock/List", body)).env).toMatchObject({ errcode: 42001 });
    const ctx2 = await start({ ttl: { authDataMs: 60_000 } });
    ctx2.clock.advance(60_000);
    const r = await call(ctx2, "APP006992/api/Stock/List", body);
    expect(r.env.errcode).toBe(40001);
    expect(r.env.description).toContain("过期");
  });

  it("rejects a body that is not JSON with errcode 10201 and the gateway's parse-failure text", async () => {
    const ctx = await start();
    const r = await call(ctx, "APP006992/api/Material/List", null, { rawBody: "CurrentPage=1&ItemsOfPage=10" });
    expect(r.env.errcode).toBe(10201);
    expect(r.env.description).toContain("请求参数转换成JSON对象异常");
    expect(r.env.description).toContain("kis.APP006992.api.Material.List");
  });

  it("requires AccountDB on private cloud (either spelling)", async () => {
    const ctx = await start({ accountDb: "AIS20240101" });
    const body = { CurrentPage: 1, ItemsOfPage: 10 };
    const missing = await call(ctx, "APP006992/api/Stock/List", body);
    expect(missing.env.errcode).toBe(10201);
    expect(missing.env.description).toContain("AccountDB");
    expect((await call(ctx, "APP006992/api/Stock/List", { ...body, AccountDB: "OTHER" })).env.errcode).toBe(10201);
    expect((await call(ctx, "APP006992/api/Stock/List", { ...body, AccountDB: "AIS20240101" })).env.errcode).toBe(0);
    expect((await call(ctx, "APP006992/api/Stock/List", { ...body, AccountDb: "AIS20240101" })).env.errcode).toBe(0);
  });

  it("answers unknown API paths with 404", async () => {
    const ctx = await start();
    const r = await call(ctx, "app007104/api/nosuchbill/create", {});
    expect(r.status).toBe(404);
    expect(r.env.errcode).not.toBe(0);
  });
});

describe("KIS emulator: 其他入库单 validation", () => {
  const bad: Array<[string, (o: ReturnType<typeof receiptObject>) => unknown, string]> = [
    ["no Head", (o) => ({ Entry: o.Entry }), "Head"],
    ["empty Entry", (o) => ({ Head: o.Head, Entry: [] }), "Entry"],
    ["wrong FTranType", (o) => ({ ...o, Head: { ...o.Head, FTranType: 29 } }), "FTranType"],
    ["FTranType as text", (o) => ({ ...o, Head: { ...o.Head, FTranType: "10" } }), "FTranType"],
    ["date only", (o) => ({ ...o, Head: { ...o.Head, Fdate: "2024-03-01" } }), "Fdate"],
    ["impossible date", (o) => ({ ...o, Head: { ...o.Head, Fdate: "2024-02-30 10:00:00" } }), "Fdate"],
    ["slashes", (o) => ({ ...o, Head: { ...o.Head, Fdate: "2024/03/01 10:00:00" } }), "Fdate"],
    ["FQty as text", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FQty: "3" }] }), "FQty"],
    ["Fauxqty as text", (o) => ({ ...o, Entry: [{ ...o.Entry[0], Fauxqty: "3" }] }), "Fauxqty"],
    ["zero FQty", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FQty: 0 }] }), "FQty"],
    ["unknown material", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FItemID: 999999 }] }), "物料"],
    ["unknown unit", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FUnitID: 77 }] }), "计量单位"],
    ["unit of another group", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FUnitID: 12 }] }), "计量单位组"],
    ["unknown stock", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FDCStockID: 399 }] }), "仓库"],
    ["no stock", (o) => ({ ...o, Entry: [{ ...o.Entry[0], FDCStockID: undefined }] }), "仓库"],
    ["bad FROB", (o) => ({ ...o, Head: { ...o.Head, FROB: 2 } }), "FROB"],
  ];

  it.each(bad)("rejects %s with 10201 and a Chinese reason", async (_name, mutate, needle) => {
    const ctx = await start();
    const r = await call(ctx, "app007104/api/miscellaneousreceipt/create", create(mutate(receiptObject())));
    expect(r.env.errcode).toBe(10201);
    expect(r.env.description).toMatch(/^业务接口返回失败结果，失败原因：/);
    expect(r.env.description).toContain(needle);
    expect(ctx.emulator.bills()).toHaveLength(0);
  });

  it("accepts both Fdate formats and ids as numbers or digit strings, numbering bills it is not given", async () => {
    const ctx = await start();
    const a = await call(ctx, "app007104/api/miscellaneousreceipt/create", create(receiptObject({ fdate: "2024-03-01 10:00:00.123" })));
    const b = await call(ctx, "app007104/api/miscellaneousreceipt/create", create(receiptObject({ fdate: "2024-03-01T10:00:00" })));
    const o = receiptObject();
    const c = await call(
      ctx,
      "app007104/api/miscellaneousreceipt/create",
      create({ ...o, Entry: [{ ...o.Entry[0], FItemID: "1001", FUnitID: "11", FDCStockID: "301" }] }),
    );
    expect([a.env.errcode, b.env.errcode, c.env.errcode]).toEqual([0, 0, 0]);
    expect([a.env.data.FBillNo, b.env.data.FBillNo, c.env.data.FBillNo]).toEqual(["QTRK000001", "QTRK000002", "QTRK000003"]);
    expect(new Set([a.env.data.FID, b.env.data.FID, c.env.data.FID]).size).toBe(3);
    expect(ctx.emulator.bills("miscellaneousreceipt")).toHaveLength(3);
  });

  it("enforces FBillNo uniqueness with a duplicate-number reason", async () => {
    const ctx = await start();
    const o = receiptObject();
    const first = await call(ctx, "app007104/api/miscellaneousreceipt/create", create({ ...o, Head: { ...o.Head, FBillNo: "JST-IO-1" } }));
    const again = await call(ctx, "app007104/api/miscellaneousreceipt/create", create({ ...o, Head: { ...o.Head, FBillNo: "JST-IO-1" } }));
    expect(first.env).toMatchObject({ errcode: 0, data: { FBillNo: "JST-IO-1" } });
    expect(again.env.errcode).toBe(10201);
    expect(again.env.description).toContain("JST-IO-1");
    expect(again.env.description).toContain("已存在");
    expect(ctx.emulator.bills()).toHaveLength(1);
  });

  it("validates 其他出库单 (FTranType 29, FSCStockID) and 外购入库单 (FTranType 1, supplier)", async () => {
    const ctx = await start();
    const o = receiptObject();
    const delivery = { Head: { ...o.Head, FTranType: 29 }, Entry: o.Entry.map(({ FDCStockID, ...e }) => ({ ...e, FSCStockID: FDCStockID })) };
    expect((await call(ctx, "app007104/api/miscellaneousdelivery/create", create(delivery))).env.data.FBillNo).toBe("QTCK000001");
    const purchase = { Head: { ...o.Head, FTranType: 1 }, Entry: o.Entry };
    const noSupplier = await call(ctx, "app007104/api/purchasereceipt/create", create(purchase));
    expect(noSupplier.env.description).toContain("FSupplyID");
    const ok = await call(ctx, "app007104/api/purchasereceipt/create", create({ ...purchase, Head: { ...purchase.Head, FSupplyID: 501 } }));
    expect(ok.env.data.FBillNo).toBe("WIN000001");
  });
});

describe("KIS emulator: lists and details", () => {
  it("lists bills with FBillNo/date filters and reads details back", async () => {
    const ctx = await start();
    for (const [no, day] of [
      ["A-1", "2024-03-01"],
      ["A-2", "2024-03-02"],
      ["A-3", "2024-03-03"],
    ] as const) {
      const o = receiptObject({ fdate: `${day} 09:00:00` });
      await call(ctx, "app007104/api/miscellaneousreceipt/create", create({ ...o, Head: { ...o.Head, FBillNo: no, FHeadSelfB0163: `src-${no}` } }));
    }
    const byNo = await call(ctx, "app007104/api/miscellaneousreceipt/list", { CurrentPage: 1, ItemsOfPage: 10, FBillNo: "A-2" });
    expect(byNo.env.data.List.map((r: any) => r.Head.FBillNo)).toEqual(["A-2"]);
    const byDate = await call(ctx, "app007104/api/miscellaneousreceipt/list", {
      CurrentPage: 1,
      ItemsOfPage: 10,
      StartDate: "2024-03-02",
      EndDate: "2024-03-03",
    });
    expect(byDate.env.data.List.map((r: any) => r.Head.FBillNo)).toEqual(["A-2", "A-3"]);
    expect(byDate.env.data).toMatchObject({ TotalPages: 1, TotalItems: 2 });
    const fid = byNo.env.data.List[0].Head.FID;
    const detail = await call(ctx, "app007104/api/miscellaneousreceipt/getdetail", { Id: fid });
    expect(detail.env.data.Head).toMatchObject({ FBillNo: "A-2", FHeadSelfB0163: "src-A-2", FTranType: 10 });
    expect(detail.env.data.Entry).toHaveLength(2);
    expect((await call(ctx, "app007104/api/miscellaneousreceipt/getdetail", { Id: 1 })).env.errcode).toBe(10201);
  });

  it("serves Material/List from the catalog with paging, F_103 = sku id, and categories for Detail:false", async () => {
    const ctx = await start({ totalPagesField: "TotalPage", materialFields: "list" });
    const first = await call(ctx, "APP006992/api/Material/List", { CurrentPage: 1, ItemsOfPage: 50, ParentId: 0, Detail: true, SearchKey: "", Ids: [] });
    expect(first.env.data).toMatchObject({ TotalPage: 2, TotalItems: SKUS.length });
    expect(first.env.data.TotalPages).toBeUndefined();
    const row = first.env.data.List[0];
    const sku = SKUS.find((s) => s.kisItemId === row.FItemID)!;
    expect(row).toMatchObject({ FNumber: sku.kisNumber, FName: sku.name, FUnitID: sku.kisUnitId, F_103: sku.skuId });
    const cats = await call(ctx, "APP006992/api/Material/List", { CurrentPage: 1, ItemsOfPage: 50, Detail: false });
    expect(cats.env.data.List.every((r: any) => r.FDetail === false)).toBe(true);
    expect((await call(ctx, "APP006992/api/Material/List", { CurrentPage: 1, ItemsOfPage: 500 })).env.errcode).toBe(10201);
    expect((await call(ctx, "APP006992/api/Material/List", { CurrentPage: "1", ItemsOfPage: 10 })).env.errcode).toBe(10201);
    const stocks = await call(ctx, "APP006992/api/Stock/List", { CurrentPage: 1, ItemsOfPage: 10 });
    expect(stocks.env.data.List.map((r: any) => r.FItemID)).toEqual(WAREHOUSES.map((w) => w.kisStockId));
  });
});

describe("KIS emulator: auth routes and admin routes", () => {
  it("walks the user-authorization routes and rotates credentials on refresh", async () => {
    const ctx = await start();
    const headers = {
      "Content-Type": "application/json",
      "KIS-Timestamp": String(Math.floor(ctx.clock.now() / 1000)),
      "KIS-State": "s",
      "KIS-TraceID": "t",
      "KIS-Ver": "1.0",
    };
    const post = async (path: string, body: unknown) =>
      (await (await fetch(`${ctx.url}/koas/${path}`, { method: "POST", headers, body: JSON.stringify(body) })).json()) as Envelope;
    const login = await post("oauth2/access_token?client_id=kis-client-id&client_secret=kis-client-secret", { code: "kis-test-code" });
    expect(login.errcode).toBe(0);
    expect((await post("oauth2/access_token?client_id=kis-client-id&client_secret=kis-client-secret", { code: "kis-test-code" })).errcode).not.toBe(0);
    const { access_token, session_id } = login.data;
    const accounts = await post(`user/account?access_token=${access_token}`, { session_id });
    const { acctnumber, pid } = accounts.data[0];
    const apps = await post(`user/account_applist?access_token=${access_token}`, { session_id, client_id: "kis-client-id", acctnumber, pid });
    const gateway = await post(`user/get_service_gateway?access_token=${access_token}`, { session_id, acctnumber, pid, icrmid: apps.data[0].icrmid });
    expect(gateway.data).toMatchObject({ gw_router_addr: expect.any(String), extend_data: { refresh_auth_data_token: expect.any(String) } });

    const refreshed = await post(`user/refresh_login_access_token?access_token=${access_token}`, { session_id });
    expect(refreshed.data.access_token).not.toBe(access_token);
    expect(ctx.emulator.checkAccessToken(access_token)).toBe("invalid");
    expect(ctx.emulator.checkAccessToken(refreshed.data.access_token)).toBe("ok");
    const oldAuthData = gateway.data.auth_data;
    const rotated = await post(`user/refresh_auth_data?client_id=kis-client-id&client_secret=kis-client-secret`, {
      refresh_auth_data_token: gateway.data.extend_data.refresh_auth_data_token,
      access_token: refreshed.data.access_token,
    });
    expect(rotated.errcode).toBe(0);
    expect(ctx.emulator.checkAuthData(oldAuthData)).toBe("invalid");
    expect(ctx.emulator.checkAuthData(rotated.data.auth_data)).toBe("ok");
    // a rotated refresh token cannot be used twice
    const replay = await post(`user/refresh_auth_data?client_id=kis-client-id&client_secret=kis-client-secret`, {
      refresh_auth_data_token: gateway.data.extend_data.refresh_auth_data_token,
      access_token: refreshed.data.access_token,
    });
    expect(replay.errcode).not.toBe(0);
  });

  it("serves the admin routes: faults, request log, state, reset", async () => {
    const ctx = await start();
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${ctx.url}/__emulator/${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } } : {}) });
    expect((await admin("POST", "faults", [{ kind: "bizError", path: "Stock/List", reason: "模拟故障", skip: 1 }])).status).toBe(200);
    expect((await admin("POST", "faults", [{ kind: "nonsense" }])).status).toBe(400);
    const body = { CurrentPage: 1, ItemsOfPage: 10 };
    expect((await call(ctx, "APP006992/api/Stock/List", body)).env.errcode).toBe(0); // skipped
    const faulted = await call(ctx, "APP006992/api/Stock/List", body);
    expect(faulted.env.description).toContain("模拟故障");
    expect((await call(ctx, "APP006992/api/Stock/List", body)).env.errcode).toBe(0); // used up
    const log = (await (await admin("GET", "requests")).json()) as Array<{
      path: string;
      errcode: number;
      fault: string | null;
      query: Record<string, string>;
    }>;
    expect(log.map((e) => [e.errcode, e.fault])).toEqual([
      [0, null],
      [10201, "bizError"],
      [0, null],
    ]);
    expect(log[0]!.query.access_token).not.toBe(ctx.emulator.credentials().accessToken);
    await call(ctx, "app007104/api/miscellaneousreceipt/create", create(receiptObject()));
    const state = (await (await admin("GET", "state")).json()) as { bills: unknown[] };
    expect(state.bills).toHaveLength(1);
    await admin("POST", "reset");
    expect(ctx.emulator.bills()).toHaveLength(0);
    expect(ctx.emulator.requests()).toHaveLength(0);
    await admin("DELETE", "requests");
  });
});
