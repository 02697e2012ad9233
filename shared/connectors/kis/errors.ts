/**
 * Typed errors of the KIS koas gateway and the rules that classify an answer into one of them.
 *
 * Wire facts (docs tplus-kis-api.md B3): the envelope is `{errcode, description, data}`, success is errcode 0,
 * and 10201 wraps every business failure as "业务接口返回失败结果，失败原因：<reason>". Everything else here is
 * UNCERTAIN and therefore data: the auth-error matcher, the duplicate-bill patterns and the throttling statuses
 * can all be replaced through KisClientOptions.
 */
import { BridgeError } from "../../errors.ts";
import { MIN_SECRET_LENGTH, REDACTED, Redactor } from "../../security/redact.ts";

/** Which credential an auth error points at; "unknown" refreshes everything that can be refreshed. */
export type KisCredential = "access_token" | "auth_data" | "session" | "unknown";

/** What a 10201 (or other non-auth errcode) reason says. All are permanent: resending the same body fails again. */
export type KisFailureKind =
  | "invalid_json" // 请求参数转换成JSON对象异常: the body was not JSON
  | "duplicate_bill" // the bill number exists: idempotent writes turn it into "already_exists"
  | "reference_not_found" // material / unit / stock … not in KIS master data
  | "account_db" // 账套 (AccountDB) missing or unknown
  | "validation" // a field is missing or malformed
  | "not_found" // unknown API path or bill id
  | "unknown";

export class KisBusinessError extends BridgeError {
  readonly errcode: number;
  readonly kind: KisFailureKind;
  /** The server's reason, with secrets and echoed AuthData removed. */
  readonly reason: string;
  constructor(errcode: number, kind: KisFailureKind, reason: string, options: { hint?: string; details?: Record<string, unknown> } = {}) {
    super(kind === "duplicate_bill" ? "kis_duplicate_bill" : "kis_business_error", `KIS rejected the request (errcode ${errcode}, ${kind}): ${reason}`, {
      retryable: false,
      hint: options.hint ?? HINTS[kind],
      details: { errcode, kind, reason, ...options.details },
    });
    this.errcode = errcode;
    this.kind = kind;
    this.reason = reason;
  }
}

/** The bill number is already taken: for a deterministic key this means "already written". */
export class KisDuplicateBillError extends KisBusinessError {
  constructor(errcode: number, reason: string, details?: Record<string, unknown>) {
    super(errcode, "duplicate_bill", reason, details ? { details } : {});
  }
}

export class KisAuthError extends BridgeError {
  readonly credential: KisCredential;
  readonly errcode: number | undefined;
  constructor(credential: KisCredential, message: string, options: { errcode?: number; hint?: string; httpStatus?: number } = {}) {
    super("kis_auth_failed", message, {
      retryable: false,
      hint:
        options.hint ??
        "The KIS credentials were rejected. The client refreshes once on its own; if this persists, re-run the KIS authorization " +
          "(docs/targets-kis.md) and update KIS_ACCESS_TOKEN / KIS_AUTH_DATA / KIS_GW_ROUTER_ADDR / KIS_SESSION_ID / KIS_REFRESH_AUTH_DATA_TOKEN.",
      details: { credential, errcode: options.errcode, httpStatus: options.httpStatus },
    });
    this.credential = credential;
    this.errcode = options.errcode;
  }
}

