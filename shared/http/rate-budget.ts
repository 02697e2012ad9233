/**
 * One Jushuitan rate budget per app, shared by everything that calls it (cron runs of several flows, queue
 * continuations, HTTP syncs, CLI/Action backfills). Platform-free: the port, the reservation arithmetic every
 * implementation shares, and the state that implementations persist.
 *
 * Why one per app: Jushuitan counts per app (merchant), not per caller. Evidence:
 *  - ieu/jst-java jst-core/src/main/java/io/github/ieu/jst/JstErrorCode.java (field comments copied from the
 *    official docs): RATE_LIMIT_EXCEEDED(199) "请求频率一秒不超过5次", RATE_LIMIT_HIT(200) "请求频率一分钟不超过100次";
 *  - a Java enum com.white.meta.enums.JstCode (indexed file 9024671559): 199 "调用接口并发量过高，请查看API权限包调用并发限制",
 *    200 "调用接口频率过高，请查看API权限包调用频次限制" (the limits depend on the app's API permission package,
 *    hence JST_RATE_PER_SECOND / JST_RATE_PER_MINUTE);
 *  - an integration contract quoting https://openweb.jushuitan.com/doc?docId=30 (indexed file 68845805827):
 *    "每商家受并发与分钟限流" (per merchant: a concurrency/second limit and a minute limit);
 *  - ../shared/docs/jushuitan-api.md §5. Whether the server counts in sliding or aligned windows is not public:
 *    a sliding-window budget (a grant occupies its slot for a full window) satisfies both readings, and the
 *    emulator has a profile for each.
 *
 * Implementations: SlidingWindowRateLimiter (in process), worker/rate-budget-do.ts (a Durable Object per app,
 * for every Worker invocation), PersistedRateBudget (shared/http/persisted-rate-budget.ts: the CLI/Action, whose
 * window survives the process in its state store).
 */
import { numberFromEnv } from "../compose/env.ts";
import type { Clock } from "../ports.ts";
import type { RateLimit } from "./rate-limiter.ts";

export type { RateLimit } from "./rate-limiter.ts";

export interface RateBudget {
  /**
   * Resolves when one request may be sent now (and counts it); rejects if `signal` aborts while waiting.
   * Settle the grant (if one is returned) once the answer is back.
   */
  acquire(signal?: AbortSignal): Promise<RateGrant | void>;
  /** Holds every holder of the budget until `epochMs` (the server throttled us anyway). */
  pauseUntil(epochMs: number): void;
}

/**
 * One granted request. The server counts a request when it arrives, somewhere between the grant and the
 * answer; settling at the answer moves the slot there, so a slow trip can never make the budget think a
 * window had room that the server had already filled.
 */
export interface RateGrant {
  settle(): void;
}

/** The documented defaults (evidence above): 5 requests a second, 100 a minute, per app. */
/** When a granted request's answer came back, as a shared budget (Durable Object, the Worker's endpoint) learns it. */
export interface RateSettle {
  at: number;
  elapsedMs: number;
}

/**
 * The grant of a shared budget's reservation: waits until its slot, then `settle` reports when the answer came back
 * (the budget counts the request from its answer from then on). Used by the Durable Object client and the CLI's
 * borrowing client alike.
 */
export async function reservedGrant(
  reservation: { at: number; waitMs: number },
  clock: Clock,
  report: (settle: RateSettle) => void,
  signal?: AbortSignal,
  maxWaitMs = Number.POSITIVE_INFINITY,
): Promise<RateGrant> {
  if (reservation.waitMs > 0) await clock.sleep(Math.min(reservation.waitMs, maxWaitMs), signal);
  const sentAt = clock.now();
  let open = true;
  return {
    settle: () => {
      if (!open) return;
      open = false;
      report({ at: reservation.at, elapsedMs: clock.now() - sentAt });
    },
  };
}

