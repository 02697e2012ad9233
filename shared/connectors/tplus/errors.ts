/**
 * Typed T+ errors and the one function that turns an HTTP answer into a value or a TplusError.
 * Both transports (cloud gateway, on-prem) answer with the same shapes, so classification lives here.
 * Messages are built from codes, paths and (scrubbed, truncated) server messages only: never secrets.
 */
import { BridgeError } from "../../errors.ts";
import type { BridgeErrorOptions } from "../../errors.ts";
import { MIN_SECRET_LENGTH, REDACTED, Redactor } from "../../security/redact.ts";

/** Whether the request may have changed data on the server. Writes use it to decide whether to look before retrying. */
export type TplusOutcome = "not_applied" | "unknown";

export interface TplusErrorOptions extends BridgeErrorOptions {
  httpStatus?: number;
  tplusCode?: string;
  outcome?: TplusOutcome;
  /** Server-suggested wait before retrying (throttling). */
  retryAfterMs?: number;
}

export class TplusError extends BridgeError {
  readonly httpStatus: number | undefined;
  readonly tplusCode: string | undefined;
  readonly outcome: TplusOutcome;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: TplusErrorOptions = {}) {
    super(code, message, {
      ...options,
      details: {
        system: "tplus",
        ...(options.httpStatus !== undefined ? { httpStatus: options.httpStatus } : {}),
        ...(options.tplusCode !== undefined ? { tplusCode: options.tplusCode } : {}),
        outcome: options.outcome ?? "not_applied",
        ...options.details,
      },
    });
    this.httpStatus = options.httpStatus;
    this.tplusCode = options.tplusCode;
    this.outcome = options.outcome ?? "not_applied";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * An error raised while getting a token, before the business request was sent: whatever happened to the
 * token call, the document itself was certainly not written, so a write must not treat it as an unknown outcome.
 */
export function beforeSend(error: unknown): unknown {
  if (!(error instanceof TplusError) || error.outcome === "not_applied") return error;
  return new TplusError(error.code, error.message, {
    httpStatus: error.httpStatus,
    tplusCode: error.tplusCode,
    retryable: error.retryable,
    hint: error.hint,
    retryAfterMs: error.retryAfterMs,
    outcome: "not_applied",
    cause: error,
    details: { ...error.details, outcome: "not_applied", phase: "token" },
  });
}

/** Stable BridgeError codes raised by the T+ connector. */
export const TPLUS_ERROR = {
  /** 50000: wrong appSecret / openToken, or unknown API path (gateway 系统错误). */
  auth: "tplus_auth",
  /** 50112 with HTTP 401: the monthly call quota (流量包) of this appKey+org is used up. */
  quota: "tplus_quota",
  /** 50112 with HTTP 403: the token was issued to another appKey. */
  appKeyMismatch: "tplus_appkey_mismatch",
  /** HTTP 409 `{"error":…}`: gateway protective throttling. */
  throttled: "tplus_throttled",
  /** 14002 请求太快: token endpoint called too fast. */
  tooFast: "tplus_too_fast",
  /** EXSV0011 服务名不正确: API not enabled for the app, or unknown service. */
  apiNotEnabled: "tplus_api_not_enabled",
  /** The ExternalCode is already booked: idempotent writes turn this into "already_exists". */
  duplicate: "tplus_duplicate",
  /** Any other `{code,message}` answer: the server looked at the document and refused it. */
  business: "tplus_business",
  /** The access token / login session is not accepted (on-prem EXSM0003 and similar). */
  tokenInvalid: "tplus_token_invalid",
  /** The refresh or login itself failed: a person has to re-authorize. */
  refreshFailed: "tplus_refresh_failed",
  loginFailed: "tplus_login_failed",
  tokenPersistFailed: "tplus_token_persist_failed",
  /** The server answered something that is not the T+ API (HTML login page, proxy error page…). */
  nonJson: "tplus_non_json",
  /** HTTP 5xx without a T+ error body. */
  server: "tplus_server",
  network: "tplus_network",
  timeout: "tplus_timeout",
  http: "tplus_http",
} as const;

/**
 * Recognises "this ExternalCode is already booked". The real code and text are not documented (UNCERTAIN),
 * so both a code list and a message pattern are configurable; the default pattern wants the field name
 * (外部单据号 / ExternalCode) and a duplicate word (已存在 / 重复) in either order.
 */
export interface DuplicateMatcher {
  codes?: string[];
  pattern?: RegExp;
}

export const DEFAULT_DUPLICATE_PATTERN =
  /(外部单据号|外部单号|ExternalCode)[\s\S]{0,80}(已存在|重复|already exists|duplicate)|(已存在|重复|duplicate)[\s\S]{0,80}(外部单据号|外部单号|ExternalCode)/i;

export function isDuplicateAnswer(code: string, message: string, matcher: DuplicateMatcher = {}): boolean {
  if (matcher.codes?.includes(code)) return true;
  return (matcher.pattern ?? DEFAULT_DUPLICATE_PATTERN).test(message);
}

/**
 * On-prem login/token failures. EXSM0003 (提供令牌信息不正确) is CONFIRMED; the neighbours are UNCERTAIN, so any
 * EXSM code whose message talks about the token (令牌/token/过期/登录) also counts. EXSM0004 (already logged in) does not.
 */
export const DEFAULT_TOKEN_ERROR_CODES = ["EXSM0003"];
export function isTokenAnswer(code: string, message: string, codes: string[] = DEFAULT_TOKEN_ERROR_CODES): boolean {
  if (codes.includes(code)) return true;
  return /^EXSM/i.test(code) && code !== "EXSM0004" && /令牌|token|过期|未登录|重新登录/i.test(message);
}

/** Replaces every known secret in server-provided text, and keeps it short. */
export function scrub(text: string, secrets: readonly string[], max = 300): string {
  // The one redactor's forms and cut (a cut never leaves a secret's start); short values literally first.
  const redactor = new Redactor();
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4 && s.length < MIN_SECRET_LENGTH) out = out.split(s).join(REDACTED);
    redactor.add(s);
  }
  return redactor.cut(out, max);
}

