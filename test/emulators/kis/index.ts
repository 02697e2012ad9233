/**
 * A strict emulator of the Kingdee KIS koas gateway (docs tplus-kis-api.md part B): the user-authorization and
 * refresh routes, 仓存 bills (app007104 miscellaneousreceipt / miscellaneousdelivery / purchasereceipt:
 * create, list, getdetail) and base data (APP006992 Material/List, Stock/List) served from the shared catalog.
 * Web standards only, so it runs inside workerd as well as behind serveOnLoopback in Node.
 */
import { Hono, type Context } from "hono";
import { SKUS, WAREHOUSES } from "../catalog.ts";
import { DEFAULT_TTLS, KisAuthState, type CurrentCredentials, type KisEmulatorTtls } from "./auth-state.ts";
import { BillBook, catalogMasterData, detailOf, flatRowOf, type EmulatedBillType, type StoredBill } from "./bills.ts";
import { FaultQueue, hold, type KisFaultSpec } from "./faults.ts";

export type { KisFaultSpec } from "./faults.ts";
export type { StoredBill } from "./bills.ts";
export type { CurrentCredentials } from "./auth-state.ts";

import { periodRefusal, type PeriodOptions } from "../periods.ts";

export interface KisEmulatorOptions {
  now?: () => number;
  clientId?: string;
  clientSecret?: string;
  gwRouterAddr?: string;
  /** Private cloud: every business body must carry AccountDB (or AccountDb) equal to this. */
  accountDb?: string;
  ttl?: Partial<KisEmulatorTtls>;
  /** `*_expire_in` as unix seconds (default, per the doc) or as seconds from now (UNCERTAIN reading). */
  expireInStyle?: "unix" | "duration";
  /** Single-use OAuth codes accepted by oauth2/access_token. */
  authCodes?: string[];
  /** Largest ItemsOfPage accepted. Default 100. */
  maxPageSize?: number;
  /** Spelling of the page count in list answers (both are seen, S5). Default "TotalPages". */
  totalPagesField?: "TotalPages" | "TotalPage";
  /** Bill list rows as `{Head, Entry}` (default, as S5 sees for notices) or flat rows without custom fields. */
  listRows?: "headEntry" | "flat";
  /** Simulate a list API that ignores FBillNo/StartDate/EndDate filters (UNCERTAIN filter names). */
  listIgnoresFilters?: boolean;
  /** Reject a FBillNo that exists (default true; UNCERTAIN whether the real server checks). */
  enforceUniqueBillNo?: boolean;
  /** Poison payloads: a create whose Head.FBillNo is listed always answers HTTP 500 and stores nothing (chaos, issue 12). */
  poisonBillNos?: readonly string[];
  /** A create whose Head.FBillNo is listed is refused with a business error (a permanent rejection) until removed from the list. */
  rejectBillNos?: string[];
  /** Red bills (FROB -1): quantities negative (default, the stored form) or positive (project-matrix's create form). */
  redQtySign?: "negative" | "positive";
  /** Closed periods / enable date (test/emulators/periods.ts); mutable at run time (反结账). */
  periods?: PeriodOptions;
  /** Reject KIS-Timestamp further than this from now (off by default: undocumented). */
  maxClockSkewMs?: number;
  /** Longest time a "never answer" fault holds a request open (it ends early when the client aborts). Default 60 s. */
  maxHoldMs?: number;
  /**
   * Where material unit and custom fields (FUnitID, FModel, F_103) appear. "details" (default, as every public
   * client sees it: S5 app/sdk/kis/sync.ts, Weaver HttpJDmaterial): Material/List rows carry only FItemID,
   * FNumber, FName, FParentID, FDetail, and GetListDetails/GetDetail carry the rest. "list": the older emulator,
   * List rows carry everything too. "none": no API returns the custom field (units still in the details).
   */
  materialFields?: "details" | "list" | "none";
  /** Which per-item material API exists: "both" (default), "getListDetails" only, or "getDetail" only. */
  materialDetailApi?: "both" | "getListDetails" | "getDetail";
  /** Largest ItemIds array GetListDetails accepts (UNCERTAIN; S5 sends chunks of 20). Default 50. */
  maxDetailIds?: number;
}

