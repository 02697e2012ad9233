import { BudgetExhaustedError, isRetryable } from "../errors.ts";
import type { Clock } from "../ports.ts";

export interface RetryOptions {
  /** Total attempts including the first (≥ 1). */
  tries: number;
  /** First backoff in ms; doubles each attempt up to maxDelayMs, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  clock: Clock;
  /** Decides whether an error is worth another attempt; defaults to BridgeError.retryable. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Server-suggested minimum wait for this error (e.g. throttling), in ms. */
  minDelayFor?: (error: unknown) => number | undefined;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  random?: () => number;
  signal?: AbortSignal;
}

/** Runs `task` with exponential backoff and full jitter on retryable errors; the budget error always escapes at once. */
export async function withRetry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const shouldRetry = options.shouldRetry ?? ((e) => isRetryable(e));
  const random = options.random ?? Math.random;
  let failed: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (error instanceof BudgetExhaustedError) {
        if (failed !== undefined && error.after === undefined) error.after = failed;
        throw error;
      }
      failed = error;
      if (attempt >= options.tries || !shouldRetry(error, attempt) || options.signal?.aborted) throw error;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.max(Math.round(random() * ceiling), options.minDelayFor?.(error) ?? 0);
      options.onRetry?.(error, attempt, delay);
      await options.clock.sleep(delay, options.signal);
    }
  }
}
