import { afterEach, describe, expect, it } from "vitest";
import { JST_ENDPOINTS } from "../../shared/connectors/jushuitan/endpoints.ts";
import { parseJstTime, rowTime } from "../../shared/connectors/jushuitan/paging.ts";
import { signedForm } from "../../shared/connectors/jushuitan/sign.ts";
import { SHOPS, SKUS, WAREHOUSES } from "../emulators/catalog.ts";
import { createJushuitanEmulator, JST_PATHS } from "../emulators/jushuitan/index.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";
import { collect, DAY, startJst, T0, type JstSetup } from "./jushuitan-fixture.ts";

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** A hand-built request, to probe the emulator's own checks without the client's help. */
async function rawPost(url: string, path: string, fields: Record<string, string>, secret: string) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(signedForm(secret, fields)).toString(),
  });
  return (await res.json()) as { code: number; msg: string; data: unknown };
}

describe("Jushuitan emulator: gateway checks", () => {
  it("verifies sign, timestamp skew, version, charset and token like the gateway", async () => {
    setup = await startJst();
    const { appKey, appSecret, accessToken } = setup.emulator.credentials;
    const base = {
      app_key: appKey,
      access_token: accessToken,
      timestamp: String(setup.clock.now() / 1000),
      version: "2",
      charset: "utf-8",
      biz: JSON.stringify({ io_ids: ["1"] }),
    };
    const path = JST_PATHS.otherInOut;
    expect((await rawPost(setup.url, path, base, appSecret)).code).toBe(0);
    expect((await rawPost(setup.url, path, base, "wrong")).code).toBe(10);
    expect((await rawPost(setup.url, path, { ...base, timestamp: String(setup.clock.now() / 1000 - 601) }, appSecret)).code).toBe(140);
    expect((await rawPost(setup.url, path, { ...base, timestamp: String(setup.clock.now() / 1000 + 599) }, appSecret)).code).toBe(0);
    expect((await rawPost(setup.url, path, { ...base, version: "1" }, appSecret)).code).toBe(140);
    expect((await rawPost(setup.url, path, { ...base, charset: "gbk" }, appSecret)).code).toBe(140);
    expect((await rawPost(setup.url, path, { ...base, access_token: "nope" }, appSecret)).code).toBe(100);
    const answer = await rawPost(setup.url, path, base, appSecret);
    expect(answer).toMatchObject({ code: 0, msg: "执行成功", data: { page_index: 1, page_size: 30, data_count: 0, has_next: false, datas: [] } });
  });

  it("rotates tokens on refresh: the old pair stops working, lifetime is configurable", async () => {
    setup = await startJst({ emulator: { tokenLifetimeSeconds: 3600 } });
    const { appKey, appSecret, accessToken, refreshToken } = setup.emulator.credentials;
    const now = () => String(setup!.clock.now() / 1000);
    const refreshed = await rawPost(
      setup.url,
      "/openWeb/auth/refreshToken",
      { app_key: appKey, timestamp: now(), grant_type: "refresh_token", charset: "utf-8", refresh_token: refreshToken, scope: "all" },
      appSecret,
    );
    expect(refreshed).toMatchObject({ code: 0, data: { expires_in: 3600, scope: "all" } });
    const data = refreshed.data as { access_token: string; refresh_token: string };
    expect(data.access_token).toMatch(/^[0-9a-f]{32}$/);
    const query = (token: string) =>
      rawPost(
        setup!.url,
        JST_PATHS.sku,
        { app_key: appKey, access_token: token, timestamp: now(), version: "2", charset: "utf-8", biz: '{"sku_ids":"TX100-11"}' },
        appSecret,
      );
    expect((await query(accessToken)).code).toBe(100);
    expect((await query(data.access_token)).code).toBe(0);
    const again = await rawPost(
      setup.url,
      "/openWeb/auth/refreshToken",
      { app_key: appKey, timestamp: now(), grant_type: "refresh_token", charset: "utf-8", refresh_token: refreshToken, scope: "all" },
      appSecret,
    );
    expect(again.code).toBe(100); // the old refresh token was rotated away
    setup.clock.advance(3601_000);
    expect((await query(data.access_token)).code).toBe(100);
  });

  it("serves its admin routes over HTTP: faults, request log, state, documents, reset", async () => {
    setup = await startJst();
    const admin = (path: string, init?: RequestInit) => fetch(setup!.url + path, init).then((r) => r.json() as Promise<any>);
    await admin("/__emulator/faults", { method: "POST", body: JSON.stringify([{ kind: "bizError", code: 190, msg: "无API权限", path: "sku" }]) });
    expect((await admin("/__emulator/state")).faults).toHaveLength(1);
    await expect(setup.client.call(JST_PATHS.sku, { sku_ids: "TX100-11" })).rejects.toMatchObject({ code: "jst_no_permission" });
    const log = await admin("/__emulator/requests");
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ path: JST_PATHS.sku, code: 190, biz: { sku_ids: "TX100-11" }, faults: ["bizError"] });

    await admin("/__emulator/faults", { method: "POST", body: JSON.stringify({ kind: "http5xx" }) });
    await admin("/__emulator/faults", { method: "DELETE" });
    await setup.client.call(JST_PATHS.sku, { sku_ids: "TX100-11" });

    const posted = await admin("/__emulator/documents", {
      method: "POST",
      body: JSON.stringify({ path: JST_PATHS.otherInOut, doc: { io_id: 42, type: "其它进仓", wms_co_id: 10817, items: [] } }),
    });
    expect(posted.row).toMatchObject({ io_id: 42, modified: "2024-06-20 10:00:00" });
    const rows = (await admin(`/__emulator/state?path=${encodeURIComponent(JST_PATHS.otherInOut)}`)).rows as Array<{ io_id: number }>;
    expect(rows.some((r) => r.io_id === 42)).toBe(true);

    await admin("/__emulator/requests", { method: "DELETE" });
    expect(await admin("/__emulator/requests")).toEqual([]);
    await admin("/__emulator/reset", { method: "POST" });
    const state = await admin("/__emulator/state");
    expect(state.documents[JST_PATHS.otherInOut].count).toBe(120);
  });
});