export interface KisRequestLogEntry {
  method: string;
  path: string;
  /** Query keys with secret values masked. */
  query: Record<string, string>;
  body: unknown;
  status: number;
  errcode: number | null;
  fault: string | null;
  time: number;
}

const ACCOUNT = { acctnumber: "UE0000000001", pid: "p-demo-0001", acctname: "演示账套", product: "KIS旗舰版" };
const APP = { icrmid: "icrm-jst-bridge-0001", app_name: "jst-bridge" };
const BILL_TYPES: readonly EmulatedBillType[] = ["miscellaneousreceipt", "miscellaneousdelivery", "purchasereceipt"];
const SECRET_QUERY = new Set(["access_token", "client_secret"]);
const JSON_PARSE_REASON = "请求参数转换成JSON对象异常";

/** Material categories (FDetail false), one per catalog style. */
const STYLES_FOR_KIS = [...new Set(SKUS.map((s) => s.itemId))].map((itemId, i) => ({
  itemId,
  FItemID: 901 + i,
  FNumber: `01.${String(i + 1).padStart(2, "0")}`,
  name: SKUS.find((s) => s.itemId === itemId)!.name.split(" ")[0]!,
}));

type EmulatorEnv = { Variables: { logEntry: KisRequestLogEntry } };
type C = Context<EmulatorEnv>;