export const JST_DEFAULT_RATE = { perSecond: 5, perMinute: 100 } as const;
/**
 * Widens each window (clock granularity). In process, trip times need no margin: a grant in flight counts as
 * arriving "now" and a settled one from its answer (rate-limiter.ts). A budget that only learns of answers later
 * (the Worker's Durable Object) needs a margin as wide as the spread of trip times: see worker/rate-budget-do.ts.
 */
export const JST_RATE_MARGIN_MS = 100;

export function jstRateLimits(rate: { perSecond: number; perMinute: number } = JST_DEFAULT_RATE): RateLimit[] {
  return [
    { limit: rate.perSecond, windowMs: 1000 },
    { limit: rate.perMinute, windowMs: 60_000 },
  ];
}

/**
 * JST_RATE_PER_SECOND / JST_RATE_PER_MINUTE (an app whose permission package allows more or less); unset → the
 * documented 5 and 100. A value that is not a positive integer is a configuration error with the name in it.
 */
export function jstRateFromEnv(env: Record<string, string | undefined>): { perSecond: number; perMinute: number } {
  // The one numeric env parser (compose/env.ts): plain decimal digits, the variable named in the error.
  const read = (name: string, fallback: number) =>
    numberFromEnv(env, name, {
      whole: true,
      min: 1,
      max: 1_000_000,
      must: "a positive whole number of requests",
      example: name === "JST_RATE_PER_SECOND" ? "5" : "100",
      hint: `set ${name} to what the app's API permission package allows, or unset it for the documented 5 per second and 100 per minute`,
    }) ?? fallback;
  return { perSecond: read("JST_RATE_PER_SECOND", JST_DEFAULT_RATE.perSecond), perMinute: read("JST_RATE_PER_MINUTE", JST_DEFAULT_RATE.perMinute) };
}

/** What a shared budget keeps: grant instants (ascending, some may lie in the future) and a pause. */
export interface RateWindowState {
  grants: number[];
  pausedUntil: number;
}

export function emptyRateWindow(): RateWindowState {
  return { grants: [], pausedUntil: 0 };
}

/**
 * The earliest instant ≥ `now` at which one more grant keeps every limit, given grants already handed out
 * (some possibly reserved for the future), and the state with that grant recorded (trimmed to the longest
 * window). Grants are handed out in order, so checking the windows that end at the new grant suffices.
 */
export function reserveSlot(state: RateWindowState, limits: readonly RateLimit[], marginMs: number, now: number): { at: number; state: RateWindowState } {
  const grants = state.grants;
  let at = Math.max(now, state.pausedUntil, grants.length ? grants[grants.length - 1]! : now);
  for (const l of limits) {
    if (grants.length >= l.limit) at = Math.max(at, grants[grants.length - l.limit]! + l.windowMs + marginMs);
  }
  const longest = Math.max(0, ...limits.map((l) => l.windowMs)) + marginMs;
  const kept = grants.filter((g) => g > at - longest);
  kept.push(at);
  return { at, state: { grants: kept, pausedUntil: state.pausedUntil } };
}

/** A stored window, or an empty one if the value is missing or not a window (never throws on old/odd data). */
export function readRateWindow(value: unknown): RateWindowState {
  if (!value || typeof value !== "object") return emptyRateWindow();
  const v = value as Partial<RateWindowState>;
  const grants = Array.isArray(v.grants) ? v.grants.filter((g): g is number => typeof g === "number" && Number.isFinite(g)).sort((a, b) => a - b) : [];
  return { grants, pausedUntil: typeof v.pausedUntil === "number" && Number.isFinite(v.pausedUntil) ? v.pausedUntil : 0 };
}

/** Grants with one `grantedAt` instant moved to `settledAt` (kept ascending); unchanged if it has left already. */
export function settleGrant(grants: number[], grantedAt: number, settledAt: number): number[] {
  const i = grants.indexOf(grantedAt);
  if (i < 0 || settledAt <= grantedAt) return grants;
  const out = [...grants.slice(0, i), ...grants.slice(i + 1)];
  let j = out.length;
  while (j > 0 && out[j - 1]! > settledAt) j--;
  out.splice(j, 0, settledAt);
  return out;
}
