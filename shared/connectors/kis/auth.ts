/**
 * The koas user-authorization routes (doc B2, route 1): code → access_token/session → 账套 → app → service gateway,
 * plus the two refresh calls. The bootstrap helpers let a CLI walk a user through getting the KIS_* values;
 * the client uses the refresh calls when credentials expire.
 */
import type { Clock, FetchLike, TokenSet } from "../../ports.ts";
import { defaultKisAuthErrorMatcher, DEFAULT_DUPLICATE_BILL_PATTERNS, redactor, KisBadResponseError } from "./errors.ts";
import { expiryToEpochMs, kisHeaders, postKoas, sha256Hex, type KoasPolicy } from "./transport.ts";

export interface KisAuthTransport {
  baseUrl: string;
  fetch: FetchLike;
  clock: Clock;
  timeoutMs?: number;
  /** Defaults: the default auth matcher and duplicate patterns; secrets of the call are redacted automatically. */
  policy?: Partial<KoasPolicy>;
}

export interface KisLogin {
  accessToken: string;
  accessTokenExpiresAt?: number;
  sessionId: string;
  sessionExpiresAt?: number;
  /** Only from the code/SMS login; used for the optional KIS-Signature header. */
  sessionSecret?: string;
  uid?: string;
}

export interface KisGateway {
  authData: string;
  gwRouterAddr: string;
  refreshAuthDataToken?: string;
  refreshAuthDataTokenExpiresAt?: number;
  /** Not documented; taken when the server sends `auth_data_expire_in`. */
  authDataExpiresAt?: number;
  /** S5 reads an access_token from refresh_auth_data; taken when present (UNCERTAIN). */
  accessToken?: string;
}

export interface KisAccount {
  acctnumber: string;
  pid: string;
  name?: string;
  raw: Record<string, unknown>;
}

export interface KisAccountApp {
  icrmid: string;
  name?: string;
  raw: Record<string, unknown>;
}