export interface AnswerContext {
  /** API path for messages, e.g. "otherDispatch/Create" (never a URL with query secrets). */
  path: string;
  httpStatus: number;
  bodyText: string;
  retryAfterHeader?: string | null;
  duplicate?: DuplicateMatcher;
  tokenErrorCodes?: string[];
  secrets?: readonly string[];
  /** A token endpoint's answer: holds newly issued tokens, so it is never quoted in an error. */
  tokenAnswer?: boolean;
}

export type Answer = { ok: true; value: unknown } | { ok: false; error: TplusError };

const SUCCESS_CODES = new Set(["0", "200"]);
const NOT_JSON = Symbol("not-json");

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 120_000);
  return undefined;
}

function codeOf(value: unknown): string {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number") return String(value);
  return "";
}

/** Builds the typed error for a `{code,message}` answer. Exported so batch item errors classify the same way. */
export function errorForCode(code: string, rawMessage: string, ctx: Omit<AnswerContext, "bodyText">): TplusError {
  const message = scrub(rawMessage, ctx.secrets ?? []);
  const base = { httpStatus: ctx.httpStatus, tplusCode: code, details: { path: ctx.path } };
  const where = `T+ ${ctx.path}`;
  if (code === "50000") {
    const unknownPath = ctx.httpStatus === 404;
    return new TplusError(TPLUS_ERROR.auth, `${where}: gateway refused the call (50000, HTTP ${ctx.httpStatus}): ${message}`, {
      ...base,
      hint: unknownPath
        ? "The gateway does not know this API path: check TPLUS_BASE_URL and the resource/method name."
        : "Check TPLUS_APP_KEY / TPLUS_APP_SECRET; the openToken may be wrong or expired (the connector refreshes once), or re-authorize to get a new TPLUS_REFRESH_TOKEN.",
    });
  }
  if (code === "50112") {
    if (ctx.httpStatus === 403) {
      return new TplusError(TPLUS_ERROR.appKeyMismatch, `${where}: the token belongs to another appKey (50112, HTTP 403)`, {
        ...base,
        hint: "The openToken was obtained with a different appKey: use the TPLUS_APP_KEY that the token was issued to, or re-authorize with this app.",
      });
    }
    return new TplusError(TPLUS_ERROR.quota, `${where}: monthly API quota used up (50112): ${message}`, {
      ...base,
      hint: "The 流量包 for this appKey and organisation is spent; buy more traffic in the Chanjet open platform or wait for next month. Retrying does not help.",
    });
  }
  if (code === "14002") {
    return new TplusError(TPLUS_ERROR.tooFast, `${where}: token endpoint called too fast (14002)`, { ...base, retryable: true, retryAfterMs: 2000 });
  }
  if (code.toUpperCase() === "EXSV0011") {
    return new TplusError(TPLUS_ERROR.apiNotEnabled, `${where}: service not available (EXSV0011): ${message}`, {
      ...base,
      // UNCERTAIN: EXSV0011 means "service name not found / API not enabled for the app"; one source also saw it while throttled.
      hint: "Enable this API for your app in the Chanjet open platform (应用 → 接口权限) and check the resource name. It has also been reported while throttled: if it is enabled, try again later.",
    });
  }
  if (code === "500") {
    return new TplusError(TPLUS_ERROR.server, `${where}: server error (500): ${message}`, { ...base, retryable: true, outcome: "unknown" });
  }
  if (isDuplicateAnswer(code, rawMessage, ctx.duplicate)) {
    return new TplusError(TPLUS_ERROR.duplicate, `${where}: external code already booked (${code}): ${message}`, base);
  }
  if (isTokenAnswer(code, rawMessage, ctx.tokenErrorCodes)) {
    return new TplusError(TPLUS_ERROR.tokenInvalid, `${where}: token not accepted (${code}): ${message}`, {
      ...base,
      hint: "The T+ login session is no longer valid; the connector logs in again once. If it persists, check TPLUS_USER / TPLUS_PASSWORD / TPLUS_ACCOUNT.",
    });
  }
  return new TplusError(TPLUS_ERROR.business, `${where}: rejected (${code}): ${message}`, {
    ...base,
    hint: "T+ refused the document; fix the data or mapping named in the message (codes of inventory, warehouse, voucher type, dates) and sync again.",
  });
}

