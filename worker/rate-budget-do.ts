/**
 * The Worker's Jushuitan rate budget: one JstRateBudget Durable Object per app_key, so cron runs of several
 * flows, queue continuations and HTTP syncs (each its own invocation, maybe in different isolates) wait on
 * one window, as Jushuitan counts (shared/http/rate-budget.ts has the evidence). One RPC per Jushuitan request:
 * the object reserves the earliest slot every limit allows and answers how long to wait; the caller reports
 * when the answer came back with its next reservation, and the object moves that grant's slot there.
 *
 * Kept apart from FlowLock (worker/flow-lock.ts): that object is per flow, this one per app.
 */
import { DurableObject } from "cloudflare:workers";
import {
  JST_RATE_MARGIN_MS,
  jstRateFromEnv,
  jstRateLimits,
  readRateWindow,
  reserveSlot,
  reservedGrant,
  settleGrant,
  type RateBudget,
  type RateSettle,
  type RateGrant,
  type RateLimit,
  type RateWindowState,
} from "../shared/http/rate-budget.ts";
import { rateWindowKey } from "../shared/http/persisted-rate-budget.ts";
import { SlidingWindowRateLimiter } from "../shared/http/rate-limiter.ts";
import type { Clock, Logger } from "../shared/ports.ts";
import { silentLogger, systemClock } from "../shared/ports.ts";
import type { Env } from "./env.ts";

/** An earlier grant (its instant in the object's clock) whose answer came back `elapsedMs` after it was sent. */
export type { RateSettle } from "../shared/http/rate-budget.ts";

export interface Reservation {
  /** The slot, in the object's clock. */
  at: number;
  /** How long the caller waits before sending (the object's clock decides, so host clocks do not matter). */
  waitMs: number;
}

const STATE_KEY = "window";

/**
 * The object records a grant at its slot and learns when the answer came back only with the caller's next
 * reservation, so a window must absorb the spread of trip times (the server counts at arrival): a second.
 * Cheap in steady state: 5 per 2 s is still more than the minute's 100 allow on average (1.67/s), and the
 * minute loses 1/61 of its throughput.
 */
export const DO_RATE_MARGIN_MS = 1000;

export class JstRateBudget extends DurableObject<Env> {
  private window: RateWindowState | undefined;

  private async load(): Promise<RateWindowState> {
    this.window ??= readRateWindow(await this.ctx.storage.get(STATE_KEY));
    return this.window;
  }

  /** Reserves one slot; applies the caller's reports on earlier grants first. */
  async reserve(limits: RateLimit[], marginMs: number, settles: RateSettle[] = [], now: number = Date.now()): Promise<Reservation> {
    // Callers build limits from validated settings; anything else falls back to the documented ones (never to none).
    if (!validLimits(limits)) limits = jstRateLimits();
    let state = await this.load();
    for (const s of settles) {
      if (Number.isFinite(s.at) && Number.isFinite(s.elapsedMs))
        state = { ...state, grants: settleGrant(state.grants, s.at, s.at + Math.max(0, Math.min(s.elapsedMs, 60_000))) };
    }
    const reserved = reserveSlot(state, limits, Math.max(0, marginMs), now);
    this.window = reserved.state;
    // Persisted before the answer (output gate): an evicted object still knows the minute it handed out.
    await this.ctx.storage.put(STATE_KEY, reserved.state);
    return { at: reserved.at, waitMs: Math.max(0, reserved.at - now) };
  }

  /** Holds every caller for `ms` (someone was throttled anyway). */
  async pause(ms: number, now: number = Date.now()): Promise<void> {
    const state = await this.load();
    const until = now + Math.max(0, Math.min(ms, 5 * 60_000));
    if (until <= state.pausedUntil) return;
    this.window = { ...state, pausedUntil: until };
    await this.ctx.storage.put(STATE_KEY, this.window);
  }

  /** The window as stored (dashboard, tests). */
  async inspect(): Promise<RateWindowState> {
    return structuredClone(await this.load());
  }
}