export function createKisEmulator(options: KisEmulatorOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const ttl: KisEmulatorTtls = { ...DEFAULT_TTLS, ...options.ttl };
  const clientId = options.clientId ?? "kis-client-id";
  const clientSecret = options.clientSecret ?? "kis-client-secret";
  const gwRouterAddr = options.gwRouterAddr ?? "kis-gw.emulator.local:30001";
  const maxPageSize = options.maxPageSize ?? 100;
  const totalPagesField = options.totalPagesField ?? "TotalPages";
  const authCodes = options.authCodes ?? ["kis-test-code"];
  const maxHoldMs = options.maxHoldMs ?? 60_000;
  const master = catalogMasterData();

  let auth = new KisAuthState(now, ttl, clientId, clientSecret, gwRouterAddr);
  const book = new BillBook();
  const faults = new FaultQueue();
  const poisoned = new Set<string>();
  let log: KisRequestLogEntry[] = [];

  const expireIn = (epochMs: number) => (options.expireInStyle === "duration" ? Math.round((epochMs - now()) / 1000) : Math.floor(epochMs / 1000));

  const app = new Hono<EmulatorEnv>();
  // Every answer's Date header is the emulated server's clock (clients and doctor measure skew from it).
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("Date", new Date(now()).toUTCString());
  });

  // ---- admin -------------------------------------------------------------------------------------------------
  app.get("/__emulator/requests", (c) => c.json(log));
  app.delete("/__emulator/requests", (c) => {
    log = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/faults", async (c) => {
    const specs = await c.req.json<KisFaultSpec[]>();
    try {
      faults.add(Array.isArray(specs) ? specs : [specs]);
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    return c.json({ ok: true, faults: faults.list() });
  });
  app.delete("/__emulator/faults", (c) => {
    faults.clear();
    return c.json({ ok: true });
  });
  app.post("/__emulator/reset", (c) => {
    reset();
    return c.json({ ok: true });
  });
  app.get("/__emulator/state", (c) => c.json(state()));
  // Poison payloads added at run time (chaos class kis.poison): these bills answer HTTP 500 on every create.
  app.post("/__emulator/poison", async (c) => {
    const { billNos } = await c.req.json<{ billNos: string[] }>();
    for (const b of billNos) poisoned.add(String(b));
    return c.json({ ok: true, poisoned: [...poisoned] });
  });
  // Test-only: remove a stored bill (someone deleted it in KIS), so reconciliation has something to find.
  app.delete("/__emulator/bills/:billNo", (c) => c.json({ removed: book.remove(c.req.param("billNo")) }));

  // ---- request log + common headers ----------------------------------------------------------------------------
  app.use("/koas/*", async (c, next) => {
    const url = new URL(c.req.url);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = SECRET_QUERY.has(k) ? `${v.slice(0, 3)}…` : v;
    const text = await c.req.text();
    let body: unknown = text;
    try {
      body = summarise(JSON.parse(text));
    } catch {
      body = text.slice(0, 200);
    }
    const entry: KisRequestLogEntry = { method: c.req.method, path: url.pathname, query, body, status: 0, errcode: null, fault: null, time: now() };
    log.push(entry);
    c.set("logEntry", entry);
    await next();
    entry.status = c.res.status;
    if ((c.res.headers.get("content-type") ?? "").includes("application/json")) {
      try {
        const env = (await c.res.clone().json()) as { errcode?: unknown };
        entry.errcode = typeof env.errcode === "number" ? env.errcode : null;
      } catch {
        /* not an envelope */
      }
    }
  });

  const ok = (c: C, data: unknown) => c.json({ errcode: 0, description: "成功", data });
  const fail = (c: C, errcode: number, description: string, status: 200 | 400 | 401 | 404 = 200) => c.json({ errcode, description, data: null }, status);
  const bizFail = (c: C, reason: string) => fail(c, 10201, `业务接口返回失败结果，失败原因：${reason}`);

  /** KIS-Timestamp, KIS-State, KIS-TraceID, KIS-Ver on every call (doc B2). */
  const kisHeaderProblem = (c: C): string | null => {
    for (const h of ["KIS-Timestamp", "KIS-State", "KIS-TraceID", "KIS-Ver"]) {
      if (!c.req.header(h)) return `缺少请求头${h}`;
    }
    if (c.req.header("KIS-Ver") !== "1.0") return "请求头KIS-Ver必须为1.0";
    const ts = c.req.header("KIS-Timestamp")!;
    if (!/^\d{10}$/.test(ts)) return "请求头KIS-Timestamp必须为10位Unix时间戳(秒)";
    if (options.maxClockSkewMs !== undefined && Math.abs(Number(ts) * 1000 - now()) > options.maxClockSkewMs) return "请求时间戳KIS-Timestamp已过期";
    return null;
  };

  const parseBody = async (c: C): Promise<Record<string, unknown> | null> => {
    try {
      const v: unknown = JSON.parse(await c.req.text());
      return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };

  const accessTokenProblem = (c: C, token: string | undefined, allowExpired = false) => {
    const check = auth.checkAccessToken(token, allowExpired);
    if (check === "missing") return fail(c, 41001, "缺少access_token参数");
    if (check === "invalid") return fail(c, 40014, "不合法的access_token，请检查或刷新");
    if (check === "expired") return fail(c, 42001, "access_token已过期");
    return null;
  };

  const sessionProblem = (c: C, sessionId: unknown) => {
    const check = auth.checkSession(sessionId);
    if (check === "missing") return fail(c, 10000, "参数session_id不能为空");
    if (check !== "ok") return fail(c, 42003, `session_id${check === "expired" ? "已过期" : "无效"}，请重新登录`);
    return null;
  };

  /** Optional KIS-Signature (S7): verified when sent, not required (UNCERTAIN). */
  const signatureProblem = async (c: C, sessionId: string) => {
    const sig = c.req.header("KIS-Signature");
    if (!sig) return null;
    const secret = auth.sessionSecret(sessionId) ?? "";
    const expected = await sha256Hex(`${c.req.header("KIS-State")}${sessionId}${c.req.header("KIS-TraceID")}${secret}${c.req.header("KIS-Timestamp")}`);
    return sig === expected ? null : fail(c, 10000, "KIS-Signature校验失败");
  };

  // ---- auth routes --------------------------------------------------------------------------------------------
  app.post("/koas/oauth2/access_token", async (c) => {
    const headerProblem = kisHeaderProblem(c);
    if (headerProblem) return fail(c, 10000, headerProblem);
    if (c.req.query("client_id") !== clientId || c.req.query("client_secret") !== clientSecret) return fail(c, 40013, "client_id或client_secret错误");
    const body = await parseBody(c);
    if (!body) return bizFail(c, JSON_PARSE_REASON);
    if (!auth.useCode(body.code, authCodes)) return fail(c, 40029, "code无效或已被使用");
    const login = auth.login();
    return ok(c, {
      access_token: login.accessToken,
      access_token_expire_in: expireIn(login.accessTokenExpiresAt),
      session_id: login.sessionId,
      session_id_expire_in: expireIn(login.sessionExpiresAt),
      session_secret: login.sessionSecret,
      uid: "10000001",
      nickname: "演示用户",
      avatar: "",
    });
  });

  app.post("/koas/user/:action", async (c) => {
    const action = c.req.param("action");
    const headerProblem = kisHeaderProblem(c);
    if (headerProblem) return fail(c, 10000, headerProblem);
    const body = await parseBody(c);
    if (!body) return bizFail(c, JSON_PARSE_REASON);

    if (action === "refresh_auth_data") {
      if (c.req.query("client_id") !== clientId || c.req.query("client_secret") !== clientSecret) return fail(c, 40013, "client_id或client_secret错误");
      const rt = auth.checkRefreshToken(body.refresh_auth_data_token);
      if (rt !== "ok") return fail(c, 40001, `refresh_auth_data_token${rt === "expired" ? "已过期" : "无效"}，请重新授权`);
      const problem = accessTokenProblem(c, typeof body.access_token === "string" ? body.access_token : undefined);
      if (problem) return problem;
      const g = auth.issueGateway();
      return ok(c, {
        auth_data: g.authData,
        gw_router_addr: gwRouterAddr,
        extend_data: { refresh_auth_data_token: g.refreshAuthDataToken, refresh_auth_data_token_expire_in: expireIn(g.refreshAuthDataTokenExpiresAt) },
      });
    }

    const token = c.req.query("access_token");
    if (action === "refresh_login_access_token") {
      // An expired (but not revoked) access token may be refreshed: that is what the route is for.
      const problem = accessTokenProblem(c, token, true);
      if (problem) return problem;
      const sp = sessionProblem(c, body.session_id);
      if (sp) return sp;
      const login = auth.rotateLogin(token!, body.session_id as string);
      return ok(c, {
        access_token: login.accessToken,
        access_token_expire_in: expireIn(login.accessTokenExpiresAt),
        session_id: login.sessionId,
        session_id_expire_in: expireIn(login.sessionExpiresAt),
      });
    }

    const problem = accessTokenProblem(c, token);
    if (problem) return problem;
    const sp = sessionProblem(c, body.session_id);
    if (sp) return sp;
    const sessionId = body.session_id as string;

    switch (action) {
      case "login_status":
        return ok(c, { status: true });
      case "account": {
        const bad = await signatureProblem(c, sessionId);
        if (bad) return bad;
        return ok(c, [ACCOUNT]);
      }
      case "account_applist": {
        const bad = await signatureProblem(c, sessionId);
        if (bad) return bad;
        if (body.client_id !== clientId) return fail(c, 10000, "client_id不正确");
        if (body.acctnumber !== ACCOUNT.acctnumber || body.pid !== ACCOUNT.pid) return fail(c, 10000, "账套不存在或无权限");
        return ok(c, [{ ...APP, client_id: clientId }]);
      }
      case "get_service_gateway": {
        const bad = await signatureProblem(c, sessionId);
        if (bad) return bad;
        if (body.acctnumber !== ACCOUNT.acctnumber || body.pid !== ACCOUNT.pid) return fail(c, 10000, "账套不存在或无权限");
        if (body.icrmid !== APP.icrmid) return fail(c, 10000, "应用未订阅(icrmid不正确)");
        const g = auth.issueGateway();
        return ok(c, {
          auth_data: g.authData,
          gw_router_addr: gwRouterAddr,
          extend_data: { refresh_auth_data_token: g.refreshAuthDataToken, refresh_auth_data_token_expire_in: expireIn(g.refreshAuthDataTokenExpiresAt) },
        });
      }
      default:
        return fail(c, 404, `接口不存在: user/${action}`, 404);
    }
  });

  // ---- business routes ----------------------------------------------------------------------------------------
  app.post("/koas/:app/api/:object/:action", async (c) => {
    const entry = c.get("logEntry");
    const appId = c.req.param("app").toLowerCase();
    const object = c.req.param("object").toLowerCase();
    const action = c.req.param("action").toLowerCase();
    const path = new URL(c.req.url).pathname;

    const fault = faults.take(path);
    if (fault) entry.fault = fault.kind;
    let repeatPage = false;
    let commitThenHold = false;
    switch (fault?.kind) {
      case "http5xx":
        return c.text("Internal Server Error", (fault.status ?? 500) as 500);
      case "timeout": {
        const outcome = await hold(c.req.raw.signal, fault.delayMs ?? maxHoldMs);
        return c.text(outcome === "aborted" ? "client went away" : "Gateway Timeout", 504);
      }
      case "html":
        return c.html(
          `<!DOCTYPE html><html><head><title>${fault.status ?? 502} Bad Gateway</title></head><body><center><h1>${fault.status ?? 502} Bad Gateway</h1></center><hr><center>nginx</center></body></html>`,
          (fault.status ?? 502) as 502,
        );
      case "throttle":
        return c.json({ errcode: 429, description: "请求过于频繁，请稍后再试" }, (fault.status ?? 429) as 429, {
          "Retry-After": String(fault.retryAfterS ?? 1),
        });
      case "bizError":
        return bizFail(c, fault.reason ?? "模拟的业务错误");
      case "authExpired":
        auth.expire(fault.credential ?? "access_token");
        break;
      case "repeatPage":
        repeatPage = true;
        break;
      case "commitThenTimeout":
        commitThenHold = true;
        break;
    }

    // Auth: access token, then the gateway credentials, then the KIS-* headers.
    const tokenProblem = accessTokenProblem(c, c.req.query("access_token"));
    if (tokenProblem) return tokenProblem;
    const authData = c.req.header("KIS-AuthData");
    if (!authData) return fail(c, 10000, "缺少请求头KIS-AuthData");
    const adCheck = auth.checkAuthData(authData);
    if (adCheck === "invalid") return fail(c, 40001, "KIS-AuthData授权数据无效");
    if (adCheck === "expired") return fail(c, 40001, "KIS-AuthData授权数据已过期，请刷新授权数据");
    const router = c.req.header("X-GW-Router-Addr");
    if (!router) return fail(c, 10000, "缺少请求头X-GW-Router-Addr");
    if (router !== auth.routerOf(authData)) return fail(c, 10000, "X-GW-Router-Addr与授权数据不匹配，无法路由");
    const headerProblem = kisHeaderProblem(c);
    if (headerProblem) return fail(c, 10000, headerProblem);

    const body = await parseBody(c);
    if (!body) {
      // The gateway forwards to the on-prem router and reports the parse failure with the forwarded auth block (S8).
      const method = `kis.${c.req.param("app")}.api.${c.req.param("object")}.${c.req.param("action")}`;
      return bizFail(
        c,
        `403-ParseRequestContent:{AuthData:{EID:"1000001",AuthData:"${authData}",Method:"${method}",Sign:"${authData.slice(-8)}"}}...${JSON_PARSE_REASON}`,
      );
    }
    const accountDb = typeof body.AccountDB === "string" ? body.AccountDB : typeof body.AccountDb === "string" ? body.AccountDb : undefined;
    if (options.accountDb !== undefined) {
      if (!accountDb) return bizFail(c, "账套AccountDB不能为空");
      if (accountDb !== options.accountDb) return bizFail(c, `账套[${accountDb}]不存在`);
    }

    if (appId === "app007104" && (BILL_TYPES as readonly string[]).includes(object)) {
      const type = object as EmulatedBillType;
      if (action === "create") {
        const head = (body.Object as { Head?: { FBillNo?: unknown } } | undefined)?.Head;
        if (options.poisonBillNos?.includes(String(head?.FBillNo)) || poisoned.has(String(head?.FBillNo))) {
          entry.fault = "poison";
          return c.text("Internal Server Error", 500);
        }
        if (options.rejectBillNos?.includes(String(head?.FBillNo))) return bizFail(c, `物料不存在(模拟拒绝 ${String(head?.FBillNo)})`);
        const fdate = (body.Object as { Head?: { Fdate?: unknown } } | undefined)?.Head?.Fdate;
        const closed = typeof fdate === "string" ? periodRefusal(fdate, options.periods) : null;
        if (closed) return bizFail(c, closed);
        const result = book.create(type, body, master, now(), accountDb, options.enforceUniqueBillNo ?? true, options.redQtySign);
        if ("reason" in result) return bizFail(c, result.reason);
        if (commitThenHold) {
          const outcome = await hold(c.req.raw.signal, fault?.delayMs ?? maxHoldMs);
          if (outcome === "aborted") return c.text("client went away", 499 as 500);
        }
        return ok(c, { FID: result.bill.FID, FBillNo: result.bill.FBillNo });
      }
      if (action === "list") {
        const paging = pagingOf(body, maxPageSize);
        if ("reason" in paging) return bizFail(c, paging.reason);
        let bills = book.all(type);
        if (!options.listIgnoresFilters) bills = filterBills(bills, body);
        const rows = bills.map((b) => (options.listRows === "flat" ? flatRowOf(b) : detailOf(b)));
        return ok(c, page(rows, repeatPage ? 1 : paging.page, paging.size, totalPagesField));
      }
      if (action === "getdetail") {
        const id = body.Id ?? body.FID ?? body.id;
        const fid = typeof id === "number" ? id : typeof id === "string" && /^\d+$/.test(id) ? Number(id) : NaN;
        if (Number.isNaN(fid)) return bizFail(c, "参数Id不能为空");
        const bill = book.byId(type, fid);
        if (!bill) return bizFail(c, `单据不存在(Id=${fid})`);
        return ok(c, detailOf(bill));
      }
    }
    if (appId === "app006992" && object === "material" && (action === "getlistdetails" || action === "getdetail")) {
      const api = options.materialDetailApi ?? "both";
      const enabled = action === "getlistdetails" ? api !== "getDetail" : api !== "getListDetails";
      if (enabled) {
        const ids = action === "getlistdetails" ? body.ItemIds : [body.ItemId ?? body.FItemID ?? body.Id];
        if (!Array.isArray(ids) || ids.length === 0 || ids.some((i) => typeof i !== "number")) {
          return bizFail(c, action === "getlistdetails" ? "参数ItemIds必须为数字数组" : "参数ItemId不能为空");
        }
        const max = options.maxDetailIds ?? 50;
        if (ids.length > max) return bizFail(c, `参数ItemIds一次最多${max}个`);
        const rows = materialDetailRows(ids as number[], options.materialFields ?? "details");
        if (action === "getdetail") return rows[0] ? ok(c, rows[0]) : bizFail(c, `物料不存在(ItemId=${ids[0]})`);
        return ok(c, { List: rows });
      }
    }
    if (appId === "app006992" && (object === "material" || object === "stock") && action === "list") {
      const paging = pagingOf(body, maxPageSize);
      if ("reason" in paging) return bizFail(c, paging.reason);
      const rows = object === "material" ? materialRows(body, options.materialFields ?? "details") : stockRows(body);
      if ("reason" in rows) return bizFail(c, rows.reason);
      return ok(c, page(rows.rows, repeatPage ? 1 : paging.page, paging.size, totalPagesField));
    }
    return fail(c, 404, `接口不存在: ${c.req.param("app")}/api/${c.req.param("object")}/${c.req.param("action")}`, 404);
  });

  app.notFound((c) => c.json({ errcode: 404, description: `接口不存在: ${new URL(c.req.url).pathname}`, data: null }, 404));

  function reset() {
    auth = new KisAuthState(now, ttl, clientId, clientSecret, gwRouterAddr);
    book.reset();
    faults.clear();
    log = [];
  }

  function state() {
    return {
      bills: book.all(),
      faults: faults.list(),
      credentials: { ...auth.current },
      materials: SKUS.length,
      stocks: WAREHOUSES.length,
    };
  }

  return {
    app,
    /** The credentials most recently issued (what a fresh bootstrap would hand out). */
    credentials: (): CurrentCredentials => ({ ...auth.current }),
    /** Makes a current credential expire now. */
    expire: (which: "access_token" | "session" | "auth_data" | "refresh_auth_data_token") => auth.expire(which),
    checkAccessToken: (token: string) => auth.checkAccessToken(token),
    checkAuthData: (authData: string) => auth.checkAuthData(authData),
    bills: (type?: EmulatedBillType): StoredBill[] => book.all(type),
    /** Test-only: deletes a stored bill by FBillNo; true when one was removed. */
    removeBill: (billNo: string, type?: EmulatedBillType): boolean => book.remove(billNo, type),
    state,
    requests: (): KisRequestLogEntry[] => [...log],
    clearRequests: () => {
      log = [];
    },
    addFaults: (specs: KisFaultSpec[]) => faults.add(specs),
    clearFaults: () => faults.clear(),
    reset,
  };
}

export type KisEmulator = ReturnType<typeof createKisEmulator>;

// ---- helpers --------------------------------------------------------------------------------------------------

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function summarise(body: unknown): unknown {
  if (!body || typeof body !== "object") return body;
  const b = body as Record<string, unknown>;
  const object = b.Object as { Head?: Record<string, unknown>; Entry?: unknown[] } | undefined;
  if (object && typeof object === "object") {
    return { FBillNo: object.Head?.FBillNo, Fdate: object.Head?.Fdate, entries: Array.isArray(object.Entry) ? object.Entry.length : null };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) out[k] = /token|secret|auth_data|session/i.test(k) && typeof v === "string" ? `${v.slice(0, 3)}…` : v;
  return out;
}

function pagingOf(body: Record<string, unknown>, max: number): { page: number; size: number } | { reason: string } {
  const page = body.CurrentPage;
  const size = body.ItemsOfPage;
  if (typeof page !== "number" || !Number.isInteger(page) || page < 1) return { reason: "分页参数CurrentPage必须为大于0的整数" };
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) return { reason: "分页参数ItemsOfPage必须为大于0的整数" };
  if (size > max) return { reason: `分页参数ItemsOfPage不能超过${max}` };
  return { page, size };
}

