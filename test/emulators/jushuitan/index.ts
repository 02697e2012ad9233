/**
 * A faithful Jushuitan open-platform emulator (openapi.jushuitan.com, signing v2) as a Hono app.
 * It verifies what the real gateway verifies (sign, timestamp skew, version/charset, token, rate limits,
 * page size, 7-day windows, required filters), serves seeded realistic data for the query endpoints the
 * bridge reads, rotates tokens, and injects the faults a sync must survive. Web standards only, so it runs
 * in Node (over loopback HTTP) and inside workerd (through app.fetch).
 */
import { Hono, type Context } from "hono";
import { md5Hex } from "../../../shared/util/md5.ts";
import { parseInZone } from "../../../shared/util/time.ts";
import { seededRandom } from "../catalog.ts";
import { DAY, formatTime, generateTables, type Row, type RowVersion, type StoredRow, type TableName } from "./data.ts";
import { EMU_ENDPOINTS, QueryError, inventoryTotals, matchRows, pageData, planQuery, type QueryPlan } from "./query.ts";
import { applyEdit, type EditChange, type EditRecord, type EditStamp } from "./edits.ts";

export const JST_EMULATOR_DEFAULTS = {
  appKey: "jst-emulator-app-key",
  appSecret: "jst-emulator-app-secret",
  accessToken: "jst-emulator-access-token",
  refreshToken: "jst-emulator-refresh-token",
  authorizationCode: "jst-emulator-auth-code",
} as const;

export const JST_PATHS = {
  otherInOut: "/open/other/inout/query",
  salesOut: "/open/orders/out/simple/query",
  purchaseIn: "/open/purchasein/query",
  aftersaleReceived: "/open/aftersale/received/query",
  sku: "/open/sku/query",
  inventory: "/open/inventory/query",
} as const;

export interface JushuitanEmulatorOptions {
  /** Emulator time (epoch ms); share a test clock with the client to keep rate limits and expiry exact. */
  now?: () => number;
  appKey?: string;
  appSecret?: string;
  /** The token accepted from the start (until it expires or is refreshed). */
  accessToken?: string;
  refreshToken?: string;
  /** Access-token lifetime; default 30 days. */
  tokenLifetimeSeconds?: number;
  /** Third-party (ISV) app: refreshToken answers 150. */
  isv?: boolean;
  /** Codes accepted once by /openWeb/auth/accessToken (the openweb /auth redirect codes). */
  authorizationCodes?: string[];
  seed?: number;
  /** Documents per endpoint path (sku/inventory: SKUs, at most the catalog's 96). Default 120 / 96. */
  documents?: Partial<Record<string, number>>;
  /** Instants the generated `modified` values span; default the 30 days before now(). */
  range?: { from: number; to: number };
  /**
   * Per app_key, across every client; null disables a limit. Defaults 5 per 1000 ms (code 199) and 100 per
   * 60000 ms (code 200): ieu/jst-java JstErrorCode ("请求频率一秒不超过5次", "请求频率一分钟不超过100次"). Whether the
   * gateway counts in sliding or aligned (calendar second/minute) windows is not public: `windows` picks
   * (default "sliding"; "fixed" resets at each whole second/minute of the emulator clock).
   */
  limits?: { perSecond?: number | null; perMinute?: number | null; secondWindowMs?: number; minuteWindowMs?: number; windows?: "sliding" | "fixed" };
  /** Accepted |timestamp − now|; default 600 s. */
  timestampSkewSeconds?: number;
  /** The two published code tables disagree (140 vs 180); default 140. */
  timestampErrorCode?: number;
  paramErrorCode?: number;
  /**
   * Which rows carry the rowversion `ts` in answers. "evidence" (default): every table except other-inout,
   * whose public clients list no `ts` field (carp OtherInoutDO, IEU JstQueryOtherInOutResponse.Datas;
   * /work/shared/docs/wire-evidence.md §1); the server still honours `start_ts`. "all": every row (the old profile).
   */
  rowTs?: "evidence" | "all";
  /** Jushuitan's clock minus the host's (ms): stamps `modified` of writes and the HTTP Date header. Default 0. */
  clockOffsetMs?: number;
  /** A row becomes visible to queries only this long after its `modified` (replica / index lag). Default 0. */
  visibilityLagMs?: number;
  /** Endpoint paths the visibility lag applies to; every path when absent. */
  visibilityLagPaths?: string[];
  /**
   * Order of windowed answers without start_ts (undocumented): "field" (default) by the window's time field,
   * "id" by document id (a plain primary-key scan), "id-desc" newest id first.
   */
  answerOrder?: "field" | "id" | "id-desc";
}