/** HTTP 429/503 (UNCERTAIN: KIS documents no limit). Retryable; `retryAfterMs` from Retry-After when given. */
export class KisThrottledError extends BridgeError {
  readonly retryAfterMs: number | undefined;
  constructor(httpStatus: number, retryAfterMs?: number) {
    super("kis_throttled", `KIS is throttling requests (HTTP ${httpStatus})`, {
      retryable: true,
      hint: "Lower the flow's write concurrency or rate; the run retries with backoff.",
      details: { httpStatus, retryAfterMs },
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The request may or may not have reached KIS: timeout, connection failure, HTTP 5xx. Retryable, but for a write
 * the outcome is unknown, so the writer checks for the bill before sending again.
 */
export class KisTransportError extends BridgeError {
  readonly kind: "timeout" | "network" | "http_5xx";
  readonly httpStatus: number | undefined;
  constructor(kind: "timeout" | "network" | "http_5xx", message: string, httpStatus?: number) {
    super("kis_unavailable", message, {
      retryable: true,
      hint: "KIS or the network did not answer properly; the run retries. A write whose answer was lost is checked before it is resent.",
      details: { kind, httpStatus, outcome: "unknown" },
    });
    this.kind = kind;
    this.httpStatus = httpStatus;
  }
}

/** The body was not the JSON envelope (an HTML error page, a proxy login page, truncated text). */
export class KisBadResponseError extends BridgeError {
  readonly httpStatus: number;
  constructor(httpStatus: number, message: string, options: { retryable: boolean; snippet?: string; contentType?: string | null }) {
    super("kis_bad_response", message, {
      retryable: options.retryable,
      hint: options.retryable
        ? "Usually a gateway or proxy error page; the run retries. If it persists, check KIS_BASE_URL and the gateway status."
        : "Check KIS_BASE_URL (it must be the koas gateway origin, e.g. https://api.kingdee.com) and the API path.",
      details: { httpStatus, contentType: options.contentType ?? undefined, snippet: options.snippet, outcome: "unknown" },
    });
    this.httpStatus = httpStatus;
  }
}

/** Paging went wrong: the server repeated a page, or there were more pages than the cap allows. */
export class KisPagingError extends BridgeError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("kis_paging", message, { retryable: false, hint, details });
  }
}

/** The writer could not establish whether a bill exists, so it refuses to send it (again). */
export class KisLookupError extends BridgeError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("kis_lookup_failed", message, { retryable: false, hint, details });
  }
}

const HINTS: Record<KisFailureKind, string> = {
  invalid_json: "The request body reached KIS as something other than JSON; check proxies between the bridge and KIS.",
  duplicate_bill: "A bill with this number already exists in KIS.",
  reference_not_found:
    "A referenced master-data item (material FItemID, unit FUnitID, stock FDCStockID …) does not exist in this KIS account: " +
    "refresh the reference tables (Material/List, Stock/List) and check the flow's lookups.",
  account_db: "Set KIS_ACCOUNT_DB to the private-cloud 账套 database name (ask the KIS administrator).",
  validation: "The flow produced a bill KIS does not accept; fix the mapping for the field named in the reason.",
  not_found: "The API path or the bill id does not exist; check the operation name and the KIS edition.",
  unknown: "See the reason text from KIS.",
};

// ---------------------------------------------------------------------------------------------------------------
// Classification

export interface KisErrorContext {
  httpStatus: number;
  errcode: number;
  description: string;
}

/**
 * Decides whether an answer is an auth failure, and which credential it is about. UNCERTAIN: no KIS document lists
 * the gateway's auth errcodes. The default accepts the WeChat-style codes one SDK retries on (40001, 40014, 42001,
 * 41001 from S6) and descriptions that name a token/auth data/session together with 过期/失效/无效/invalid/expired.
 * Replace it through KisClientOptions.authErrorMatcher once the real codes are known.
 */
export type KisAuthErrorMatcher = (ctx: KisErrorContext) => KisCredential | null;

const EXPIRED_OR_INVALID = /(过期|失效|无效|不合法|非法|错误|不正确|expired|invalid|illegal)/i;

export const defaultKisAuthErrorMatcher: KisAuthErrorMatcher = ({ httpStatus, errcode, description }) => {
  if (JSON_PARSE_FAILURE.test(description)) return null; // its text echoes "AuthData" but it is a body problem
  const d = description;
  const namesAuthData = /(auth[_-]?data|授权数据|KIS-AuthData)/i.test(d);
  const namesAccessToken = /(access[_-]?token|访问令牌|令牌)/i.test(d);
  const namesSession = /(session|会话|登录状态|登录已)/i.test(d);
  if (EXPIRED_OR_INVALID.test(d)) {
    if (namesAuthData) return "auth_data";
    if (namesAccessToken) return "access_token";
    if (namesSession) return "session";
  }
  if (errcode === 42001 || errcode === 40014 || errcode === 41001) return namesAuthData ? "auth_data" : "access_token";
  if (errcode === 40001) return namesAuthData ? "auth_data" : "unknown";
  if (httpStatus === 401) return "unknown";
  return null;
};

