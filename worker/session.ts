/**
 * Dashboard sessions (security review #2): a signed cookie `v2.<iat>.<nonce>.<mac>` whose MAC (keyed
 * with a key derived from SYNC_API_TOKEN by HKDF) covers the issue time, a 128-bit nonce and the operator's SESSION_EPOCH.
 * - Expired on the server after SESSION_MAX_AGE_HOURS (default 12), whatever the browser keeps.
 * - Revoked by sign-out: the nonce is recorded in the AuthGuard Durable Object's `sessions` instance
 *   (strongly consistent) until it would expire; without that binding in KV (`session:revoked:<nonce>`),
 *   which another location may see up to about 60 s late.
 * - Revoked all at once by changing SESSION_EPOCH (or by rotating SYNC_API_TOKEN).
 * - Named `__Host-…`: the browser only accepts it Secure, for Path=/, from this host (no Domain).
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import { sessionGuard } from "./auth-guard.ts";
import type { Env } from "./env.ts";

export const SESSION_COOKIE = "__Host-jst_bridge_session";
export const DEFAULT_SESSION_HOURS = 12;
const REVOKED_PREFIX = "session:revoked:";
/** A cookie issued up to this far in the future (clock skew between locations) still counts. */
const SKEW_SECONDS = 60;

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

export function sessionMaxAgeSeconds(env: Env): number {
  const hours = Number(env.SESSION_MAX_AGE_HOURS);
  return Math.round((Number.isFinite(hours) && hours > 0 && hours <= 24 * 30 ? hours : DEFAULT_SESSION_HOURS) * 3600);
}

/**
 * The MAC key is HKDF-SHA256(SYNC_API_TOKEN, info "jst-bridge session"), not the token itself: a cookie
 * (which shows the MAC's message) is then no direct HMAC oracle keyed with the bearer token.
 */
async function sessionKey(token: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", encoder.encode(token), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode("jst-bridge session") },
    ikm,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

async function mac(token: string, epoch: string, iat: number, nonce: string): Promise<string> {
  const key = await sessionKey(token);
  return hex(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`jst-bridge session v2|${epoch}|${iat}|${nonce}`))));
}

/** A fresh session value for this deployment's token and epoch. */
export async function issueSession(env: Env, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  return `v2.${iat}.${nonce}.${await mac(env.SYNC_API_TOKEN ?? "", env.SESSION_EPOCH ?? "0", iat, nonce)}`;
}

export interface Session {
  iat: number;
  nonce: string;
  /** Seconds left before the server stops accepting it. */
  remaining: number;
}

/** The session a cookie value proves, or null: malformed, wrong MAC (other token or epoch), expired, or signed out. */
export async function verifySession(env: Env, value: string | undefined, now = Date.now()): Promise<Session | null> {
  const token = env.SYNC_API_TOKEN;
  if (!token || !value) return null;
  const m = /^v2\.(\d{1,12})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(value);
  if (!m) return null;
  const iat = Number(m[1]);
  const nonce = m[2]!;
  if (!(await timingSafeEqual(m[3]!, await mac(token, env.SESSION_EPOCH ?? "0", iat, nonce)))) return null;
  const age = Math.floor(now / 1000) - iat;
  const remaining = sessionMaxAgeSeconds(env) - age;
  if (age < -SKEW_SECONDS || remaining <= 0) return null;
  const guard = sessionGuard(env);
  if (guard ? await guard.sessionRevoked(nonce, now) : env.STATE && (await env.STATE.get(REVOKED_PREFIX + nonce)) !== null) return null;
  return { iat, nonce, remaining };
}

export async function sessionOf<E extends { Bindings: Env }>(c: Context<E>): Promise<Session | null> {
  return verifySession(c.env, getCookie(c, SESSION_COOKIE));
}

export async function startSession<E extends { Bindings: Env }>(c: Context<E>): Promise<void> {
  setCookie(c, SESSION_COOKIE, await issueSession(c.env), { httpOnly: true, secure: true, sameSite: "Strict", path: "/", maxAge: sessionMaxAgeSeconds(c.env) });
}

/** Signs this browser out: the session's nonce is revoked on the server for the rest of its life, and the cookie deleted. */
export async function endSession<E extends { Bindings: Env }>(c: Context<E>): Promise<void> {
  const session = await sessionOf(c);
  const guard = sessionGuard(c.env);
  if (session && guard) await guard.revokeSession(session.nonce, Date.now() + (session.remaining + SKEW_SECONDS) * 1000);
  // Without the Durable Object binding: KV (shortest expiry 60 s; other locations may see it ~60 s late).
  else if (session && c.env.STATE)
    await c.env.STATE.put(REVOKED_PREFIX + session.nonce, "1", { expirationTtl: Math.max(60, session.remaining + SKEW_SECONDS) });
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
}
