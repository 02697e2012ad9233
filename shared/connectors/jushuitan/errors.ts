/**
 * Typed Jushuitan errors. Each carries the numeric platform code in `details.jstCode` (when there is one),
 * the path in `details.path`, and a hint saying what the user should do. Messages are built from codes,
 * paths and the server's own `msg` only: never from tokens, secrets or signatures.
 */
import { BridgeError, type BridgeErrorOptions } from "../../errors.ts";

export interface JstErrorContext {
  path: string;
  jstCode?: number;
  serverMessage?: string;
  httpStatus?: number;
  /** True when the failing call was the token endpoint itself (150 then means "ISV may not refresh"). */
  tokenEndpoint?: boolean;
}

function details(ctx: JstErrorContext, extra?: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = { path: ctx.path };
  if (ctx.jstCode !== undefined) d.jstCode = ctx.jstCode;
  if (ctx.serverMessage !== undefined) d.serverMessage = ctx.serverMessage;
  if (ctx.httpStatus !== undefined) d.httpStatus = ctx.httpStatus;
  return { ...d, ...extra };
}

function describeFailure(ctx: JstErrorContext, what: string): string {
  const code = ctx.jstCode !== undefined ? ` (code ${ctx.jstCode}${ctx.serverMessage ? `: ${ctx.serverMessage}` : ""})` : "";
  return `Jushuitan ${ctx.path}: ${what}${code}`;
}

/** Base class: every Jushuitan failure is one of these. */
export class JstError extends BridgeError {
  readonly jstCode: number | undefined;
  constructor(code: string, ctx: JstErrorContext, what: string, options: BridgeErrorOptions = {}) {
    super(code, describeFailure(ctx, what), { ...options, details: details(ctx, options.details) });
    this.jstCode = ctx.jstCode;
  }
}

export class JstSignError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_invalid_sign", ctx, "the request signature was rejected", {
      hint: "check JST_APP_KEY and JST_APP_SECRET: they must be the pair shown for this app in the openweb console (开放平台 → 应用管理)",
    });
  }
}

export class JstTokenError extends JstError {
  constructor(ctx: JstErrorContext, hint?: string) {
    super("jst_token_invalid", ctx, "the access_token is invalid or expired", {
      hint: hint ?? "refresh the token (the client does this when it has a refresh token) or re-authorize the app and set JST_ACCESS_TOKEN / JST_REFRESH_TOKEN",
    });
  }
}

export class JstIpNotWhitelistedError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_ip_not_whitelisted", ctx, "the caller's IP address is not whitelisted", {
      hint: "add the egress IP of the Worker / runner to the app's IP whitelist in the openweb console (开放平台 → 应用管理 → IP白名单), or disable the whitelist",
    });
  }
}

export class JstPermissionError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_no_permission", ctx, "the app has no permission for this API", {
      hint: `apply for the API permission package that contains ${ctx.path} in the openweb console (开放平台 → 应用管理 → API权限) and wait for approval`,
    });
  }
}

export class JstThrottledError extends JstError {
  readonly scope: "second" | "minute";
  constructor(ctx: JstErrorContext, scope: "second" | "minute") {
    super("jst_throttled", ctx, scope === "second" ? "too many requests per second" : "too many requests per minute", {
      retryable: true,
      hint: "lower the client's rate limits (limits.perSecond / limits.perMinute) or stop other programs that use the same app_key",
      details: { scope },
    });
    this.scope = scope;
  }
}

export class JstParamError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_invalid_params", ctx, "the request parameters were rejected", {
      hint: "check the flow's source parameters against the endpoint's documentation: windows of at most 7 days, page_size within the endpoint maximum, ids as arrays or comma strings as the endpoint expects",
    });
  }
}

export class JstTimestampError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_invalid_timestamp", ctx, "the request timestamp was rejected", {
      hint: "the host clock differs from Jushuitan's by more than 10 minutes: synchronise the clock (NTP)",
    });
  }
}

export class JstRefreshForbiddenError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_refresh_forbidden", ctx, "this app may not refresh its access_token", {
      hint: "ISV (third-party) apps cannot refresh tokens since 2023-08-15: have the merchant authorize again and set the new JST_ACCESS_TOKEN",
    });
  }
}

export class JstBusinessError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_business_error", ctx, "the request failed", {
      hint: "read the server message; if it persists, check the request in the openweb API test tool",
    });
  }
}

