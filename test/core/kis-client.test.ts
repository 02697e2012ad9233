import { afterEach, describe, expect, it } from "vitest";
import { BudgetExhaustedError } from "../../shared/errors.ts";
import { MemoryTokenStore, type FetchLike, type TokenSet, type TokenStore } from "../../shared/ports.ts";
import { KisClient, KIS_TOKEN_KEY, type KisClientOptions } from "../../shared/connectors/kis/client.ts";
import {
  KisAuthError,
  KisBadResponseError,
  KisBusinessError,
  KisPagingError,
  KisThrottledError,
  KisTransportError,
  defaultKisAuthErrorMatcher,
} from "../../shared/connectors/kis/errors.ts";
import { KisOperations } from "../../shared/connectors/kis/operations.ts";
import { bootstrapWithCode, exchangeAuthorizationCode } from "../../shared/connectors/kis/auth.ts";
import { SKUS, WAREHOUSES } from "../emulators/catalog.ts";
import { createKisEmulator, type KisEmulatorOptions } from "../emulators/kis/index.ts";
import { kisConfigFor, manualClock } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

interface Recorded {
  url: URL;
  headers: Headers;
  body: string;
}

/** Starts an emulator over real HTTP and a client on it; `fetch` records what went on the wire. */
async function setup(
  opts: { emulator?: KisEmulatorOptions; client?: Partial<KisClientOptions>; store?: TokenStore; config?: Parameters<typeof kisConfigFor>[2] } = {},
) {
  const clock = manualClock();
  const emulator = createKisEmulator({ now: clock.now, ...opts.emulator });
  const server = await serveOnLoopback(emulator.app);
  servers.push(server);
  const sent: Recorded[] = [];
  const events: string[] = [];
  const fetchPort: FetchLike = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    sent.push({ url, headers: new Headers(init?.headers), body: String(init?.body ?? "") });
    events.push(`fetch ${url.pathname}`);
    return fetch(input, init);
  };
  const inner = opts.store ?? new MemoryTokenStore();
  const store: TokenStore = {
    get: (k) => inner.get(k),
    put: async (k, v) => {
      events.push(`put ${v.accessToken}`);
      await inner.put(k, v);
    },
  };
  const config = kisConfigFor(emulator, server.url, opts.config);
  const client = new KisClient({ config, fetch: fetchPort, tokenStore: store, clock, retry: { baseDelayMs: 100, maxDelayMs: 1000 }, ...opts.client });
  return { clock, emulator, server, client, ops: new KisOperations(client), sent, events, store: inner, config };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const paths = (emulator: { requests(): Array<{ path: string; errcode: number | null }> }) =>
  emulator.requests().map((r) => `${r.path.replace(/^\/koas\//, "")}:${r.errcode}`);

