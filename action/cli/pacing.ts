/**
 * Process-wide pacing of Jushuitan requests. A backfill runs the shared runner once per window, and each
 * run builds its own Jushuitan client with its own proactive limiter, so the 100 requests/minute limit
 * would only hold within a window. This fetch wrapper keeps one budget for every request to the Jushuitan
 * host: the app's window persisted in the state store (jstRateBudget: back-to-back processes respect the
 * minute the previous one left), or a process-wide limiter. Its waits happen inside the metered fetch, so
 * run records count them in the Jushuitan latency.
 */
import { PersistedRateBudget, rateWindowKey } from "../../shared/http/persisted-rate-budget.ts";
import { JST_RATE_MARGIN_MS, jstRateFromEnv, jstRateLimits, type RateBudget } from "../../shared/http/rate-budget.ts";
import { SlidingWindowRateLimiter } from "../../shared/http/rate-limiter.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../../shared/ports.ts";

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

const persisted = new WeakMap<KeyValueStore, Map<string, PersistedRateBudget>>();

/**
 * The app's budget kept in `kv` (file state or the Worker's KV), one per state store and app for the process.
 * With --state kv the window lives in the Worker's namespace, but the Worker's runs wait on their Durable Object,
 * not on it: a CLI and the Worker running at the same minute are not paced together (docs/backfill.md).
 */
export function jstRateBudget(kv: KeyValueStore, env: Record<string, string | undefined>, clock: Clock, logger: Logger): PersistedRateBudget {
  const key = rateWindowKey(env.JST_APP_KEY?.trim() || env.JST_BASE_URL || JST_DEFAULT_BASE_URL);
  let byKey = persisted.get(kv);
  if (!byKey) persisted.set(kv, (byKey = new Map()));
  let budget = byKey.get(key);
  if (!budget) byKey.set(key, (budget = new PersistedRateBudget({ kv, key, clock, logger, limits: jstRateLimits(jstRateFromEnv(env)), marginMs: JST_RATE_MARGIN_MS })));
  return budget;
}

export function paceJushuitan(fetch: FetchLike, baseUrl: string | undefined, clock: Clock, budget?: RateBudget): FetchLike {
  let origin: string;
  try {
    origin = new URL(baseUrl || JST_DEFAULT_BASE_URL).origin;
  } catch {
    return fetch; // a malformed JST_BASE_URL is reported by the client itself
  }
  const limiter = budget ?? limiterFor(clock, origin);
  return async (input, init) => {
    const url = input instanceof Request ? input.url : input instanceof URL ? input.href : input;
    if (!url.startsWith(origin)) return fetch(input, init);
    const grant = await limiter.acquire(init?.signal ?? undefined);
    try {
      return await fetch(input, init);
    } finally {
      grant?.settle();
    }
  };
}