/** The body was not the JSON envelope (an HTML gateway page, a truncated body …). */
export class JstBadResponseError extends JstError {
  /** `bodySnippet` undefined: no excerpt (a token endpoint's answer carries tokens, never quoted). */
  constructor(ctx: JstErrorContext, bodySnippet: string | undefined) {
    const transient = (ctx.httpStatus ?? 0) >= 500;
    super("jst_bad_response", ctx, `the answer is not a JSON envelope (HTTP ${ctx.httpStatus ?? "?"})`, {
      retryable: transient,
      hint: transient
        ? "a gateway in front of Jushuitan failed; the call is retried, and if it persists check https://openweb.jushuitan.com status"
        : "check JST_BASE_URL: it must be the API host (https://openapi.jushuitan.com, sandbox https://dev-api.jushuitan.com)",
      ...(bodySnippet !== undefined ? { details: { bodySnippet } } : {}),
    });
  }
}

export class JstHttpError extends JstError {
  constructor(ctx: JstErrorContext) {
    const status = ctx.httpStatus ?? 0;
    super("jst_http_error", ctx, `HTTP ${status}`, {
      retryable: status >= 500 || status === 429,
      hint:
        status >= 500
          ? "Jushuitan or its gateway failed; the call is retried, and the next run resumes from the saved cursor"
          : "check JST_BASE_URL and the endpoint path",
    });
  }
}

export class JstNetworkError extends JstError {
  constructor(ctx: JstErrorContext, cause: unknown) {
    super("jst_network_error", ctx, "the request did not reach Jushuitan", {
      retryable: true,
      cause,
      hint: "check network access to JST_BASE_URL from this host; the call is retried",
      details: { reason: cause instanceof Error ? cause.message : String(cause) },
    });
  }
}

export class JstTimeoutError extends JstError {
  constructor(ctx: JstErrorContext, timeoutMs: number) {
    super("jst_timeout", ctx, `no answer within ${timeoutMs} ms`, {
      retryable: true,
      hint: "Jushuitan answered too slowly; the call is retried. Raise timeoutMs if large pages time out regularly",
      details: { timeoutMs },
    });
  }
}

/** Paging would loop or run away: the server repeated a page or a window has more pages than the cap. */
export class JstPagingError extends JstError {
  constructor(ctx: JstErrorContext, what: string, extra: Record<string, unknown>) {
    super("jst_paging_stuck", ctx, what, {
      hint: "the endpoint ignores paging or the data changes faster than it can be read: use a smaller window or the cursor (start_ts) mode",
      details: extra,
    });
  }
}

/** No token is configured at all. */
export class JstNotAuthorizedError extends JstError {
  constructor(ctx: JstErrorContext) {
    super("jst_not_authorized", ctx, "no access_token is available", {
      hint: "set JST_ACCESS_TOKEN (and JST_REFRESH_TOKEN), or run the authorization bootstrap (getInitToken for a self-developed app)",
    });
  }
}

const PARAM_WORDS = /参数|param|不能为空|不能超过|格式|无效的|不存在|必须|invalid|required|page_size|modified|日期|时间/i;

/** Maps a non-zero envelope code (and message) to its typed error. */
export function errorForCode(ctx: JstErrorContext & { jstCode: number }): JstError {
  const msg = ctx.serverMessage ?? "";
  switch (ctx.jstCode) {
    case 10:
    case 120: // a legacy table lists 120 for the signature error
      return new JstSignError(ctx);
    case 100:
      return new JstTokenError(ctx);
    case 110:
      return new JstIpNotWhitelistedError(ctx);
    case 190:
      return new JstPermissionError(ctx);
    case 199:
      return new JstThrottledError(ctx, "second");
    case 200:
      return new JstThrottledError(ctx, "minute");
    case 180:
      return new JstTimestampError(ctx);
    case 150:
      // Two code tables disagree: 150 is "ISV may not refresh" (new) or "internal error" (old).
      if (ctx.tokenEndpoint || /刷新|refresh/i.test(msg)) return new JstRefreshForbiddenError(ctx);
      return new JstBusinessError(ctx);
    case 140:
      if (/timestamp/i.test(msg)) return new JstTimestampError(ctx);
      return new JstParamError(ctx);
    default:
      if (/access_token/i.test(msg) && /过期|无效|expired|invalid/i.test(msg)) return new JstTokenError(ctx);
      if (PARAM_WORDS.test(msg)) return new JstParamError(ctx);
      return new JstBusinessError(ctx);
  }
}