describe("KisClient wire format", () => {
  it("posts to /koas/<APPID>/api/<Object>/<action> with access_token, KIS-AuthData, X-GW-Router-Addr and KIS-* headers", async () => {
    const t = await setup();
    const page = await t.ops.listMaterials(1, 10);
    await t.ops.listStocks(1, 10);
    expect(page.rows).toHaveLength(10);
    const [first, second] = t.sent as [Recorded, Recorded];
    expect(first.url.pathname).toBe("/koas/APP006992/api/Material/List");
    expect(first.url.searchParams.get("access_token")).toBe(t.config.accessToken);
    expect(first.headers.get("content-type")).toBe("application/json");
    expect(first.headers.get("kis-authdata")).toBe(t.config.authData);
    expect(first.headers.get("x-gw-router-addr")).toBe(t.config.gwRouterAddr);
    expect(first.headers.get("kis-ver")).toBe("1.0");
    expect(first.headers.get("kis-timestamp")).toBe(String(Math.floor(t.clock.now() / 1000)));
    expect(first.headers.get("kis-traceid")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.headers.get("kis-state")).toMatch(/^[0-9a-f]{16}$/);
    expect(second.headers.get("kis-state")).not.toBe(first.headers.get("kis-state"));
    expect(second.headers.get("kis-traceid")).not.toBe(first.headers.get("kis-traceid"));
    expect(JSON.parse(first.body)).toEqual({ CurrentPage: 1, ItemsOfPage: 10, ParentId: 0, Detail: true, SearchKey: "", Ids: [], StartDate: "", EndDate: "" });
  });

  it("puts AccountDB into the body on private cloud, which the emulator then requires", async () => {
    const without = await setup({ emulator: { accountDb: "AIS20240101" } });
    const e = await caught(without.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(KisBusinessError);
    expect((e as KisBusinessError).kind).toBe("account_db");
    expect((e as KisBusinessError).hint).toContain("KIS_ACCOUNT_DB");

    const withDb = await setup({ emulator: { accountDb: "AIS20240101" }, config: { accountDb: "AIS20240101" } });
    const stocks = await withDb.ops.listStocks(1, 10);
    expect(stocks.rows.map((s) => s.FItemID)).toEqual(WAREHOUSES.map((w) => w.kisStockId));
    expect(JSON.parse(withDb.sent[0]!.body).AccountDB).toBe("AIS20240101");
  });
});

describe("KisOperations paging", () => {
  it.each(["TotalPages", "TotalPage"] as const)("materials() yields every catalog material exactly once (%s)", async (field) => {
    const t = await setup({ emulator: { totalPagesField: field, materialFields: "list" } });
    const rows = [];
    for await (const m of t.ops.materials({}, { pageSize: 7 })) rows.push(m);
    expect(rows.map((r) => r.FItemID).sort((a, b) => a - b)).toEqual(SKUS.map((s) => s.kisItemId).sort((a, b) => a - b));
    for (const r of rows) {
      const sku = SKUS.find((s) => s.kisItemId === r.FItemID)!;
      expect(r).toMatchObject({ FNumber: sku.kisNumber, FName: sku.name, FUnitID: sku.kisUnitId, F_103: sku.skuId });
    }
    const pages = t.sent.map((s) => JSON.parse(s.body).CurrentPage);
    expect(pages).toEqual(Array.from({ length: Math.ceil(SKUS.length / 7) }, (_, i) => i + 1));
  });

  it("stocks() yields the warehouses", async () => {
    const t = await setup();
    const rows = [];
    for await (const s of t.ops.stocks()) rows.push(s);
    expect(rows.map((r) => [r.FItemID, r.FNumber])).toEqual(WAREHOUSES.map((w) => [w.kisStockId, w.kisNumber]));
  });

  it("fails when the server repeats a page instead of yielding duplicates", async () => {
    const t = await setup();
    t.emulator.addFaults([{ kind: "repeatPage", path: "Material/List", skip: 1 }]);
    const seen: number[] = [];
    const e = await caught(
      (async () => {
        for await (const m of t.ops.materials({}, { pageSize: 10 })) seen.push(m.FItemID);
      })(),
    );
    expect(e).toBeInstanceOf(KisPagingError);
    expect((e as Error).message).toContain("page 2");
    expect(seen).toHaveLength(10);
  });

  it("stops at the page cap with an error rather than truncating silently", async () => {
    const t = await setup();
    const e = await caught(
      (async () => {
        for await (const _ of t.ops.materials({}, { pageSize: 10, maxPages: 3 })) void _;
      })(),
    );
    expect(e).toBeInstanceOf(KisPagingError);
    expect(t.sent).toHaveLength(3);
  });
});

describe("KisClient credentials", () => {
  it("refreshes an expired access token once, persists it before use, and the old one stops working", async () => {
    const t = await setup({ emulator: { ttl: { accessTokenMs: 3_600_000, sessionMs: 86_400_000 } } });
    await t.ops.listStocks(1, 10);
    const oldToken = t.config.accessToken;
    t.clock.advance(2 * 3_600_000);
    const page = await t.ops.listStocks(1, 10);
    expect(page.rows).toHaveLength(WAREHOUSES.length);
    const stored = (await t.store.get(KIS_TOKEN_KEY))!;
    expect(stored.accessToken).not.toBe(oldToken);
    expect(stored.accessToken).toBe(t.emulator.credentials().accessToken);
    expect(stored.extra?.sessionId).toBe(t.emulator.credentials().sessionId);
    expect(stored.expiresAt).toBe(t.clock.now() + 3_600_000);
    expect(t.emulator.checkAccessToken(oldToken)).toBe("invalid");
    expect(paths(t.emulator)).toEqual([
      "APP006992/api/Stock/List:0",
      "APP006992/api/Stock/List:42001",
      "user/refresh_login_access_token:0",
      "APP006992/api/Stock/List:0",
    ]);
    // persisted before the retried call went out
    const putAt = t.events.indexOf(`put ${stored.accessToken}`);
    expect(putAt).toBeGreaterThan(-1);
    expect(t.events.slice(putAt + 1)).toEqual(["fetch /koas/APP006992/api/Stock/List"]);
  });

  it("refreshes expired auth data (refresh_auth_data) and rotates the refresh token", async () => {
    const t = await setup({ emulator: { ttl: { authDataMs: 3_600_000 } } });
    t.clock.advance(3_600_000);
    await t.ops.listStocks(1, 10);
    const stored = (await t.store.get(KIS_TOKEN_KEY))!;
    const now = t.emulator.credentials();
    expect(stored.extra?.authData).toBe(now.authData);
    expect(stored.extra?.authData).not.toBe(t.config.authData);
    expect(stored.extra?.refreshAuthDataToken).toBe(now.refreshAuthDataToken);
    expect(stored.extra?.refreshAuthDataToken).not.toBe(t.config.refreshAuthDataToken);
    expect(Number(stored.extra?.refreshAuthDataTokenExpiresAt)).toBe(t.clock.now() + 30 * 86_400_000);
    expect(t.emulator.checkAuthData(t.config.authData)).toBe("invalid");
    expect(paths(t.emulator)).toEqual(["APP006992/api/Stock/List:40001", "user/refresh_auth_data:0", "APP006992/api/Stock/List:0"]);
  });

  it("refreshes the access token and then the auth data when both have expired", async () => {
    const t = await setup({ emulator: { ttl: { accessTokenMs: 3_600_000, sessionMs: 86_400_000, authDataMs: 3_600_000 } } });
    t.clock.advance(3_600_000);
    await t.ops.listStocks(1, 10);
    expect(paths(t.emulator)).toEqual([
      "APP006992/api/Stock/List:42001",
      "user/refresh_login_access_token:0",
      "APP006992/api/Stock/List:40001",
      "user/refresh_auth_data:0",
      "APP006992/api/Stock/List:0",
    ]);
    t.emulator.addFaults([{ kind: "authExpired", credential: "auth_data", times: 2 }]);
    const e = await caught(t.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(KisAuthError);
    expect((e as Error).message).toContain("still rejected after refreshing");
  });

  it("refreshes proactively near a known expiry, and rotation mid-run keeps working", async () => {
    const t = await setup({ emulator: { ttl: { accessTokenMs: 3_600_000, sessionMs: 7_200_000 } } });
    t.emulator.addFaults([{ kind: "authExpired", path: "Stock/List" }]);
    await t.ops.listStocks(1, 10); // reactive: learns the expiry from the refresh answer
    t.emulator.clearRequests();
    t.clock.advance(3_600_000 - 5 * 60_000); // inside the 10-minute margin, not yet expired
    await t.ops.listStocks(1, 10);
    expect(paths(t.emulator)).toEqual(["user/refresh_login_access_token:0", "APP006992/api/Stock/List:0"]);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(3_600_000);
      await t.ops.listStocks(1, 10);
    }
    expect(t.emulator.requests().filter((r) => r.errcode !== 0)).toEqual([]);
    expect((await t.store.get(KIS_TOKEN_KEY))!.accessToken).toBe(t.emulator.credentials().accessToken);
  });

  it("reads the *_expire_in values as durations when the server sends them that way", async () => {
    const t = await setup({ emulator: { expireInStyle: "duration", ttl: { accessTokenMs: 3_600_000, sessionMs: 86_400_000 } } });
    await t.client.refresh("access_token");
    const stored = (await t.store.get(KIS_TOKEN_KEY))!;
    expect(stored.expiresAt).toBe(t.clock.now() + 3_600_000);
    expect(stored.refreshExpiresAt).toBe(t.clock.now() + 86_400_000);
  });

  it("shares one refresh between concurrent calls", async () => {
    const t = await setup();
    t.emulator.expire("access_token");
    await Promise.all([t.ops.listStocks(1, 10), t.ops.listMaterials(1, 10), t.ops.listStocks(1, 5)]);
    expect(paths(t.emulator).filter((p) => p.startsWith("user/"))).toEqual(["user/refresh_login_access_token:0"]);
  });

  it("concurrent calls hitting two expired credentials refresh each exactly once", async () => {
    const t = await setup({ emulator: { ttl: { accessTokenMs: 3_600_000, sessionMs: 86_400_000, authDataMs: 3_600_000 } } });
    t.clock.advance(3_600_000);
    const results = await Promise.all([t.ops.listStocks(1, 10), t.ops.listMaterials(1, 10), t.ops.listStocks(1, 5), t.ops.listMaterials(2, 10)]);
    expect(results.map((r) => r.rows.length)).toEqual([WAREHOUSES.length, 10, WAREHOUSES.length, 10]);
    expect(
      paths(t.emulator)
        .filter((p) => p.startsWith("user/"))
        .sort(),
    ).toEqual(["user/refresh_auth_data:0", "user/refresh_login_access_token:0"]);
  });

  it("takes credentials another host already rotated instead of refreshing again", async () => {
    const shared = new MemoryTokenStore();
    const a = await setup({ store: shared });
    const b = new KisClient({ config: a.config, fetch: (i, init) => fetch(i, init), tokenStore: shared, clock: a.clock });
    await new KisOperations(b).listStocks(1, 10); // b caches the seed credentials
    a.emulator.expire("access_token");
    await a.ops.listStocks(1, 10); // a refreshes and persists
    await new KisOperations(b).listStocks(1, 10); // b is refused (revoked), then adopts a's tokens
    expect(paths(a.emulator).filter((p) => p.startsWith("user/"))).toEqual(["user/refresh_login_access_token:0"]);
    expect(paths(a.emulator).slice(-2)).toEqual(["APP006992/api/Stock/List:40014", "APP006992/api/Stock/List:0"]);
  });

  it("prefers new env values over credentials rotated from older ones", async () => {
    const store = new MemoryTokenStore();
    const t = await setup({ store });
    await store.put(KIS_TOKEN_KEY, { accessToken: "at-stale", extra: { authData: "ad-stale", gwRouterAddr: "x", seed: "0000000000000000" } });
    await t.ops.listStocks(1, 10);
    expect(t.sent[0]!.url.searchParams.get("access_token")).toBe(t.config.accessToken);
  });

  it("explains what to set when credentials cannot be refreshed, without secrets", async () => {
    const t = await setup({ config: { sessionId: undefined, refreshAuthDataToken: undefined } });
    t.emulator.expire("access_token");
    const e = await caught(t.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(KisAuthError);
    expect((e as KisAuthError).hint).toContain("KIS_SESSION_ID");
    const text = JSON.stringify({ m: (e as Error).message, j: (e as KisAuthError).toJSON() });
    for (const s of [t.config.accessToken, t.config.authData, t.config.clientSecret]) expect(text).not.toContain(s);
  });

  it("asks for re-authorization when the login session itself has expired", async () => {
    const t = await setup({ emulator: { ttl: { accessTokenMs: 3_600_000, sessionMs: 3_600_000 } } });
    t.clock.advance(3_600_000);
    const e = await caught(t.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(KisAuthError);
    expect((e as KisAuthError).credential).toBe("session");
    expect((e as KisAuthError).hint).toContain("Re-run the KIS authorization");
    expect(await t.store.get(KIS_TOKEN_KEY)).toBeNull();
  });

  it("lets the auth-error matcher be replaced (UNCERTAIN errcodes)", async () => {
    const t = await setup({
      client: {
        authErrorMatcher: (ctx) => (ctx.description.includes("票据失效") ? "access_token" : defaultKisAuthErrorMatcher(ctx)),
      },
    });
    t.emulator.addFaults([{ kind: "bizError", path: "Stock/List", reason: "票据失效" }]);
    await t.ops.listStocks(1, 10);
    expect(paths(t.emulator)).toEqual(["APP006992/api/Stock/List:10201", "user/refresh_login_access_token:0", "APP006992/api/Stock/List:0"]);
  });
});

describe("KisClient typed errors", () => {
  it("10201 business failures are permanent and classified from the inner reason", async () => {
    const t = await setup();
    t.emulator.addFaults([{ kind: "bizError", path: "Stock/List", reason: "第1行物料(FItemID=5)不存在" }]);
    const e = (await caught(t.ops.listStocks(1, 10))) as KisBusinessError;
    expect(e).toBeInstanceOf(KisBusinessError);
    expect(e).toMatchObject({ errcode: 10201, kind: "reference_not_found", retryable: false, reason: "第1行物料(FItemID=5)不存在" });
    expect(t.emulator.requests()).toHaveLength(1); // not retried
  });

  it("a body that reaches KIS as non-JSON gives 10201 invalid_json without echoing the auth block", async () => {
    const t = await setup({
      client: {
        // a misbehaving proxy that form-encodes the body
        fetch: (input, init) => fetch(input, { ...init, body: "CurrentPage=1&ItemsOfPage=10" }),
      },
    });
    const e = (await caught(t.ops.listStocks(1, 10))) as KisBusinessError;
    expect(e).toBeInstanceOf(KisBusinessError);
    expect(e).toMatchObject({ errcode: 10201, kind: "invalid_json" });
    expect(e.message).toContain("请求参数转换成JSON对象异常");
    const text = JSON.stringify({ m: e.message, j: e.toJSON() });
    expect(text).not.toContain(t.config.authData);
    expect(text).not.toContain(t.config.authData.slice(-8));
  });

  it("an HTML page is a KisBadResponseError (a 5xx page a KisTransportError); reads retry both", async () => {
    const t = await setup();
    t.emulator.addFaults([{ kind: "html", path: "Stock/List", status: 502 }]);
    expect((await t.ops.listStocks(1, 10)).rows).toHaveLength(WAREHOUSES.length);
    expect(paths(t.emulator)).toEqual(["APP006992/api/Stock/List:null", "APP006992/api/Stock/List:0"]);
    t.emulator.clearRequests();
    t.emulator.addFaults([{ kind: "html", path: "Stock/List", status: 200, times: 5 }]);
    const e = (await caught(t.ops.listStocks(1, 10))) as KisBadResponseError;
    expect(e).toBeInstanceOf(KisBadResponseError);
    expect(e.message).toContain("HTML");
    expect(e.retryable).toBe(true);
    expect(t.emulator.requests()).toHaveLength(3);
    const direct = await setup({ client: { retry: { tries: 1 } } });
    direct.emulator.addFaults([{ kind: "html", path: "Stock/List", status: 502 }]);
    expect(await caught(direct.ops.listStocks(1, 10))).toBeInstanceOf(KisTransportError);
  });

  it("HTTP 5xx is a retryable KisTransportError", async () => {
    const t = await setup({ client: { retry: { tries: 1 } } });
    t.emulator.addFaults([{ kind: "http5xx", path: "Stock/List", status: 502 }]);
    const e = (await caught(t.ops.listStocks(1, 10))) as KisTransportError;
    expect(e).toBeInstanceOf(KisTransportError);
    expect(e).toMatchObject({ kind: "http_5xx", httpStatus: 502, retryable: true });
  });

  it("throttling (429/503) is retryable and honours Retry-After on the injected clock", async () => {
    const t = await setup();
    t.emulator.addFaults([{ kind: "throttle", path: "Stock/List", retryAfterS: 7 }]);
    const before = t.clock.now();
    await t.ops.listStocks(1, 10);
    expect(t.clock.now() - before).toBeGreaterThanOrEqual(7000);
    t.emulator.addFaults([{ kind: "throttle", path: "Stock/List", status: 503, times: 3 }]);
    const e = await caught(t.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(KisThrottledError);
    expect((e as KisThrottledError).retryable).toBe(true);
  });

  it("a request that gets no answer times out as a retryable KisTransportError", async () => {
    const t = await setup({ client: { timeoutMs: 150, retry: { tries: 1 } } });
    t.emulator.addFaults([{ kind: "timeout", path: "Stock/List" }]);
    const e = (await caught(t.ops.listStocks(1, 10))) as KisTransportError;
    expect(e).toBeInstanceOf(KisTransportError);
    expect(e.kind).toBe("timeout");
  });

  it("a refused connection is a retryable network KisTransportError without the token in it", async () => {
    const t = await setup({ client: { retry: { tries: 1 } } });
    await t.server.close();
    const e = (await caught(t.ops.listStocks(1, 10))) as KisTransportError;
    expect(e).toBeInstanceOf(KisTransportError);
    expect(e.kind).toBe("network");
    expect(JSON.stringify(e.toJSON())).not.toContain(t.config.accessToken);
  });

  it("BudgetExhaustedError from the fetch port escapes untouched and is not retried", async () => {
    let calls = 0;
    const t = await setup({
      client: {
        fetch: async () => {
          calls++;
          throw new BudgetExhaustedError("subrequest budget of 50 spent");
        },
      },
    });
    const e = await caught(t.ops.listStocks(1, 10));
    expect(e).toBeInstanceOf(BudgetExhaustedError);
    expect(calls).toBe(1);
  });
});

describe("KIS auth bootstrap (user-authorization route)", () => {
  it("walks code → 账套 → app → gateway, signs with KIS-Signature, and the result works for business calls", async () => {
    const t = await setup();
    const transport = { baseUrl: t.server.url, fetch: (i: Request | string | URL, init?: RequestInit) => fetch(i, init), clock: t.clock };
    const result = await bootstrapWithCode(transport, { clientId: t.config.clientId, clientSecret: t.config.clientSecret, code: "kis-test-code" });
    expect(result.account.acctnumber).toBeTruthy();
    expect(result.app.icrmid).toBeTruthy();
    expect(Object.keys(result.env).sort()).toEqual([
      "KIS_ACCESS_TOKEN",
      "KIS_AUTH_DATA",
      "KIS_GW_ROUTER_ADDR",
      "KIS_REFRESH_AUTH_DATA_TOKEN",
      "KIS_SESSION_ID",
    ]);
    expect(result.tokens.extra?.sessionSecret).toBeTruthy();
    // the signed calls were accepted: account, account_applist, get_service_gateway all errcode 0
    expect(paths(t.emulator)).toEqual(["oauth2/access_token:0", "user/account:0", "user/account_applist:0", "user/get_service_gateway:0"]);

    const store = new MemoryTokenStore({ [KIS_TOKEN_KEY]: result.tokens });
    const client = new KisClient({
      config: { ...t.config, accessToken: result.env.KIS_ACCESS_TOKEN!, authData: result.env.KIS_AUTH_DATA!, gwRouterAddr: result.env.KIS_GW_ROUTER_ADDR! },
      fetch: transport.fetch,
      tokenStore: store,
      clock: t.clock,
    });
    expect((await new KisOperations(client).listStocks(1, 10)).rows).toHaveLength(WAREHOUSES.length);
    // the auth data issued before the bootstrap was superseded
    expect(t.emulator.checkAuthData(t.config.authData)).toBe("invalid");

    const reuse = await caught(
      exchangeAuthorizationCode(transport, { clientId: t.config.clientId, clientSecret: t.config.clientSecret, code: "kis-test-code" }),
    );
    expect(reuse).toBeInstanceOf(KisBusinessError);
  });
});

// keep the type import used for readers of the store layout
export type { TokenSet };