async function authPost(
  t: KisAuthTransport,
  path: string,
  query: Record<string, string>,
  body: Record<string, unknown>,
  secrets: Array<string | undefined>,
  signWith?: { sessionId: string; sessionSecret?: string },
): Promise<unknown> {
  const url = new URL(`${t.baseUrl.replace(/\/+$/, "")}/koas/${path}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = { "Content-Type": "application/json", ...kisHeaders(t.clock) };
  if (signWith?.sessionSecret) {
    // UNCERTAIN (only S7 sends it): sha256_hex(state + session_id + traceId + session_secret + timestamp).
    headers["KIS-Signature"] = await sha256Hex(
      `${headers["KIS-State"]}${signWith.sessionId}${headers["KIS-TraceID"]}${signWith.sessionSecret}${headers["KIS-Timestamp"]}`,
    );
  }
  const redact = redactor(() => [...secrets, ...Object.values(query)]);
  const policy: KoasPolicy = {
    redact,
    authErrorMatcher: t.policy?.authErrorMatcher ?? defaultKisAuthErrorMatcher,
    duplicatePatterns: t.policy?.duplicatePatterns ?? DEFAULT_DUPLICATE_BILL_PATTERNS,
    throttleStatuses: t.policy?.throttleStatuses ?? [429, 503],
  };
  return postKoas(t.fetch, t.clock, { url: url.href, headers, body: JSON.stringify(body), timeoutMs: t.timeoutMs ?? 30_000, label: `/koas/${path}` }, policy);
}

function record(data: unknown, label: string): Record<string, unknown> {
  if (data && typeof data === "object" && !Array.isArray(data)) return data as Record<string, unknown>;
  throw new KisBadResponseError(200, `KIS ${label} answered without a data object`, { retryable: false });
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

function need(obj: Record<string, unknown>, key: string, label: string): string {
  const v = str(obj[key]);
  if (v === undefined) throw new KisBadResponseError(200, `KIS ${label} answered without ${key}`, { retryable: false });
  return v;
}

/** UNCERTAIN list shape: a bare array, or an object holding it under list/List/data/accounts/apps. */
function rows(data: unknown): Record<string, unknown>[] {
  const arr = Array.isArray(data)
    ? data
    : data && typeof data === "object"
      ? ((["list", "List", "data", "Data", "accounts", "apps", "applist"].map((k) => (data as Record<string, unknown>)[k]).find(Array.isArray) as
          | unknown[]
          | undefined) ?? [])
      : [];
  return arr.filter((r): r is Record<string, unknown> => !!r && typeof r === "object");
}

function loginFrom(data: unknown, label: string, nowMs: number): KisLogin {
  const d = record(data, label);
  const login: KisLogin = { accessToken: need(d, "access_token", label), sessionId: need(d, "session_id", label) };
  const at = expiryToEpochMs(d.access_token_expire_in, nowMs);
  const st = expiryToEpochMs(d.session_id_expire_in, nowMs);
  if (at !== undefined) login.accessTokenExpiresAt = at;
  if (st !== undefined) login.sessionExpiresAt = st;
  const secret = str(d.session_secret);
  if (secret) login.sessionSecret = secret;
  const uid = str(d.uid);
  if (uid) login.uid = uid;
  return login;
}

function gatewayFrom(data: unknown, label: string, nowMs: number): KisGateway {
  const d = record(data, label);
  const g: KisGateway = { authData: need(d, "auth_data", label), gwRouterAddr: need(d, "gw_router_addr", label) };
  const ext = d.extend_data && typeof d.extend_data === "object" ? (d.extend_data as Record<string, unknown>) : {};
  const rt = str(ext.refresh_auth_data_token) ?? str(d.refresh_auth_data_token);
  if (rt) g.refreshAuthDataToken = rt;
  const rtExp = expiryToEpochMs(ext.refresh_auth_data_token_expire_in ?? d.refresh_auth_data_token_expire_in, nowMs);
  if (rtExp !== undefined) g.refreshAuthDataTokenExpiresAt = rtExp;
  const adExp = expiryToEpochMs(d.auth_data_expire_in ?? ext.auth_data_expire_in, nowMs);
  if (adExp !== undefined) g.authDataExpiresAt = adExp;
  const at = str(d.access_token);
  if (at) g.accessToken = at;
  return g;
}

/** Step 1: `POST /koas/oauth2/access_token?client_id&client_secret {code}`. */
export async function exchangeAuthorizationCode(t: KisAuthTransport, p: { clientId: string; clientSecret: string; code: string }): Promise<KisLogin> {
  const data = await authPost(t, "oauth2/access_token", { client_id: p.clientId, client_secret: p.clientSecret }, { code: p.code }, [p.code]);
  return loginFrom(data, "oauth2/access_token", t.clock.now());
}

/** Step 2: the 账套 the user may use (`acctnumber`, `pid`). */
export async function listAccounts(t: KisAuthTransport, p: { accessToken: string; sessionId: string; sessionSecret?: string }): Promise<KisAccount[]> {
  const data = await authPost(t, "user/account", { access_token: p.accessToken }, { session_id: p.sessionId }, [p.sessionId, p.sessionSecret], p);
  return rows(data).map((r) => ({
    acctnumber: need(r, "acctnumber", "user/account"),
    pid: need(r, "pid", "user/account"),
    ...(str(r.acctname ?? r.name) ? { name: str(r.acctname ?? r.name)! } : {}),
    raw: r,
  }));
}

/** Step 3: the apps subscribed on that 账套 (`icrmid`). */
export async function listAccountApps(
  t: KisAuthTransport,
  p: { accessToken: string; sessionId: string; sessionSecret?: string; clientId: string; acctnumber: string; pid: string },
): Promise<KisAccountApp[]> {
  const data = await authPost(
    t,
    "user/account_applist",
    { access_token: p.accessToken },
    { session_id: p.sessionId, client_id: p.clientId, acctnumber: p.acctnumber, pid: p.pid },
    [p.sessionId, p.sessionSecret],
    p,
  );
  return rows(data).map((r) => ({
    icrmid: need(r, "icrmid", "user/account_applist"),
    ...(str(r.app_name ?? r.appname ?? r.name) ? { name: str(r.app_name ?? r.appname ?? r.name)! } : {}),
    raw: r,
  }));
}

/** Step 4: auth_data, gw_router_addr and the refresh_auth_data_token for one app on one 账套. */
export async function getServiceGateway(
  t: KisAuthTransport,
  p: { accessToken: string; sessionId: string; sessionSecret?: string; acctnumber: string; pid: string; icrmid: string },
): Promise<KisGateway> {
  const data = await authPost(
    t,
    "user/get_service_gateway",
    { access_token: p.accessToken },
    { session_id: p.sessionId, acctnumber: p.acctnumber, pid: p.pid, icrmid: p.icrmid },
    [p.sessionId, p.sessionSecret],
    p,
  );
  return gatewayFrom(data, "user/get_service_gateway", t.clock.now());
}

/** `POST /koas/user/refresh_login_access_token?access_token {session_id}` → new access_token and session_id. */
export async function refreshLoginAccessToken(t: KisAuthTransport, p: { accessToken: string; sessionId: string }): Promise<KisLogin> {
  const data = await authPost(t, "user/refresh_login_access_token", { access_token: p.accessToken }, { session_id: p.sessionId }, [p.sessionId]);
  return loginFrom(data, "user/refresh_login_access_token", t.clock.now());
}

/** `POST /koas/user/refresh_auth_data?client_id&client_secret {refresh_auth_data_token, access_token}`. */
export async function refreshAuthData(
  t: KisAuthTransport,
  p: { clientId: string; clientSecret: string; refreshAuthDataToken: string; accessToken: string },
): Promise<KisGateway> {
  const data = await authPost(
    t,
    "user/refresh_auth_data",
    { client_id: p.clientId, client_secret: p.clientSecret },
    { refresh_auth_data_token: p.refreshAuthDataToken, access_token: p.accessToken },
    [p.refreshAuthDataToken, p.accessToken],
  );
  return gatewayFrom(data, "user/refresh_auth_data", t.clock.now());
}

/** The TokenSet the client keeps under "kis" (see KisClient for the layout). */
export function kisTokenSet(login: KisLogin, gateway: KisGateway): TokenSet {
  const extra: Record<string, string> = {
    authData: gateway.authData,
    gwRouterAddr: gateway.gwRouterAddr,
    sessionId: login.sessionId,
  };
  if (login.sessionSecret) extra.sessionSecret = login.sessionSecret;
  if (gateway.refreshAuthDataToken) extra.refreshAuthDataToken = gateway.refreshAuthDataToken;
  if (gateway.refreshAuthDataTokenExpiresAt) extra.refreshAuthDataTokenExpiresAt = String(gateway.refreshAuthDataTokenExpiresAt);
  if (gateway.authDataExpiresAt) extra.authDataExpiresAt = String(gateway.authDataExpiresAt);
  return {
    accessToken: login.accessToken,
    ...(login.accessTokenExpiresAt ? { expiresAt: login.accessTokenExpiresAt } : {}),
    ...(login.sessionExpiresAt ? { refreshExpiresAt: login.sessionExpiresAt } : {}),
    extra,
  };
}

/**
 * Walks route 1 end to end for a CLI: exchanges the code, then picks the 账套 and app (the chooser callbacks let a
 * CLI ask the user; by default the only/first one). Returns the TokenSet plus the values for the KIS_* variables.
 */
export async function bootstrapWithCode(
  t: KisAuthTransport,
  p: {
    clientId: string;
    clientSecret: string;
    code: string;
    chooseAccount?: (accounts: KisAccount[]) => KisAccount | Promise<KisAccount>;
    chooseApp?: (apps: KisAccountApp[]) => KisAccountApp | Promise<KisAccountApp>;
  },
): Promise<{ tokens: TokenSet; account: KisAccount; app: KisAccountApp; env: Record<string, string> }> {
  const login = await exchangeAuthorizationCode(t, p);
  const base = { accessToken: login.accessToken, sessionId: login.sessionId, ...(login.sessionSecret ? { sessionSecret: login.sessionSecret } : {}) };
  const accounts = await listAccounts(t, base);
  if (accounts.length === 0) throw new KisBadResponseError(200, "KIS user/account listed no 账套 for this user", { retryable: false });
  const account = p.chooseAccount ? await p.chooseAccount(accounts) : accounts[0]!;
  const apps = await listAccountApps(t, { ...base, clientId: p.clientId, acctnumber: account.acctnumber, pid: account.pid });
  if (apps.length === 0)
    throw new KisBadResponseError(200, "KIS user/account_applist listed no app for this 账套: subscribe the app first", { retryable: false });
  const app = p.chooseApp ? await p.chooseApp(apps) : apps[0]!;
  const gateway = await getServiceGateway(t, { ...base, acctnumber: account.acctnumber, pid: account.pid, icrmid: app.icrmid });
  const tokens = kisTokenSet(login, gateway);
  const env: Record<string, string> = {
    KIS_ACCESS_TOKEN: login.accessToken,
    KIS_SESSION_ID: login.sessionId,
    KIS_AUTH_DATA: gateway.authData,
    KIS_GW_ROUTER_ADDR: gateway.gwRouterAddr,
  };
  if (gateway.refreshAuthDataToken) env.KIS_REFRESH_AUTH_DATA_TOKEN = gateway.refreshAuthDataToken;
  return { tokens, account, app, env };
}