function page(rows: unknown[], current: number, size: number, totalField: string) {
  const totalPages = Math.ceil(rows.length / size);
  return {
    List: rows.slice((current - 1) * size, current * size),
    [totalField]: totalPages,
    TotalItems: rows.length,
    CurrentPage: current,
    ItemsOfPage: size,
  };
}

function filterBills(bills: StoredBill[], body: Record<string, unknown>): StoredBill[] {
  const billNo = typeof body.FBillNo === "string" && body.FBillNo !== "" ? body.FBillNo : undefined;
  const start = typeof body.StartDate === "string" && body.StartDate !== "" ? body.StartDate.slice(0, 10) : undefined;
  const end = typeof body.EndDate === "string" && body.EndDate !== "" ? body.EndDate.slice(0, 10) : undefined;
  return bills.filter((b) => {
    const day = String(b.Head.Fdate).slice(0, 10);
    return (!billNo || b.FBillNo === billNo) && (!start || day >= start) && (!end || day <= end);
  });
}

/** The full material record (what GetListDetails/GetDetail answer); custom field F_103 holds the Jushuitan sku_id. */
function materialDetail(s: (typeof SKUS)[number], fields: "details" | "list" | "none"): Record<string, unknown> {
  return {
    FItemID: s.kisItemId,
    FNumber: s.kisNumber,
    FName: s.name,
    FModel: s.propertiesValue,
    FUnitID: s.kisUnitId,
    FUnitGroupID: 100 + s.kisUnitId,
    FParentID: STYLES_FOR_KIS.find((st) => st.itemId === s.itemId)!.FItemID,
    FDetail: true,
    ...(fields === "none" ? {} : { F_103: s.skuId }),
  };
}

