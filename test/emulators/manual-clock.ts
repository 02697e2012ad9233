/**
 * A Clock for tests: time stands still until someone sleeps or calls advance(). `sleep` advances the time
 * at once, so backoff and rate-limit waits cost no wall time, and an emulator given `now: () => clock.now()`
 * sees exactly the time the client waited for.
 */
import type { Clock } from "../../shared/ports.ts";

export class ManualClock implements Clock {
  private current: number;
  /** Total milliseconds slept through this clock (what a real run would have waited). */
  slept = 0;
  sleeps = 0;

  constructor(start: number = Date.UTC(2024, 5, 20, 2, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const step = Math.max(0, ms);
    this.current += step;
    this.slept += step;
    this.sleeps++;
    return Promise.resolve();
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(epochMs: number): void {
    this.current = epochMs;
  }
}
