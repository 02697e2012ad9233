/**
 * Process-wide pacing of Jushuitan requests. A backfill runs the shared runner once per window, and each
 * run builds its own Jushuitan client with its own proactive limiter, so the 100 requests/minute limit
 * would only hold within a window. This fetch wrapper keeps one limiter (5/s and 100/min, as the client's)
 * for every request to the Jushuitan host for as long as the process runs. Its waits happen inside the
 * metered fetch, so run records count them in the Jushuitan latency.
 */
import { SlidingWindowRateLimiter } from "../../shared/http/rate-limiter.ts";
import type { Clock, FetchLike } from "../../shared/ports.ts";

export const JST_DEFAULT_BASE_URL = "https://openapi.jushuitan.com";

const limiters = new WeakMap<Clock, Map<string, SlidingWindowRateLimiter>>();

function limiterFor(clock: Clock, origin: string): SlidingWindowRateLimiter {
  let byOrigin = limiters.get(clock);
  if (!byOrigin) limiters.set(clock, (byOrigin = new Map()));
  let limiter = byOrigin.get(origin);
  if (!limiter) {
    limiter = new SlidingWindowRateLimiter({
      clock,
      limits: [
        { limit: 5, windowMs: 1000 },
        { limit: 100, windowMs: 60_000 },
      ],
      marginMs: 100,
    });
    byOrigin.set(origin, limiter);
  }
  return limiter;
}

export function paceJushuitan(fetch: FetchLike, baseUrl: string | undefined, clock: Clock): FetchLike {
  let origin: string;
  try {
    origin = new URL(baseUrl || JST_DEFAULT_BASE_URL).origin;
  } catch {
    return fetch; // a malformed JST_BASE_URL is reported by the client itself
  }
  const limiter = limiterFor(clock, origin);
  return async (input, init) => {
    const url = input instanceof Request ? input.url : input instanceof URL ? input.href : input;
    if (!url.startsWith(origin)) return fetch(input, init);
    const grant = await limiter.acquire(init?.signal ?? undefined);
    try {
      return await fetch(input, init);
    } finally {
      grant.settle();
    }
  };
}