export type FaultKind =
  | "http5xx"
  | "timeout"
  | "html"
  | "tokenExpired"
  | "throttle"
  | "pageDrift"
  | "bizError"
  | "ignorePageIndex"
  /** Before answering, a row served earlier (this scan or a previous invocation) is edited or cancelled: the rest shifts. */
  | "editServed"
  /**
   * The answer's data_count is `count` (default 1) more than the rows the query returns: the source under-delivers
   * (the count and the rows come from replicas that disagree for a moment). The engine's drift check re-reads the window.
   */
  | "countOver";

export interface FaultSpec {
  kind: FaultKind;
  /** Substring of the request path; every path when absent. */
  path?: string;
  /** How many matching requests it affects (default 1). */
  times?: number;
  /** Matching requests to let through first (default 0). */
  skip?: number;
  /** http5xx / html: HTTP status (503 / 502). */
  status?: number;
  /** timeout: how long the answer is held back (honours the request's abort). */
  delayMs?: number;
  /** throttle (199 or 200) / bizError: the envelope code. */
  code?: number;
  msg?: string;
  /** pageDrift / editServed: documents to modify (default 5 / 1); countOver: rows the count reports too many (default 1). */
  count?: number;
  /**
   * editServed: re-save the row (its `modified` moves to Jushuitan's now: past the query's end unless the query reads past that clock), cancel it (status Cancelled), or change
   * its first line's quantity by +1 and re-save it ("quantity", issue 16: an edit after the bridge may have posted it).
   * Default edit. "addLine" / "removeLine": a line added or removed (test/emulators/jushuitan/edits.ts).
   */
  change?: EditChange;
  /** editServed: the edited row's new `modified` (edits.ts EditStamp; default "now"). */
  stamp?: EditStamp;
  /** editServed "afterWindow": at least this far behind the earlier of the host's and Jushuitan's clocks (the flows' end lag). */
  afterLagMs?: number;
}

export interface RequestLogEntry {
  seq: number;
  time: number;
  method: string;
  path: string;
  /** Form fields except `biz` and `sign`. */
  params: Record<string, string>;
  biz: unknown;
  httpStatus: number;
  /** Envelope code, or null when the answer was not an envelope. */
  code: number | null;
  msg: string;
  /** Rows on the answered page. */
  rows?: number;
  faults: FaultKind[];
}

interface TokenRecord {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  refreshExpiresAt: number;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
  toSkip: number;
}

const OK_MSG = "执行成功";
const RESPONDERS: FaultKind[] = ["http5xx", "html", "throttle", "bizError"];

