/**
 * HTTP plumbing shared by the API and the dashboard: one JSON error envelope, bearer-token and session
 * cookie authentication with constant-time comparison, and zod validation that reports the field path.
 */
import type { Context, MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type * as z from "zod/mini";
import { issueText } from "../shared/util/issue-text.ts";
import { BridgeError } from "../shared/errors.ts";
import { clientAddress, recordFailure, refuseIfBlocked, tooManyAttempts } from "./auth-guard.ts";
import { apiTokenProblem } from "./config.ts";
import { sameOriginRequest } from "./same-origin.ts";
import type { Env } from "./env.ts";
import { redactorFor } from "./secrets.ts";
import { sessionOf } from "./session.ts";

export type AppEnv = { Bindings: Env; Variables: { authBy: "bearer" | "session" } };

export { SESSION_COOKIE } from "./session.ts";

const STATUS_BY_CODE: Record<string, number> = {
  invalid_request: 400,
  invalid_csv: 400,
  config_invalid: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  flow_locked: 409,
  payload_too_large: 413,
  replay_impossible: 422,
  rate_limited: 429,
  not_configured: 503,
};

/**
 * Error `details` keys an API answer may carry. Everything else stays in the logs (redacted there): a
 * detail can hold text an upstream sent (a body excerpt with tokens the redactor never learned).
 */
const PUBLIC_DETAIL_KEYS = new Set([
  "problems",
  "retryAfterSeconds",
  "option",
  "path",
  "field",
  "flowId",
  "table",
  "key",
  "limit",
  "maxBytes",
  "httpStatus",
  "jstCode",
  "runId",
  "status",
]);

function publicDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!details) return undefined;
  const out = Object.fromEntries(Object.entries(details).filter(([k]) => PUBLIC_DETAIL_KEYS.has(k)));
  return Object.keys(out).length ? out : undefined;
}

export function errorBody(error: BridgeError) {
  const details = publicDetails(error.details as Record<string, unknown> | undefined);
  return { error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), ...(details ? { details } : {}) } };
}

export function statusOf(error: BridgeError): number {
  return STATUS_BY_CODE[error.code] ?? (error.retryable ? 503 : 500);
}

export function respondError(c: Context, error: unknown) {
  const e = error instanceof BridgeError ? error : new BridgeError("internal", "internal error", { hint: "see the Worker logs" });
  if (!(error instanceof BridgeError)) console.error(redactorFor(c.env).redact(JSON.stringify({ level: "error", message: "unhandled", error: String(error) })));
  const status = statusOf(e);
  if (status === 429) c.header("Retry-After", String((e.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60));
  return c.json(errorBody(e), status as 400);
}

/** Compares secrets in constant time (hono's timingSafeEqual: both sides hashed, then compared). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  return timingSafeEqual(a, b);
}

/** The API is closed (503) without a SYNC_API_TOKEN or with one too weak to stand guessing. */
export function requireStrongToken(env: Env): string {
  const token = env.SYNC_API_TOKEN;
  if (!token) {
    throw new BridgeError("not_configured", "SYNC_API_TOKEN is not set, so the API is closed", { hint: "set it with `wrangler secret put SYNC_API_TOKEN`" });
  }
  const problem = apiTokenProblem(token);
  if (problem)
    throw new BridgeError("not_configured", `SYNC_API_TOKEN is too weak, so the API is closed: ${problem}`, {
      hint: "set a random one: `openssl rand -hex 32 | wrangler secret put SYNC_API_TOKEN`",
    });
  return token;
}

/**
 * Checks a presented token against SYNC_API_TOKEN with the per-address failure limit: a blocked address
 * gets rate_limited before the comparison; a wrong token counts one failure.
 */
export async function checkToken(env: Env, address: string | undefined, given: string, token: string): Promise<boolean> {
  await refuseIfBlocked(env, address);
  if (await secretsEqual(given, token)) return true;
  const retryAfter = await recordFailure(env, address);
  if (retryAfter > 0) throw tooManyAttempts(retryAfter);
  return false;
}

/** Bearer token (API) or session cookie (dashboard); cookie-authenticated writes must come from the same origin. */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = requireStrongToken(c.env);
    const header = c.req.header("Authorization") ?? "";
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (bearer !== undefined) {
      if (!(await checkToken(c.env, clientAddress(c.req), bearer, token))) throw unauthorized();
      c.set("authBy", "bearer");
      return next();
    }
    if (await sessionOf(c)) {
      if (!["GET", "HEAD"].includes(c.req.method)) {
        if (!sameOriginRequest(c.req)) {
          throw new BridgeError("unauthorized", "cross-site request refused", { hint: "use the dashboard of this Worker, or the API with a bearer token" });
        }
      }
      c.set("authBy", "session");
      return next();
    }
    throw unauthorized();
  };
}

function unauthorized() {
  return new BridgeError("unauthorized", "missing or wrong credentials", { hint: "send Authorization: Bearer <SYNC_API_TOKEN>, or sign in on the dashboard" });
}

/** Validates with zod; the error names every failing field by its path. */
export function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : where}: ${issueText(i)}`);
  throw new BridgeError("invalid_request", `invalid ${where}: ${problems.join("; ")}`, { details: { problems } });
}

export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BridgeError("invalid_request", "the request body is not valid JSON", { hint: "send Content-Type: application/json with a JSON object" });
  }
}
