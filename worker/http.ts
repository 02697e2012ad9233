/**
 * HTTP plumbing shared by the API and the dashboard: one JSON error envelope, bearer-token and session
 * cookie authentication with constant-time comparison, and zod validation that reports the field path.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import * as z from "zod";
import { BridgeError } from "../shared/errors.ts";
import type { Env } from "./env.ts";
import { redactorFor } from "./secrets.ts";

export type AppEnv = { Bindings: Env; Variables: { authBy: "bearer" | "session" } };

export const SESSION_COOKIE = "jst_bridge_session";

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
  not_configured: 503,
};

export function errorBody(error: BridgeError) {
  return { error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), ...(error.details ? { details: error.details } : {}) } };
}

export function statusOf(error: BridgeError): number {
  return STATUS_BY_CODE[error.code] ?? (error.retryable ? 503 : 500);
}

export function respondError(c: Context, error: unknown) {
  const e = error instanceof BridgeError ? error : new BridgeError("internal", "internal error", { hint: "see the Worker logs" });
  if (!(error instanceof BridgeError)) console.error(redactorFor(c.env).redact(JSON.stringify({ level: "error", message: "unhandled", error: String(error) })));
  return c.json(errorBody(e), statusOf(e) as 400);
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Compares secrets in constant time: both sides are hashed first, so neither length nor content leaks through timing. */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** The dashboard session value: derived from the API token, so rotating the token signs everyone out. */
export async function sessionValue(token: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(token), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode("jst-bridge dashboard session v1")));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bearer token (API) or session cookie (dashboard); cookie-authenticated writes must come from the same origin. */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = c.env.SYNC_API_TOKEN;
    if (!token) {
      throw new BridgeError("not_configured", "SYNC_API_TOKEN is not set, so the API is closed", { hint: "set it with `wrangler secret put SYNC_API_TOKEN`" });
    }
    const header = c.req.header("Authorization") ?? "";
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (bearer !== undefined) {
      if (!(await secretsEqual(bearer, token))) throw unauthorized();
      c.set("authBy", "bearer");
      return next();
    }
    const session = getCookie(c, SESSION_COOKIE);
    if (session && (await secretsEqual(session, await sessionValue(token)))) {
      if (!["GET", "HEAD"].includes(c.req.method)) {
        const origin = c.req.header("Origin");
        if (!origin || origin !== new URL(c.req.url).origin) {
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
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : where}: ${i.message}`);
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