function validLimits(limits: RateLimit[]): boolean {
  return (
    Array.isArray(limits) && limits.length > 0 && limits.every((l) => Number.isInteger(l.limit) && l.limit > 0 && l.windowMs > 0 && l.windowMs <= 3_600_000)
  );
}

export interface DoRateBudgetOptions {
  namespace: DurableObjectNamespace<JstRateBudget>;
  appKey: string;
  clock: Clock;
  rate?: { perSecond: number; perMinute: number };
  marginMs?: number;
  logger?: Logger;
  /** Overrides the object's clock (tests); leave unset in production. */
  now?: () => number;
}

/** The RateBudget port over the app's JstRateBudget object; falls back to this isolate's budget if the object fails. */
export class DoRateBudget implements RateBudget {
  private readonly options: DoRateBudgetOptions;
  private readonly limits: RateLimit[];
  private readonly marginMs: number;
  private readonly stub: DurableObjectStub<JstRateBudget>;
  private settles: RateSettle[] = [];
  /** Reservations made through the object (calls to it: one per Jushuitan request). */
  reservations = 0;

  constructor(options: DoRateBudgetOptions) {
    this.options = options;
    this.limits = jstRateLimits(options.rate);
    this.marginMs = options.marginMs ?? DO_RATE_MARGIN_MS;
    this.stub = options.namespace.get(options.namespace.idFromName(rateWindowKey(options.appKey)));
  }

  async acquire(signal?: AbortSignal): Promise<RateGrant | void> {
    if (signal?.aborted) throw signal.reason;
    const { clock } = this.options;
    let reservation: Reservation;
    const settles = this.settles;
    this.settles = [];
    try {
      reservation = await this.stub.reserve(this.limits, this.marginMs, settles, this.options.now?.());
      this.reservations++;
    } catch (error) {
      // Pacing must not stop a sync: this isolate's own budget keeps at least one invocation inside the limits.
      (this.options.logger ?? silentLogger).warn("jushuitan rate budget object unavailable; pacing in this isolate only", {
        message: error instanceof Error ? error.message : String(error),
      });
      return isolateBudget(this.options.appKey, clock, this.limits, this.marginMs).acquire(signal);
    }
    return reservedGrant(reservation, clock, (settle) => this.settles.push(settle), signal);
  }

  pauseUntil(epochMs: number): void {
    const ms = epochMs - this.options.clock.now();
    if (ms <= 0) return;
    // Not awaited: the throttled caller waits through its own backoff; the others learn it at their next reservation.
    this.stub.pause(ms, this.options.now?.()).catch(() => undefined);
  }
}

/** Per isolate and app: what runs share when the Durable Object binding is missing or failing. */
const isolateBudgets = new Map<string, SlidingWindowRateLimiter>();

export function isolateBudget(appKey: string, clock: Clock, limits: RateLimit[] = jstRateLimits(), marginMs = JST_RATE_MARGIN_MS): SlidingWindowRateLimiter {
  const key = rateWindowKey(appKey);
  let budget = isolateBudgets.get(key);
  if (!budget) isolateBudgets.set(key, (budget = new SlidingWindowRateLimiter({ clock, limits, marginMs })));
  return budget;
}

/**
 * The budget every run of this deployment waits on: the app's Durable Object (RATE_BUDGET), else this isolate's.
 * Undefined when the app key or the JST_RATE_* settings are missing or wrong: the runner then reports that.
 */
export function workerRateBudget(env: Env, vars: Record<string, string | undefined>, logger: Logger): RateBudget | undefined {
  const appKey = vars.JST_APP_KEY?.trim();
  if (!appKey) return undefined;
  let rate: { perSecond: number; perMinute: number };
  try {
    rate = jstRateFromEnv(vars);
  } catch {
    return undefined;
  }
  if (!env.RATE_BUDGET) return isolateBudget(appKey, systemClock, jstRateLimits(rate));
  return new DoRateBudget({ namespace: env.RATE_BUDGET, appKey, clock: systemClock, rate, logger });
}
