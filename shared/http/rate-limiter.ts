/**
 * Proactive sliding-window rate limiter: a caller waits (through the injected Clock) until every limit has
 * room, so a steady sync never provokes the server's throttle answers. Reactive backoff alone is what makes
 * syncs stall near a vendor limit; waiting before the request is cheaper than retrying after it.
 *
 * Semantics: a grant at instant `g` occupies a slot of a limit `{ limit, windowMs }` until `g + windowMs`
 * (exclusive). So at most `limit` grants fall inside any half-open interval of length `windowMs`, which
 * also satisfies a server that counts in fixed (aligned) windows. `marginMs` widens every window to absorb
 * the gap between "granted here" and "counted there" (network jitter).
 */
import type { Clock } from "../ports.ts";

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
}

export class SlidingWindowRateLimiter {
  private readonly clock: Clock;
  private readonly limits: RateLimit[];
  private readonly marginMs: number;
  private readonly longestWindowMs: number;
  /** Grant instants, ascending; trimmed to the longest window. */
  private grants: number[] = [];
  private pausedUntil = 0;
  /** Acquirers queue here, so concurrent callers are granted one at a time and in order. */
  private tail: Promise<void> = Promise.resolve();
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
  }

  /** Resolves when a request may be sent now (and records it); rejects if `signal` aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.tail.then(() => this.waitForSlot(signal));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Milliseconds until a grant would be possible at `now` (0 = immediately). Does not record anything. */
  delayAt(now: number): number {
    let wait = Math.max(0, this.pausedUntil - now);
    for (const l of this.limits) {
      const window = l.windowMs + this.marginMs;
      const inWindow = this.countSince(now - window);
      if (inWindow >= l.limit) {
        // The grant that must leave the window before there is room again.
        const blocking = this.grants[this.grants.length - l.limit]!;
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

  private async waitForSlot(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const now = this.clock.now();
      const wait = this.delayAt(now);
      if (wait <= 0) {
        this.record(now);
        return;
      }
      await this.clock.sleep(wait, signal);
    }
  }

  private record(now: number) {
    this.grants.push(now);
    this.grantedTotal++;
    const horizon = now - this.longestWindowMs;
    let drop = 0;
    while (drop < this.grants.length && this.grants[drop]! <= horizon) drop++;
    if (drop > 0) this.grants = this.grants.slice(drop);
  }

  /** Grants strictly after `since` (a grant exactly `window` ago has left the window). */
  private countSince(since: number): number {
    let n = 0;
    for (let i = this.grants.length - 1; i >= 0 && this.grants[i]! > since; i--) n++;
    return n;
  }
}
