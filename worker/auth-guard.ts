/**
 * Failed sign-ins and bearer failures, counted per client address (security review #3): one AuthGuard
 * Durable Object per address (strongly consistent, unlike KV). After MAX_FAILURES failures within
 * WINDOW_MS the address gets 429 until the oldest failure leaves the window, also for a correct token, so
 * a guess that happens to be right is not told apart while blocked.
 * Requests without credentials are not counted (a visitor reaching the sign-in page is no guess); session
 * cookies are not counted either (128-bit nonces plus a MAC cannot be guessed online).
 */
import { DurableObject } from "cloudflare:workers";
import { BridgeError } from "../shared/errors.ts";
import type { Env } from "./env.ts";

export const MAX_FAILURES = 10;
export const WINDOW_MS = 15 * 60_000;

export interface GuardState {
  /** Seconds until this address may try again; 0 when it may. */
  retryAfterSeconds: number;
  failures: number;
}

export class AuthGuard extends DurableObject<Env> {
  private async failures(now: number): Promise<number[]> {
    const list = ((await this.ctx.storage.get<number[]>("failures")) ?? []).filter((t) => t > now - WINDOW_MS);
    return list;
  }

  private state(list: number[], now: number): GuardState {
    if (list.length < MAX_FAILURES) return { retryAfterSeconds: 0, failures: list.length };
    const oldestThatCounts = list[list.length - MAX_FAILURES]!;
    return { retryAfterSeconds: Math.max(1, Math.ceil((oldestThatCounts + WINDOW_MS - now) / 1000)), failures: list.length };
  }

  async check(now: number = Date.now()): Promise<GuardState> {
    return this.state(await this.failures(now), now);
  }

  async fail(now: number = Date.now()): Promise<GuardState> {
    const list = [...(await this.failures(now)), now].slice(-MAX_FAILURES * 2);
    await this.ctx.storage.put("failures", list);
    return this.state(list, now);
  }

  /** Session revocation (the `sessions` instance): strongly consistent, unlike KV's ~60 s cache. */
  async revokeSession(nonce: string, until: number, now: number = Date.now()): Promise<void> {
    // Sign-outs are rare: prune the expired ones here rather than with an alarm.
    const all = await this.ctx.storage.list<number>({ prefix: REVOKED_SESSION });
    const expired = [...all].filter(([, t]) => t <= now).map(([k]) => k);
    if (expired.length) await this.ctx.storage.delete(expired.slice(0, 128));
    await this.ctx.storage.put(REVOKED_SESSION + nonce, until);
  }

  async sessionRevoked(nonce: string, now: number = Date.now()): Promise<boolean> {
    const until = await this.ctx.storage.get<number>(REVOKED_SESSION + nonce);
    return until !== undefined && until > now;
  }
}

const REVOKED_SESSION = "revoked:";

/** The AuthGuard instance that keeps signed-out sessions, or null without the binding (KV is used then). */
export function sessionGuard(env: Env) {
  return env.AUTH_GUARD ? env.AUTH_GUARD.get(env.AUTH_GUARD.idFromName("sessions")) : null;
}

/**
 * The client address as Cloudflare's edge sets it (a client cannot forge CF-Connecting-IP through it).
 * Undefined without one (a test harness calling the handler directly): not limited, rather than one
 * shared bucket that any client could fill to lock everyone out.
 */
export function clientAddress(headers: { header(name: string): string | undefined }): string | undefined {
  const ip = headers.header("CF-Connecting-IP")?.trim();
  return ip ? limitKey(ip) : undefined;
}

/**
 * The bucket an address counts in: IPv4 by address, IPv6 by its /64 (one subscriber gets at least a /64,
 * so rotating the interface id must not give a fresh bucket per guess).
 */
export function limitKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const bare = ip
    .replace(/^\[|\]$/g, "")
    .split("%")[0]!
    .toLowerCase();
  // An IPv4-mapped address (::ffff:192.0.2.1) counts as its IPv4 address.
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = bare.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  const prefix = groups.slice(0, 4).map((g) => (parseInt(g || "0", 16) || 0).toString(16));
  while (prefix.length < 4) prefix.push("0");
  return `${prefix.join(":")}::/64`;
}

function stub(env: Env, address: string | undefined) {
  return env.AUTH_GUARD && address ? env.AUTH_GUARD.get(env.AUTH_GUARD.idFromName(`auth:${address}`)) : null;
}

export function tooManyAttempts(retryAfterSeconds: number): BridgeError {
  return new BridgeError("rate_limited", `too many failed sign-in attempts from this address; try again in ${retryAfterSeconds} s`, {
    hint: "check the token (SYNC_API_TOKEN); failed attempts are limited per address",
    details: { retryAfterSeconds },
  });
}

/** Throws rate_limited when the address is blocked. Without the AUTH_GUARD binding, nothing is limited. */
export async function refuseIfBlocked(env: Env, address: string | undefined): Promise<void> {
  const guard = stub(env, address);
  if (!guard) return;
  const state = await guard.check();
  if (state.retryAfterSeconds > 0) throw tooManyAttempts(state.retryAfterSeconds);
}

/** Counts one failure; returns the seconds to wait when this failure blocked the address (else 0). */
export async function recordFailure(env: Env, address: string | undefined): Promise<number> {
  const guard = stub(env, address);
  if (!guard) return 0;
  return (await guard.fail()).retryAfterSeconds;
}