describe("Jushuitan emulator: data", () => {
  const clock = new ManualClock(T0);
  const make = (seed: number) =>
    createJushuitanEmulator({ now: () => clock.now(), seed, range: { from: T0 - 20 * DAY, to: T0 }, documents: { [JST_PATHS.salesOut]: 400 } });

  it("is deterministic per seed and realistic", () => {
    const a = make(7);
    expect(make(7).documents(JST_PATHS.otherInOut)).toEqual(a.documents(JST_PATHS.otherInOut));
    expect(make(8).documents(JST_PATHS.otherInOut)).not.toEqual(a.documents(JST_PATHS.otherInOut));

    const other = a.documents(JST_PATHS.otherInOut);
    expect(new Set(other.map((r) => r.type))).toEqual(new Set(["其它进仓", "其它出库", "其它退货"]));
    expect(other.every((r) => WAREHOUSES.some((w) => w.jstWmsCoId === r.wms_co_id && w.jstName === r.warehouse))).toBe(true);
    const skuIds = new Set(SKUS.map((s) => s.skuId));
    for (const r of other) {
      const items = r.items as Array<Record<string, unknown>>;
      expect(items.length).toBeGreaterThan(0);
      for (const i of items) {
        expect(skuIds.has(String(i.sku_id))).toBe(true);
        expect(i.cost_amount).toBeCloseTo(Number(i.cost_price) * Number(i.qty), 2);
      }
    }

    const sales = a.documents(JST_PATHS.salesOut);
    expect(new Set(sales.map((r) => r.shop_id))).toEqual(new Set(SHOPS.map((s) => s.shopId)));
    expect(sales.filter((r) => r.shop_id === 0).every((r) => r.shop_name === "线下门店")).toBe(true);
    expect(sales.some((r) => /\.\d{3}$/.test(String(r.modified)))).toBe(true);
    expect(sales.some((r) => /:\d{2}$/.test(String(r.modified)))).toBe(true);
    expect(sales.some((r) => /\.\d{3}$/.test(String(r.io_date)))).toBe(true);

    // Every time parses, inside the configured range; ts rises strictly with modified.
    for (const r of sales) {
      const m = rowTime(JST_ENDPOINTS.salesOut, r)!;
      expect(m).toBeGreaterThanOrEqual(T0 - 20 * DAY);
      expect(m).toBeLessThan(T0);
      expect(parseJstTime(r.io_date)).toBeLessThanOrEqual(m);
    }
    const ts = sales.map((r) => Number(r.ts));
    expect(new Set(ts).size).toBe(ts.length);
    expect(ts).toEqual([...ts].sort((x, y) => x - y));
  });

  it("bumps modified and ts on every write", () => {
    const emulator = make(7);
    const before = emulator.documents(JST_PATHS.otherInOut);
    const maxTs = Math.max(...before.map((r) => Number(r.ts)));
    clock.advance(5000);
    const [touched] = emulator.touchDocuments(JST_PATHS.otherInOut, [String(before[0]!.io_id)]);
    expect(touched!.modified).toBe("2024-06-20 10:00:05");
    expect(Number(touched!.ts)).toBeGreaterThan(maxTs);
    const upserted = emulator.upsertDocument(JST_PATHS.otherInOut, { io_id: before[1]!.io_id, status: "Cancelled" });
    expect(upserted).toMatchObject({ status: "Cancelled", type: before[1]!.type });
    expect(Number(upserted.ts)).toBeGreaterThan(Number(touched!.ts));
  });
});

