/**
 * The CLI/Action borrowing the Worker's Jushuitan rate budget (worker/rate-budget-api.ts → the app's JstRateBudget
 * Durable Object): with JST_RATE_BUDGET_URL (the Worker's base URL) and SYNC_API_TOKEN, a backfill on an office PC
 * and the Worker's cron runs wait on one window. One HTTP request to the Worker per Jushuitan request; answers are
 * reported with the next reservation. If the Worker cannot be reached, pacing goes on with `fallback` (a warning
 * once): a sync never stops because the budget is away, it only loses the sharing.
 */
import type { Clock, FetchLike, Logger } from "../ports.ts";
import { silentLogger } from "../ports.ts";
import { type RateBudget, type RateGrant, reservedGrant } from "./rate-budget.ts";

export interface RemoteRateBudgetOptions {
  baseUrl: string;
  token: string;
  fetch: FetchLike;
  clock: Clock;
  fallback: RateBudget;
  logger?: Logger;
}

export class RemoteRateBudget implements RateBudget {
  private readonly options: RemoteRateBudgetOptions;
  private settles: Array<{ at: number; elapsedMs: number }> = [];
  private failed = false;
  /** Reservations the Worker granted. */
  borrowed = 0;

  constructor(options: RemoteRateBudgetOptions) {
    this.options = options;
  }

  async acquire(signal?: AbortSignal): Promise<RateGrant | void> {
    if (this.failed) return this.options.fallback.acquire(signal);
    const { clock } = this.options;
    const settles = this.settles;
    this.settles = [];
    let reservation: { at: number; waitMs: number };
    try {
      reservation = await this.post<{ at: number; waitMs: number }>("reserve", { settles }, signal);
      if (!Number.isFinite(reservation.at) || !Number.isFinite(reservation.waitMs)) throw new Error("the answer has no slot");
      this.borrowed++;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      this.failed = true;
      (this.options.logger ?? silentLogger).warn("the Worker's Jushuitan rate budget is unreachable; pacing in this process only", {
        message: error instanceof Error ? error.message : String(error),
      });
      return this.options.fallback.acquire(signal);
    }
    return reservedGrant(reservation, clock, (settle) => this.settles.push(settle), signal, 5 * 60_000);
  }

  /** Saves what the fallback knows (a persisted window), if it has anything to save. */
  async flush(): Promise<void> {
    await (this.options.fallback as RateBudget & { flush?: () => Promise<void> }).flush?.();
  }

  pauseUntil(epochMs: number): void {
    this.options.fallback.pauseUntil(epochMs);
    const ms = Math.round(epochMs - this.options.clock.now());
    if (this.failed || ms <= 0) return;
    this.post("pause", { ms: Math.min(ms, 5 * 60_000) }).catch(() => undefined);
  }

  private async post<T>(what: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const url = `${this.options.baseUrl.replace(/\/+$/, "")}/rate-budget/jushuitan/${what}`;
    const res = await this.options.fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.options.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
    return (await res.json()) as T;
  }
}
