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
import { ConfigError } from "../../shared/errors.ts";
import { RemoteRateBudget } from "../../shared/http/remote-rate-budget.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { redactingFetch } from "../../shared/security/secret-ports.ts";
import { insecureHttpAllowed } from "../../shared/security/transport.ts";

export { JST_DEFAULT_BASE_URL } from "../../shared/compose/connectors.ts";
import { JST_DEFAULT_BASE_URL } from "../../shared/compose/connectors.ts";

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
 * The app's budget for this process. With JST_RATE_BUDGET_URL (the Worker's base URL) and SYNC_API_TOKEN it is
 * borrowed from the Worker's Durable Object, so the CLI and the Worker's runs wait on one window; otherwise (and if
 * the Worker cannot be reached) it is kept in `kv` (file state or the Worker's KV), one per state store and app,
 * so back-to-back processes respect the minute the previous one left. A window kept in the Worker's KV is not read
 * by the Worker's runs (they wait on their object): without JST_RATE_BUDGET_URL, a CLI and the Worker running in
 * the same minute are not paced together.
 */
export function jstRateBudget(
  kv: KeyValueStore,
  env: Record<string, string | undefined>,
  clock: Clock,
  logger: Logger,
  fetch?: FetchLike,
): RateBudget & { flush(): Promise<void> } {
  const key = rateWindowKey(env.JST_APP_KEY?.trim() || env.JST_BASE_URL || JST_DEFAULT_BASE_URL);
  let byKey = persisted.get(kv);
  if (!byKey) persisted.set(kv, (byKey = new Map()));
  let budget = byKey.get(key);
  if (!budget)
    byKey.set(key, (budget = new PersistedRateBudget({ kv, key, clock, logger, limits: jstRateLimits(jstRateFromEnv(env)), marginMs: JST_RATE_MARGIN_MS })));
  const workerUrl = env.JST_RATE_BUDGET_URL?.trim();
  const token = env.SYNC_API_TOKEN?.trim();
  if (!workerUrl || !fetch) return budget;
  if (!token)
    throw new ConfigError("JST_RATE_BUDGET_URL is set but SYNC_API_TOKEN is not", {
      hint: "set SYNC_API_TOKEN to the Worker's API token, or unset JST_RATE_BUDGET_URL",
    });
  // The bearer token goes only over https (loopback or ALLOW_INSECURE_HTTP aside) and is learned by the redactor.
  const guarded = redactingFetch(fetch, Redactor.fromEnv(env, [token]), { allowInsecureHttp: insecureHttpAllowed(env) });
  return new RemoteRateBudget({ baseUrl: workerUrl, token, fetch: guarded, clock, logger, fallback: budget });
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