const GATEWAY_HTML = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>openresty</center>
</body>
</html>`;

export function createJushuitanEmulator(options: JushuitanEmulatorOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const appKey = options.appKey ?? JST_EMULATOR_DEFAULTS.appKey;
  const appSecret = options.appSecret ?? JST_EMULATOR_DEFAULTS.appSecret;
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 30 * 86_400;
  const skewMs = (options.timestampSkewSeconds ?? 600) * 1000;
  const timestampCode = options.timestampErrorCode ?? 140;
  const paramCode = options.paramErrorCode ?? 140;
  const seed = options.seed ?? 20240601;
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  const visibilityLagMs = options.visibilityLagMs ?? 0;
  /** Jushuitan's own clock. */
  const serverNow = () => now() + clockOffsetMs;
  /** Documents changed by editServed faults or POST /__emulator/edit, in order. */
  const edits: EditRecord[] = [];
  /** Keys served in answers, oldest first, per table (what an editServed fault picks from). */
  const served = new Map<TableName, string[]>();
  const limits = {
    perSecond: options.limits?.perSecond === undefined ? 5 : options.limits.perSecond,
    perMinute: options.limits?.perMinute === undefined ? 100 : options.limits.perMinute,
    secondWindowMs: options.limits?.secondWindowMs ?? 1000,
    minuteWindowMs: options.limits?.minuteWindowMs ?? 60_000,
    windows: options.limits?.windows ?? "sliding",
  };
  /** Throttled answers given (per app, all clients), by code. */
  const throttleCounts = { perSecond: 0, perMinute: 0 };

  let tables!: Record<TableName, Map<string, StoredRow>>;
  let rowVersion!: RowVersion;
  let tokens = new Map<string, TokenRecord>();
  let refreshIndex = new Map<string, TokenRecord>();
  let authCodes = new Set<string>();
  let issued = 0;
  let log: RequestLogEntry[] = [];
  let seq = 0;
  let faults: ActiveFault[] = [];
  const calls = new Map<string, number[]>();

  function countFor(path: string, fallback: number): number {
    return options.documents?.[path] ?? fallback;
  }

  function storeTokens(record: TokenRecord) {
    tokens.set(record.accessToken, record);
    refreshIndex.set(record.refreshToken, record);
  }

  function issueTokens(): TokenRecord {
    issued++;
    const t = now();
    const record = {
      accessToken: md5Hex(`${seed}:access:${issued}:${t}`),
      refreshToken: md5Hex(`${seed}:refresh:${issued}:${t}`),
      expiresAt: t + lifetimeSeconds * 1000,
      refreshExpiresAt: t + 2 * lifetimeSeconds * 1000,
    };
    storeTokens(record);
    return record;
  }

  function reset() {
    const t = now();
    const range = options.range ?? { from: t - 30 * DAY, to: t };
    const generated = generateTables({
      seed,
      from: range.from,
      to: range.to,
      counts: {
        otherInOut: countFor(JST_PATHS.otherInOut, 120),
        salesOut: countFor(JST_PATHS.salesOut, 120),
        purchaseIn: countFor(JST_PATHS.purchaseIn, 120),
        aftersaleReceived: countFor(JST_PATHS.aftersaleReceived, 120),
        sku: countFor(JST_PATHS.sku, 96),
        inventory: countFor(JST_PATHS.inventory, 96),
      },
    });
    tables = generated.tables;
    rowVersion = generated.rowVersion;
    tokens = new Map();
    refreshIndex = new Map();
    issued = 0;
    storeTokens({
      accessToken: options.accessToken ?? JST_EMULATOR_DEFAULTS.accessToken,
      refreshToken: options.refreshToken ?? JST_EMULATOR_DEFAULTS.refreshToken,
      expiresAt: t + lifetimeSeconds * 1000,
      refreshExpiresAt: t + 2 * lifetimeSeconds * 1000,
    });
    authCodes = new Set(options.authorizationCodes ?? [JST_EMULATOR_DEFAULTS.authorizationCode]);
    log = [];
    seq = 0;
    faults = [];
    calls.clear();
    throttleCounts.perSecond = 0;
    throttleCounts.perMinute = 0;
    served.clear();
  }
  reset();

  // ---- faults ------------------------------------------------------------------------------------

  function addFaults(specs: FaultSpec | FaultSpec[]) {
    for (const spec of Array.isArray(specs) ? specs : [specs]) {
      faults.push({ ...spec, remaining: spec.times ?? 1, toSkip: spec.skip ?? 0 });
    }
  }

  /** The faults this request triggers (consuming skip/times). */
  function takeFaults(path: string): ActiveFault[] {
    const fired: ActiveFault[] = [];
    for (const f of faults) {
      if (f.path !== undefined && !path.includes(f.path)) continue;
      if (f.remaining <= 0) continue;
      if (f.toSkip > 0) {
        f.toSkip--;
        continue;
      }
      f.remaining--;
      fired.push(f);
    }
    faults = faults.filter((f) => f.remaining > 0);
    return fired;
  }

  function expireTokens() {
    const t = now();
    for (const record of tokens.values()) record.expiresAt = Math.min(record.expiresAt, t - 1);
  }

  // ---- data --------------------------------------------------------------------------------------

  function tableFor(path: string): TableName {
    const ep = EMU_ENDPOINTS[path];
    if (!ep) throw new Error(`no emulated endpoint ${path}; use one of ${Object.keys(EMU_ENDPOINTS).join(", ")}`);
    return ep.table;
  }

  /** Bumps `modified` (to now, or later when `atLeast` says so) and `ts`, as any write in the ERP does. */
  /** Sets a row's `modified` to an exact second (an edit made at that instant of Jushuitan's clock). */
  /** Edits whose row was not served since: an answer that serves the row marks them read (EditRecord.servedAt). */
  function noteServed(path: string, rows: Row[]) {
    const keys = new Set(rows.map((r) => String(r.io_id)));
    const at = now();
    for (const e of edits) if (e.servedAt === undefined && e.path === path && keys.has(e.key)) e.servedAt = at;
  }

  function stampRow(table: TableName, key: string, ms: number) {
    const s = tables[table].get(key);
    if (!s) return;
    s.modifiedMs = Math.floor(ms / 1000) * 1000;
    s.row.modified = formatTime(s.modifiedMs);
    s.ts = rowVersion.next();
    s.row.ts = s.ts;
  }

  /**
   * A save is stamped by Jushuitan's clock, never later. Mid-scan it lands past the window being read whenever that
   * window ends before Jushuitan's now; a window that reaches past that clock (a run's first request, before the
   * reader learnt the skew from the Date header) keeps the re-saved row inside it, moved to the end of its order.
   * (Forcing the stamp past such a window put edits minutes ahead of Jushuitan's clock: chaos quick seed 20261127.)
   */
  function touch(table: TableName, key: string) {
    const s = tables[table].get(key);
    if (!s) return;
    const ms = Math.floor(serverNow() / 1000) * 1000;
    s.modifiedMs = ms;
    s.row.modified = formatTime(ms);
    s.ts = rowVersion.next();
    s.row.ts = s.ts;
  }

  function keyOf(table: TableName, doc: Row): string {
    if (table === "inventory") {
      if (doc.sku_id === undefined || doc.wms_co_id === undefined) throw new Error("inventory rows need sku_id and wms_co_id");
      return `${String(doc.sku_id)}@${String(doc.wms_co_id)}`;
    }
    const idField = table === "sku" ? "sku_id" : "io_id";
    if (doc[idField] === undefined) {
      if (table === "sku") throw new Error("sku rows need sku_id");
      const max = Math.max(0, ...[...tables[table].values()].map((s) => Number(s.row.io_id) || 0));
      doc.io_id = max + 1;
    }
    return String(doc[idField]);
  }

  /** Inserts or merges a document; any write bumps `modified` and `ts`. Returns the stored row. */
  function upsertDocument(path: string, doc: Row): Row {
    const table = tableFor(path);
    const incoming = structuredClone(doc);
    const key = keyOf(table, incoming);
    const existing = tables[table].get(key);
    const t = serverNow();
    const row: Row = existing
      ? { ...existing.row, ...incoming }
      : { status: "Confirmed", items: [], created: formatTime(t), io_date: formatTime(t), ...incoming };
    const ioDateMs = typeof row.io_date === "string" ? (parseInZone(row.io_date) ?? t) : t;
    const createdMs = typeof row.created === "string" ? (parseInZone(row.created) ?? t) : t;
    tables[table].set(key, { key, row, modifiedMs: t, ioDateMs, createdMs, ts: 0 });
    touch(table, key);
    return structuredClone(tables[table].get(key)!.row);
  }

  /** Re-saves existing documents unchanged (a user editing them): new `modified` and `ts`. */
  /** Sets a stored row's `modified` to an exact instant (with `.SSS` when `withMillis`), as a save at that instant would. */
  function stampModified(path: string, key: string | number, ms: number, withMillis = true): Row {
    const table = tableFor(path);
    const s = tables[table].get(String(key));
    if (!s) throw new Error(`no document ${key} in ${path}`);
    s.modifiedMs = ms;
    s.row.modified = formatTime(ms, withMillis);
    s.ts = rowVersion.next();
    s.row.ts = s.ts;
    return structuredClone(s.row);
  }

  function touchDocuments(path: string, keys: Array<string | number>): Row[] {
    const table = tableFor(path);
    return keys.map((k) => {
      const key = String(k);
      if (!tables[table].has(key)) throw new Error(`no document ${key} in ${path}`);
      touch(table, key);
      return structuredClone(tables[table].get(key)!.row);
    });
  }

  /** Stored rows of an endpoint (per warehouse for inventory), oldest `modified` first. */
  function documents(path: string): Row[] {
    const table = tableFor(path);
    return [...tables[table].values()].sort((a, b) => a.modifiedMs - b.modifiedMs || a.ts - b.ts).map((s) => structuredClone(s.row));
  }

  function state() {
    const t = now();
    return {
      now: t,
      appKey,
      tokens: [...tokens.values()].map((r) => ({ ...r, expired: r.expiresAt <= t })),
      documents: Object.fromEntries(
        Object.values(JST_PATHS).map((p) => {
          const rows = [...tables[tableFor(p)].values()];
          return [p, { count: rows.length, maxTs: Math.max(0, ...rows.map((r) => r.ts)) }];
        }),
      ),
      faults: faults.map(({ remaining, toSkip, ...f }) => ({ ...f, remaining, skip: toSkip })),
      requests: log.length,
    };
  }

  // ---- request pipeline --------------------------------------------------------------------------

  function verifySign(params: Record<string, string>): boolean {
    const keys = Object.keys(params)
      .filter((k) => k !== "sign" && params[k] !== "")
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let text = appSecret;
    for (const k of keys) text += k + params[k];
    return md5Hex(text) === params.sign;
  }

  /**
   * Per app_key (every client of the app counts together). Sliding: a request counts for `windowMs` after it was
   * accepted. Fixed: it counts until the end of the aligned window it arrived in. Throttled requests do not count.
   */
  function throttled(key: string, t: number): number | null {
    const list = (calls.get(key) ?? []).filter((c) => t - c < Math.max(limits.secondWindowMs, limits.minuteWindowMs));
    calls.set(key, list);
    const within = (w: number) =>
      limits.windows === "fixed" ? list.filter((c) => Math.floor(c / w) === Math.floor(t / w)).length : list.filter((c) => t - c < w).length;
    if (limits.perSecond !== null && within(limits.secondWindowMs) >= limits.perSecond) return 199;
    if (limits.perMinute !== null && within(limits.minuteWindowMs) >= limits.perMinute) return 200;
    list.push(t);
    return null;
  }

  function waitFor(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async function handleApi(c: Context, kind: "query" | "auth"): Promise<Response> {
    const t = now();
    const path = c.req.path;
    // Bytes, not text(): workerd warns about text() on a form body.
    const form = new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer()));
    const params: Record<string, string> = {};
    for (const [k, v] of form) params[k] = v;
    let biz: unknown = params.biz;
    try {
      if (params.biz !== undefined) biz = JSON.parse(params.biz);
    } catch {
      // logged raw; rejected below
    }
    const { biz: _b, sign: _s, ...shown } = params;
    const entry: RequestLogEntry = { seq: ++seq, time: t, method: c.req.method, path, params: shown, biz, httpStatus: 200, code: null, msg: "", faults: [] };
    log.push(entry);

    // The answer's Date header is Jushuitan's clock (the bridge bounds its windows by it).
    c.header("Date", new Date(serverNow()).toUTCString());
    const envelope = (code: number, msg: string, data: unknown = null) => {
      entry.code = code;
      entry.msg = msg;
      return c.json({ code, msg, data });
    };

    const fired = takeFaults(path);
    entry.faults = fired.map((f) => f.kind);
    for (const f of fired) {
      if (f.kind === "tokenExpired") expireTokens();
      if (f.kind === "timeout") await waitFor(f.delayMs ?? 30_000, c.req.raw.signal);
    }
    const responder = fired.find((f) => RESPONDERS.includes(f.kind));
    if (responder) {
      switch (responder.kind) {
        case "http5xx":
          entry.httpStatus = responder.status ?? 503;
          entry.msg = "Service Temporarily Unavailable";
          return c.text("Service Temporarily Unavailable", entry.httpStatus as 503);
        case "html":
          entry.httpStatus = responder.status ?? 502;
          entry.msg = "502 Bad Gateway";
          return c.html(GATEWAY_HTML, entry.httpStatus as 502);
        case "throttle": {
          const code = responder.code ?? 199;
          return envelope(code, code === 200 ? "调用频次超过限制!请求频率一分钟不超过100次" : "调用频次超过限制!请稍后再试");
        }
        default:
          return envelope(responder.code ?? 500, responder.msg ?? "内部处理异常！");
      }
    }

    if (!params.app_key) return envelope(paramCode, "参数不符合规范,请检查传入参数!app_key不能为空");
    if (params.app_key !== appKey) return envelope(10, "验证失败！无效签名");
    if (kind === "query" && params.version !== "2") return envelope(paramCode, "参数不符合规范,请检查传入参数!version必须为2");
    if ((params.charset ?? "").toLowerCase() !== "utf-8") return envelope(paramCode, "参数不符合规范,请检查传入参数!charset必须为utf-8");
    const stamp = Number(params.timestamp);
    if (!/^\d{10}$/.test(params.timestamp ?? "") || Math.abs(stamp * 1000 - t) > skewMs) {
      return envelope(timestampCode, "无效的timestamp,请求最大时间误差10分钟");
    }
    if (!params.sign || !verifySign(params)) return envelope(10, "验证失败！无效签名");
    const limited = throttled(appKey, t);
    if (limited === 199) throttleCounts.perSecond++;
    if (limited === 200) throttleCounts.perMinute++;
    if (limited === 199) return envelope(199, "调用频次超过限制!请稍后再试");
    if (limited === 200) return envelope(200, "调用频次超过限制!请求频率一分钟不超过100次");

    if (kind === "auth") return handleAuth(c, path, params, envelope);

    const token = tokens.get(params.access_token ?? "");
    if (!token || token.expiresAt <= t) return envelope(100, "验证失败！无效的access_token或access_token已过期");

    const endpoint = EMU_ENDPOINTS[path];
    if (!endpoint) {
      entry.httpStatus = 404;
      entry.code = 404;
      entry.msg = "接口不存在";
      return c.json({ code: 404, msg: "接口不存在", data: null }, 404);
    }
    if (biz === null || typeof biz !== "object" || Array.isArray(biz)) return envelope(paramCode, "参数不符合规范,请检查传入参数!biz必须为JSON对象");

    let plan: QueryPlan;
    try {
      plan = planQuery(endpoint, biz as Row);
    } catch (error) {
      if (error instanceof QueryError) return envelope(paramCode, error.message);
      throw error;
    }
    const source = () => {
      const visibleUntil = serverNow() - visibilityLagMs;
      const lagged = visibilityLagMs > 0 && (!options.visibilityLagPaths || options.visibilityLagPaths.some((p) => path.endsWith(p)));
      const all = [...tables[endpoint.table].values()].filter((s) => !lagged || s.modifiedMs <= visibleUntil);
      if (endpoint.table !== "inventory") return all;
      if (plan.warehouse !== undefined) return all.filter((s) => s.row.wms_co_id === plan.warehouse);
      return inventoryTotals(all);
    };
    for (const f of fired) {
      if (f.kind === "ignorePageIndex") plan.pageIndex = 1;
      if (f.kind === "pageDrift") {
        // Rows already served (the head of this very query) change, so the rest shifts to earlier pages.
        const victims = matchRows(plan, source(), { ignoreCursor: true }).slice(0, f.count ?? 5);
        for (const v of victims) {
          if (endpoint.table === "inventory" && !v.key.includes("@")) {
            for (const k of tables.inventory.keys()) if (k.startsWith(`${v.key}@`)) touch("inventory", k);
          } else {
            touch(endpoint.table, v.key);
          }
        }
      }
    }
    for (const f of fired) {
      if (f.kind !== "editServed") continue;
      // Rows an earlier answer served change now: offset paging then skips the row that moves up into a read page.
      // Prefer rows this very query has already served (still in its result set): that is what shifts its pages.
      const all = served.get(endpoint.table) ?? [];
      const current = new Set(matchRows(plan, source(), { ignoreCursor: true }).map((r) => r.key));
      const inQuery = all.filter((k) => current.has(k));
      const keys = inQuery.length > 0 ? inQuery : [...all];
      const pick = seededRandom(seed ^ (entry.seq * 7919));
      for (let i = 0; i < (f.count ?? 1) && keys.length > 0; i++) {
        const key = keys.splice(Math.floor(pick() * keys.length), 1)[0]!;
        const row = tables[endpoint.table].get(key);
        if (!row) continue;
        const change = applyEdit(row.row, f.change ?? "edit", pick());
        const stamp = f.stamp ?? "now";
        if (stamp === "now" || !plan.window) touch(endpoint.table, key);
        // The window's end second belongs to the next window (engine/window.ts ownsInstant): "afterWindow" lands on it,
        // "windowEnd" on the last second this window owns.
        // "afterWindow" never lands before the end lag behind the clocks: a run cut into several windows reads the
        // later ones after this one, and a real edit is never stamped before the run that follows it (seed 9130 long).
        // Nor after Jushuitan's own clock (touch).
        else
          stampRow(
            endpoint.table,
            key,
            stamp === "afterWindow"
              ? Math.min(serverNow(), Math.max(plan.window.end, Math.min(now(), serverNow()) - (f.afterLagMs ?? 0)))
              : plan.window.end - 1000,
          );
        edits.push({
          path,
          key,
          change,
          modifiedMs: row.modifiedMs,
          madeAt: now(),
          via: "query",
          after: { status: row.row.status, items: structuredClone(row.row.items) },
        });
      }
    }
    const matched = matchRows(plan, source());
    if (options.answerOrder && options.answerOrder !== "field" && plan.cursor === undefined) {
      const sign = options.answerOrder === "id-desc" ? -1 : 1;
      matched.sort((a, b) => sign * (Number(a.key) - Number(b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
    }
    const data = pageData(plan, matched);
    const over = fired.find((f) => f.kind === "countOver");
    if (over && typeof data.data_count === "number") data.data_count += over.count ?? 1;
    const rows = data[endpoint.listKey] as Row[];
    entry.rows = rows.length;
    if (endpoint.table !== "inventory") {
      const list = served.get(endpoint.table) ?? [];
      for (const r of rows) list.push(String(r.io_id ?? r.sku_id));
      served.set(endpoint.table, list.slice(-5000));
      noteServed(path, rows);
    }
    if (endpoint.table === "otherInOut" && (options.rowTs ?? "evidence") === "evidence") for (const r of rows) delete r.ts;
    return envelope(0, OK_MSG, data);
  }

  function handleAuth(c: Context, path: string, params: Record<string, string>, envelope: (code: number, msg: string, data?: unknown) => Response): Response {
    const answer = (record: TokenRecord) =>
      envelope(0, OK_MSG, { access_token: record.accessToken, expires_in: lifetimeSeconds, refresh_token: record.refreshToken, scope: "all" });
    const op = path.slice("/openWeb/auth/".length);
    if (op === "getInitToken" || op === "accessToken") {
      if (params.grant_type !== "authorization_code") return envelope(paramCode, "参数不符合规范,请检查传入参数!grant_type必须为authorization_code");
      if (!params.code) return envelope(paramCode, "参数不符合规范,请检查传入参数!code不能为空");
      if (op === "accessToken") {
        if (!authCodes.has(params.code)) return envelope(paramCode, "参数不符合规范,请检查传入参数!无效的code");
        authCodes.delete(params.code);
      }
      return answer(issueTokens());
    }
    if (op === "refreshToken") {
      if (params.grant_type !== "refresh_token") return envelope(paramCode, "参数不符合规范,请检查传入参数!grant_type必须为refresh_token");
      if (options.isv) return envelope(150, "服务商应用禁止刷新access_token,需商户重新授权");
      const record = refreshIndex.get(params.refresh_token ?? "");
      if (!record || record.refreshExpiresAt <= now()) return envelope(100, "验证失败！无效的refresh_token或refresh_token已过期");
      // Rotation: the old pair stops working at once.
      tokens.delete(record.accessToken);
      refreshIndex.delete(record.refreshToken);
      return answer(issueTokens());
    }
    c.status(404);
    return envelope(404, "接口不存在");
  }

  // ---- the app -----------------------------------------------------------------------------------

  const app = new Hono();

  app.get("/__emulator/requests", (c) => c.json(log));
  app.get("/__emulator/throttles", (c) => c.json(throttleCounts));
  app.delete("/__emulator/requests", (c) => {
    log = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/faults", async (c) => {
    const body = (await c.req.json()) as FaultSpec | FaultSpec[];
    addFaults(body);
    return c.json({ ok: true, active: faults.length });
  });
  app.delete("/__emulator/faults", (c) => {
    // ?kind=editServed removes only faults of that kind.
    const kind = c.req.query("kind");
    faults = kind ? faults.filter((f) => f.kind !== kind) : [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/reset", (c) => {
    reset();
    return c.json({ ok: true });
  });
  app.get("/__emulator/state", (c) => {
    const path = c.req.query("path");
    if (path) return c.json({ path, rows: documents(path) });
    return c.json(state());
  });
  app.post("/__emulator/documents", async (c) => {
    const body = (await c.req.json()) as { path: string; doc: Row };
    return c.json({ ok: true, row: upsertDocument(body.path, body.doc) });
  });
  // A user edits or cancels a document between runs (issue 16), saved at `modifiedMs` (Jushuitan's clock; default now).
  app.post("/__emulator/edit", async (c) => {
    const body = (await c.req.json()) as { path: string; key: string | number; change: EditChange; pick?: number; modifiedMs?: number };
    const table = tableFor(body.path);
    const key = String(body.key);
    const stored = tables[table].get(key);
    if (!stored) return c.json({ ok: false, error: `no document ${key} in ${body.path}` }, 404);
    const change = applyEdit(stored.row, body.change, body.pick ?? 0);
    if (body.modifiedMs === undefined) touch(table, key);
    else stampRow(table, key, body.modifiedMs);
    edits.push({
      path: body.path,
      key,
      change,
      modifiedMs: stored.modifiedMs,
      madeAt: now(),
      via: "admin",
      after: { status: stored.row.status, items: structuredClone(stored.row.items) },
    });
    return c.json({ ok: true, change, row: structuredClone(stored.row) });
  });
  app.get("/__emulator/edits", (c) => c.json(edits));
  app.post("/__emulator/tokens/expire", (c) => {
    expireTokens();
    return c.json({ ok: true });
  });

  app.post("/openWeb/auth/*", (c) => handleApi(c, "auth"));
  app.post("/open/*", (c) => handleApi(c, "query"));
  app.all("/open/*", (c) => c.text("Method Not Allowed", 405));
  app.onError((error, c) => c.json({ code: 500, msg: `emulator error: ${error.message}`, data: null }, 500));

  return {
    app,
    credentials: {
      appKey,
      appSecret,
      accessToken: options.accessToken ?? JST_EMULATOR_DEFAULTS.accessToken,
      refreshToken: options.refreshToken ?? JST_EMULATOR_DEFAULTS.refreshToken,
    },
    /** The request log (oldest first). */
    requests: (): RequestLogEntry[] => structuredClone(log),
    /** Throttled answers the rate limits gave since start/reset (injected "throttle" faults not included). */
    throttles: () => ({ ...throttleCounts }),
    clearRequests: () => {
      log = [];
    },
    addFaults,
    clearFaults: () => {
      faults = [];
    },
    reset,
    state,
    documents,
    upsertDocument,
    touchDocuments,
    stampModified,
    expireTokens,
    /** Tokens currently accepted (not yet rotated away). */
    liveTokens: () => [...tokens.values()].filter((r) => r.expiresAt > now()).map((r) => ({ ...r })),
  };
}

export type JushuitanEmulator = ReturnType<typeof createJushuitanEmulator>;
