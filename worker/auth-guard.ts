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
}

/**
 * The client address as Cloudflare's edge sets it (a client cannot forge CF-Connecting-IP through it).
 * Undefined without one (a test harness calling the handler directly): not limited, rather than one
 * shared bucket that any client could fill to lock everyone out.
 */
export function clientAddress(headers: { header(name: string): string | undefined }): string | undefined {
  return headers.header("CF-Connecting-IP") || undefined;
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