describe("Jushuitan emulator: filters", () => {
  it("filters by status, types, ids; purchase-in defaults to Confirmed; inventory totals vs per warehouse", async () => {
    setup = await startJst({ emulator: { documents: { [JST_PATHS.purchaseIn]: 200 } } });
    const window = { from: T0 - 30 * DAY, to: T0 };
    const read = async (path: string, params: Record<string, unknown>) => (await collect(setup!.client.pages(path, params, { window }))).flatMap((p) => p.rows);

    const confirmedIn = await read(JST_PATHS.otherInOut, { status: "Confirmed", types: ["其它进仓"] });
    const all = setup.emulator.documents(JST_PATHS.otherInOut);
    expect(confirmedIn.map((r) => r.io_id).sort()).toEqual(
      all
        .filter((r) => r.status === "Confirmed" && r.type === "其它进仓")
        .map((r) => r.io_id)
        .sort(),
    );

    const purchase = setup.emulator.documents(JST_PATHS.purchaseIn);
    const defaulted = await read(JST_PATHS.purchaseIn, {});
    expect(defaulted.length).toBe(purchase.filter((r) => r.status === "Confirmed").length);
    expect(defaulted.length).toBeLessThan(purchase.length);
    expect(await read(JST_PATHS.purchaseIn, { statuss: ["Confirmed", "WaitConfirm", "Cancelled"] })).toHaveLength(purchase.length);

    const byIds = await setup.client.call<{ datas: Array<{ io_id: number }> }>(JST_PATHS.otherInOut, {
      io_ids: [String(all[3]!.io_id), String(all[9]!.io_id)],
    });
    expect(byIds.datas.map((r) => r.io_id).sort()).toEqual([all[3]!.io_id, all[9]!.io_id].sort());

    const totals = await read(JST_PATHS.inventory, { sku_ids: "TX100-11" });
    const perWarehouse = await read(JST_PATHS.inventory, { sku_ids: "TX100-11", wms_co_id: 10818 });
    const stored = setup.emulator.documents(JST_PATHS.inventory).filter((r) => r.sku_id === "TX100-11");
    expect(totals).toHaveLength(1);
    expect(totals[0]!.wms_co_id).toBeUndefined();
    expect(totals[0]!.qty).toBe(stored.reduce((s, r) => s + Number(r.qty), 0));
    expect(perWarehouse).toEqual([expect.objectContaining({ wms_co_id: 10818, qty: stored.find((r) => r.wms_co_id === 10818)!.qty })]);
  });

  it("runs on the real clock by default and serves its state over loopback", async () => {
    const emulator = createJushuitanEmulator({ documents: { [JST_PATHS.otherInOut]: 3 } });
    const server = await serveOnLoopback(emulator.app);
    try {
      const state = (await (await fetch(`${server.url}/__emulator/state`)).json()) as { documents: Record<string, { count: number }> };
      expect(state.documents[JST_PATHS.otherInOut]!.count).toBe(3);
    } finally {
      await server.close();
    }
  });
});
