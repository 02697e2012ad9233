/**
 * Proactive sliding-window rate limiter: a caller waits (through the injected Clock) until every limit has
 * room, so a steady sync never provokes the server's throttle answers. Reactive backoff alone is what makes
 * syncs stall near a vendor limit; waiting before the request is cheaper than retrying after it.
 *
 * Semantics: a grant at instant `g` occupies a slot of a limit `{ limit, windowMs }` until `g + windowMs`
 * (exclusive). So at most `limit` grants fall inside any half-open interval of length `windowMs`, which
 * also satisfies a server that counts in fixed (aligned) windows. `marginMs` widens every window to absorb
 * the gap between "granted here" and "counted there" (network jitter). Shared budgets: http/rate-budget.ts.
 */
import type { Clock } from "../ports.ts";
import { settleGrant, type RateBudget, type RateGrant, type RateWindowState } from "./rate-budget.ts";

export interface RateLimit {
  /** Grants allowed per window. */
  limit: number;
  windowMs: number;
}

export interface RateLimiterOptions {
  clock: Clock;
  limits: RateLimit[];
  /** Added to every window (default 0). */
  marginMs?: number;
  /** A grant never settled counts as arriving at most this long after it was granted (default 35 s). */
  inFlightCapMs?: number;
}

/**
 * In process. A grant in flight (handed out, answer not back) counts as arriving "now" at every check: the
 * server counts a request when it arrives, and it may arrive any time until the answer does. So no more than
 * `limit` requests are ever in flight at once (the per-second limit is a concurrency limit too: JSTCODE calls
 * 199 "调用接口并发量过高"), and a settled grant occupies its slot a window from its answer.
 */
export class SlidingWindowRateLimiter implements RateBudget {
  private readonly clock: Clock;
  private readonly limits: RateLimit[];
  private readonly marginMs: number;
  private readonly longestWindowMs: number;
  private readonly inFlightCapMs: number;
  /** Settled grant instants (when their answer came back), ascending; trimmed to the longest window. */
  private grants: number[] = [];
  /** Grants in flight: id → instant granted. */
  private readonly inFlight = new Map<number, number>();
  private nextId = 0;
  private settledWaiters: Array<() => void> = [];
  private pausedUntil = 0;
  /** Acquirers queue here, so concurrent callers are granted one at a time and in order. */
  private tail: Promise<unknown> = Promise.resolve();
  private grantedTotal = 0;

  constructor(options: RateLimiterOptions) {
    for (const l of options.limits) {
      if (!(Number.isInteger(l.limit) && l.limit > 0 && l.windowMs > 0)) {
        throw new RangeError(`rate limit ${JSON.stringify(l)} must have a positive integer limit and a positive windowMs`);
      }
    }
    this.clock = options.clock;
    this.limits = options.limits.map((l) => ({ ...l }));
    this.marginMs = Math.max(0, options.marginMs ?? 0);
    this.longestWindowMs = Math.max(0, ...this.limits.map((l) => l.windowMs)) + this.marginMs;
    this.inFlightCapMs = options.inFlightCapMs ?? 35_000;
  }

  /**
   * Resolves when a request may be sent now (and records it); rejects if `signal` aborts while waiting. Settle
   * the grant when the answer is back: the slot then lasts a window from then, whatever the trip took.
   */
  acquire(signal?: AbortSignal): Promise<RateGrant> {
    const turn = this.tail.then(() => this.waitForSlot(signal));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Milliseconds until a grant would be possible at `now` (0 = immediately). Does not record anything. */
  delayAt(now: number): number {
    const effective = this.effectiveAt(now);
    let wait = Math.max(0, this.pausedUntil - now);
    for (const l of this.limits) {
      const window = l.windowMs + this.marginMs;
      let inWindow = 0;
      for (let i = effective.length - 1; i >= 0 && effective[i]! > now - window; i--) inWindow++;
      if (inWindow >= l.limit) {
        // The grant that must leave the window before there is room again.
        const blocking = effective[effective.length - l.limit]!;
        wait = Math.max(wait, blocking + window - now);
      }
    }
    return wait;
  }

  /** Holds every acquirer until `epochMs` (used after the server says we were too fast anyway). */
  pauseUntil(epochMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, epochMs);
  }

  /** Grants handed out since construction. */
  get granted(): number {
    return this.grantedTotal;
  }

  /** What a persisted budget stores: every grant as an instant (in-flight ones at now), and the pause. */
  snapshot(): RateWindowState {
    return { grants: this.effectiveAt(this.clock.now()), pausedUntil: this.pausedUntil };
  }

  /** Adds grants another process (or an earlier one) made; instants already known are not counted twice. */
  absorb(state: RateWindowState): void {
    const known = new Set(this.grants);
    const added = state.grants.filter((g) => !known.has(g));
    if (added.length) this.grants = [...this.grants, ...added].sort((a, b) => a - b);
    this.pauseUntil(state.pausedUntil);
  }

  /** Settled grants and in-flight ones (at `now`, at most the cap after their grant), ascending. */
  private effectiveAt(now: number): number[] {
    if (this.inFlight.size === 0) return this.grants;
    const flying = [...this.inFlight.values()].map((g) => Math.max(g, Math.min(now, g + this.inFlightCapMs)));
    return [...this.grants, ...flying].sort((a, b) => a - b);
  }

  private async waitForSlot(signal?: AbortSignal): Promise<RateGrant> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const now = this.clock.now();
      const wait = this.delayAt(now);
      if (wait <= 0) return this.record(now);
      if (this.inFlight.size === 0) {
        await this.clock.sleep(wait, signal);
        continue;
      }
      // An answer coming back may make room sooner than the wait computed with it counted at "now".
      const stop = new AbortController();
      const onAbort = () => stop.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await Promise.race([this.clock.sleep(wait, stop.signal), new Promise<void>((resolve) => this.settledWaiters.push(resolve))]);
      } finally {
        signal?.removeEventListener("abort", onAbort);
        if (!stop.signal.aborted) stop.abort();
      }
    }
  }

  private record(now: number): RateGrant {
    const id = this.nextId++;
    this.inFlight.set(id, now);
    this.grantedTotal++;
    const horizon = now - this.longestWindowMs;
    let drop = 0;
    while (drop < this.grants.length && this.grants[drop]! <= horizon) drop++;
    if (drop > 0) this.grants = this.grants.slice(drop);
    for (const [other, at] of this.inFlight) if (at + this.inFlightCapMs <= horizon) this.inFlight.delete(other);
    return {
      settle: () => {
        const grantedAt = this.inFlight.get(id);
        if (grantedAt === undefined) return;
        this.inFlight.delete(id);
        this.grants = settleGrant(
          [...this.grants, grantedAt].sort((a, b) => a - b),
          grantedAt,
          Math.min(this.clock.now(), grantedAt + this.inFlightCapMs),
        );
        const waiters = this.settledWaiters;
        this.settledWaiters = [];
        for (const wake of waiters) wake();
      },
    };
  }
}