/**
 * Turns one HTTP answer into a value or a typed error. Success bodies are `null`, empty, a quoted id, an array
 * (queries) or an object; errors are `{code,message}` with a non-empty code at any HTTP status (UNCERTAIN:
 * on-prem raises them with 4xx/5xx, the cloud gateway with 4xx or 200 — both are read the same way).
 */
export function readAnswer(ctx: AnswerContext): Answer {
  const { httpStatus: status, path } = ctx;
  const text = ctx.bodyText.trim();
  const parsed = text === "" ? null : parseBody(text);
  const where = `T+ ${path}`;

  if (status === 409 || status === 429) {
    const serverText = parsed !== NOT_JSON && parsed && typeof parsed === "object" ? codeOf((parsed as Record<string, unknown>).error) : "";
    return {
      ok: false,
      error: new TplusError(
        TPLUS_ERROR.throttled,
        `${where}: throttled by the gateway (HTTP ${status})${serverText ? `: ${scrub(serverText, ctx.secrets ?? [])}` : ""}`,
        {
          httpStatus: status,
          retryable: true,
          retryAfterMs: retryAfterMs(ctx.retryAfterHeader) ?? 1000,
          details: { path },
          hint: "Too many calls per second for this app; the connector backs off. Lower the flow's write concurrency if it keeps happening.",
        },
      ),
    };
  }

  if (parsed !== NOT_JSON && parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
    const obj = parsed as Record<string, unknown>;
    const code = codeOf(obj.code);
    if (code !== "" && !SUCCESS_CODES.has(code)) {
      const message = codeOf(obj.message) || codeOf(obj.msg) || codeOf(obj.error) || "(no message)";
      return { ok: false, error: errorForCode(code, message, ctx) };
    }
    if (code === "" && status >= 400 && typeof obj.error === "string") {
      // Gateway-style `{"error":…}` outside 409: not a document answer.
      if (status < 500) {
        return {
          ok: false,
          error: new TplusError(TPLUS_ERROR.http, `${where}: HTTP ${status}: ${scrub(obj.error, ctx.secrets ?? [])}`, {
            httpStatus: status,
            details: { path },
          }),
        };
      }
    }
  }

  const failed = statusAnswer(status, where, path);
  if (failed) return failed;

  if (parsed === NOT_JSON) {
    // UNCERTAIN: some creates may answer a bare id without quotes; accept one short token, refuse pages of text/HTML.
    if (/^[A-Za-z0-9_.\-]{1,64}$/.test(text)) return { ok: true, value: text };
    const looksHtml = text.startsWith("<");
    return {
      ok: false,
      error: new TplusError(TPLUS_ERROR.nonJson, `${where}: the server answered ${looksHtml ? "HTML" : "text"} instead of JSON (HTTP ${status})`, {
        httpStatus: status,
        // A proxy or login page may sit in front of a server that did process the call.
        outcome: "unknown",
        details: ctx.tokenAnswer ? { path } : { path, bodyStart: scrub(text, ctx.secrets ?? [], 80) },
        hint: "TPLUS_BASE_URL probably points at a web page, proxy or login screen rather than the T+ OpenAPI; check the address and that the OpenAPI service is enabled.",
      }),
    };
  }
  return { ok: true, value: parsed };
}

/** An answer whose HTTP status alone decides it (5xx, 401/403, 404, other 4xx, non-2xx), once no T+ error body did. */
function statusAnswer(status: number, where: string, path: string): Answer | undefined {
  if (status >= 500) {
    return {
      ok: false,
      error: new TplusError(TPLUS_ERROR.server, `${where}: server error HTTP ${status}`, {
        httpStatus: status,
        retryable: true,
        // A 5xx without a T+ error body may come after the document was committed.
        outcome: "unknown",
        details: { path },
      }),
    };
  }
  if (status === 401 || status === 403) {
    return {
      ok: false,
      error: new TplusError(TPLUS_ERROR.auth, `${where}: not authorized (HTTP ${status})`, {
        httpStatus: status,
        details: { path },
        hint: "Check TPLUS_APP_KEY / TPLUS_APP_SECRET and the token (cloud) or the private key, org id and login (on-prem).",
      }),
    };
  }
  if (status === 404) {
    return {
      ok: false,
      error: new TplusError(TPLUS_ERROR.http, `${where}: not found (HTTP 404)`, {
        httpStatus: status,
        details: { path },
        hint: "Check TPLUS_BASE_URL (cloud: https://openapi.chanjet.com; on-prem: http(s)://host:port of the T+ server) and the API name.",
      }),
    };
  }
  if (status >= 400) {
    return { ok: false, error: new TplusError(TPLUS_ERROR.http, `${where}: HTTP ${status}`, { httpStatus: status, details: { path } }) };
  }
  if (status < 200 || status >= 300) {
    return { ok: false, error: new TplusError(TPLUS_ERROR.http, `${where}: unexpected HTTP ${status}`, { httpStatus: status, details: { path } }) };
  }
  return undefined;
}