function materialDetailRows(ids: number[], fields: "details" | "list" | "none"): Record<string, unknown>[] {
  return ids.flatMap((id) => {
    const sku = SKUS.find((s) => s.kisItemId === id);
    return sku ? [materialDetail(sku, fields)] : [];
  });
}

function materialRows(body: Record<string, unknown>, fields: "details" | "list" | "none"): { rows: Record<string, unknown>[] } | { reason: string } {
  if (body.Detail !== undefined && typeof body.Detail !== "boolean") return { reason: "参数Detail必须为布尔值" };
  if (body.ParentId !== undefined && typeof body.ParentId !== "number") return { reason: "参数ParentId必须为数字" };
  if (body.Ids !== undefined && (!Array.isArray(body.Ids) || body.Ids.some((i) => typeof i !== "number"))) return { reason: "参数Ids必须为数字数组" };
  const detail = body.Detail !== false;
  const parent = typeof body.ParentId === "number" ? body.ParentId : 0;
  const key = typeof body.SearchKey === "string" ? body.SearchKey.trim() : "";
  const ids = Array.isArray(body.Ids) ? (body.Ids as number[]) : [];
  const all: Record<string, unknown>[] = detail
    ? SKUS.map((s) => {
        const full = materialDetail(s, fields);
        return fields === "list" ? full : { FItemID: full.FItemID, FNumber: full.FNumber, FName: full.FName, FParentID: full.FParentID, FDetail: true };
      })
    : STYLES_FOR_KIS.map((st) => ({ FItemID: st.FItemID, FNumber: st.FNumber, FName: st.name, FParentID: 0, FDetail: false }));
  const rows = all.filter(
    (r) =>
      (parent === 0 || r.FParentID === parent) &&
      (ids.length === 0 || ids.includes(r.FItemID as number)) &&
      (key === "" || String(r.FNumber).includes(key) || String(r.FName).includes(key)),
  );
  return { rows: rows.sort((a, b) => (a.FItemID as number) - (b.FItemID as number)) };
}

function stockRows(body: Record<string, unknown>): { rows: Record<string, unknown>[] } | { reason: string } {
  const key = typeof body.SearchKey === "string" ? body.SearchKey.trim() : "";
  const rows = WAREHOUSES.map((w) => ({ FItemID: w.kisStockId, FNumber: w.kisNumber, FName: w.jstName, FParentID: 0, FDetail: true, FTypeID: 500 }));
  return { rows: rows.filter((r) => key === "" || r.FNumber.includes(key) || r.FName.includes(key)) };
}