/** Texts meaning "this bill number already exists" (UNCERTAIN wording; configurable). */
export const DEFAULT_DUPLICATE_BILL_PATTERNS: RegExp[] = [
  // Only the bill number: a line-level "第2行物料编号…重复" or "序列号编号…已存在" is a business error, not our bill.
  /(单据编号|单据号|FBillNo)[^，。,;；]{0,60}(已存在|已经存在|重复|已被使用)/i,
  /(已存在|重复)[^，。,;；]{0,20}(单据编号|单据号|FBillNo)/i,
  /duplicate[^.]{0,40}(bill|number|FBillNo)/i,
];

const JSON_PARSE_FAILURE = /请求参数转换成JSON对象异常|ParseRequestContent/;
const REFERENCE_NOT_FOUND =
  /((物料|商品|计量单位|单位|仓库|仓位|供应商|客户|部门|职员|业务员|核算项目)[^，。,;；]{0,40}(不存在|找不到|未找到|无效|已禁用))|((不存在|找不到|未找到)[^，。,;；]{0,10}(物料|计量单位|仓库|仓位|供应商|部门|职员))/;
const ACCOUNT_DB = /(账套|AccountDB|AccountDb)/;
const VALIDATION = /(必须|不能为空|必填|格式不正确|格式错误|不正确|不合法|非法|不允许|超出|不能|must|required|invalid)/i;

/** The part after 失败原因： (full-width or ASCII colon), or the whole text. */
export function innerReason(description: string): string {
  const m = /失败原因\s*[:：]\s*([\s\S]*)$/.exec(description);
  return (m?.[1] ?? description).trim();
}

export function classifyFailure(reason: string, duplicatePatterns: readonly RegExp[], httpStatus = 200): KisFailureKind {
  if (JSON_PARSE_FAILURE.test(reason)) return "invalid_json";
  if (duplicatePatterns.some((p) => p.test(reason))) return "duplicate_bill";
  if (REFERENCE_NOT_FOUND.test(reason)) return "reference_not_found";
  if (ACCOUNT_DB.test(reason)) return "account_db";
  if (httpStatus === 404 || /(接口不存在|单据不存在|not found)/i.test(reason)) return "not_found";
  if (VALIDATION.test(reason)) return "validation";
  return "unknown";
}

/** Builds the error for a non-zero errcode that is not an auth failure. */
export function businessError(ctx: KisErrorContext, duplicatePatterns: readonly RegExp[], redact: (s: string) => string): KisBusinessError {
  const raw = innerReason(ctx.description);
  const kind = classifyFailure(raw, duplicatePatterns, ctx.httpStatus);
  // The JSON-parse failure echoes the forwarded AuthData (EID, Sign …): keep only the verdict.
  const reason = kind === "invalid_json" ? "请求参数转换成JSON对象异常 (the request body is not valid JSON)" : redact(raw);
  if (kind === "duplicate_bill") return new KisDuplicateBillError(ctx.errcode, reason, { httpStatus: ctx.httpStatus });
  return new KisBusinessError(ctx.errcode, kind, reason, { details: { httpStatus: ctx.httpStatus } });
}

/**
 * Removes secrets from server text before it goes into an error: every known secret value, and any echoed
 * `AuthData:{…}` / `Sign:"…"` fragment (the 10201 JSON-parse text quotes the forwarded auth block).
 */
export function redactor(secrets: () => Array<string | undefined>): TextRedactor {
  const build = (text: string) => {
    const out = text.replace(/AuthData\s*:\s*\{[^{}]*(\{[^{}]*\}[^{}]*)*\}/gi, "AuthData:{…}").replace(/(Sign|Signature|Token)\s*[:=]\s*"[^"]*"/gi, '$1:"…"');
    const known = new Redactor();
    let literal = out;
    for (const s of secrets()) {
      if (s && s.length >= 4 && s.length < MIN_SECRET_LENGTH) literal = literal.split(s).join(REDACTED);
      known.add(s);
    }
    return { text: literal, known };
  };
  // The one redactor's forms, and a cut that never keeps a secret's start.
  const redact = (text: string) => {
    const { text: t, known } = build(text);
    return known.cut(t, 500);
  };
  return Object.assign(redact, {
    cut: (text: string, max: number) => {
      const { text: t, known } = build(text);
      return known.cut(t, max);
    },
  });
}

/** Redacts server text; `cut` redacts and cuts to a length without leaving a secret's start. */
export type TextRedactor = ((text: string) => string) & { cut?: (text: string, max: number) => string };
