/**
 * A rate budget whose window outlives the process: the CLI/Action keeps the grants of the last minute in its
 * state store (file state, or the Worker's KV through the REST API), so a backfill started right after another
 * one waits for the minute the previous process left instead of drawing 200s ("一分钟不超过100次").
 *
 * In process it is the SlidingWindowRateLimiter (grants in flight count as arriving now). The stored value holds
 * one entry per process (`writers`): each save replaces this process's entry and keeps the others' (read-merge-
 * write), and loading or saving absorbs the others' grants, so processes running at the same time over one store
 * learn each other's grants within one save interval. That is best effort (the store has no compare-and-swap, and
 * KV reads may be up to 60 s stale), unlike the Worker's Durable Object; back-to-back processes are exact as long
 * as the first one flushed (the CLI flushes at the end of every sync).
 *
 * Writes are debounced (`saveIntervalMs`, default 10 s): a KV write per request would spend the Free plan's 1,000
 * writes a day in ten minutes.
 */
import type { Clock, KeyValueStore, Logger } from "../ports.ts";
import { silentLogger } from "../ports.ts";
import { md5Hex } from "../util/md5.ts";
import { type RateBudget, type RateGrant, type RateLimit, type RateWindowState, readRateWindow } from "./rate-budget.ts";
import { SlidingWindowRateLimiter } from "./rate-limiter.ts";

/** `rate:jst:<md5(app_key) prefix>`: one window per app; the key carries no credential. */
export function rateWindowKey(appKey: string): string {
  return `rate:jst:${md5Hex(appKey).slice(0, 16)}`;
}

export interface PersistedRateBudgetOptions {
  kv: KeyValueStore;
  key: string;
  clock: Clock;
  limits: RateLimit[];
  marginMs?: number;
  saveIntervalMs?: number;
  logger?: Logger;
  /** This process's entry in the stored value (default: random). */
  writerId?: string;
}

interface StoredWindows {
  writers: Record<string, RateWindowState & { savedAt: number }>;
}

export class PersistedRateBudget implements RateBudget {
  private readonly options: PersistedRateBudgetOptions;
  private readonly limiter: SlidingWindowRateLimiter;
  private readonly longestMs: number;
  private readonly writerId: string;
  private loaded: Promise<void> | null = null;
  private dirty = false;
  private lastSave = Number.NEGATIVE_INFINITY;
  private saving: Promise<void> = Promise.resolve();

  constructor(options: PersistedRateBudgetOptions) {
    this.options = options;
    this.limiter = new SlidingWindowRateLimiter({ clock: options.clock, limits: options.limits, marginMs: options.marginMs ?? 0 });
    this.longestMs = Math.max(0, ...options.limits.map((l) => l.windowMs)) + (options.marginMs ?? 0);
    this.writerId = options.writerId ?? Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** Grants handed out by this process. */
  get granted(): number {
    return this.limiter.granted;
  }

  async acquire(signal?: AbortSignal): Promise<RateGrant> {
    await (this.loaded ??= this.load());
    const grant = await this.limiter.acquire(signal);
    this.dirty = true;
    return {
      settle: () => {
        grant.settle();
        this.maybeSave();
      },
    };
  }

  pauseUntil(epochMs: number): void {
    this.limiter.pauseUntil(epochMs);
    this.dirty = true;
  }

  /** Writes the window now (end of a sync). Never throws: a lost window costs throttles, not data. */
  async flush(): Promise<void> {
    await this.saving;
    if (this.dirty) await this.save();
  }

  private maybeSave() {
    if (this.options.clock.now() - this.lastSave < (this.options.saveIntervalMs ?? 10_000)) return;
    this.lastSave = this.options.clock.now();
    // Beside the requests, not in their way; flush() waits for it.
    this.saving = this.saving.then(() => this.save());
  }

  private async readStored(): Promise<StoredWindows> {
    const raw = await this.options.kv.get(this.options.key);
    let value: Partial<StoredWindows> = {};
    try {
      value = raw ? (JSON.parse(raw) as Partial<StoredWindows>) : {};
    } catch (error) {
      // Overwritten by the next save; pacing goes on from what this process knows.
      this.warn("jushuitan rate window unreadable; it is replaced", error);
    }
    const writers: StoredWindows["writers"] = {};
    if (value.writers && typeof value.writers === "object") {
      for (const [id, w] of Object.entries(value.writers)) writers[id] = { ...readRateWindow(w), savedAt: typeof w?.savedAt === "number" ? w.savedAt : 0 };
    }
    return { writers };
  }

  private absorbOthers(stored: StoredWindows) {
    for (const [id, w] of Object.entries(stored.writers)) if (id !== this.writerId) this.limiter.absorb(w);
  }

  private async load(): Promise<void> {
    try {
      this.absorbOthers(await this.readStored());
    } catch (error) {
      this.warn("jushuitan rate window unreadable; starting without it", error);
    }
  }

  private async save(): Promise<void> {
    const { kv, key, clock } = this.options;
    this.lastSave = clock.now();
    this.dirty = false;
    try {
      const stored = await this.readStored();
      this.absorbOthers(stored);
      const horizon = clock.now() - this.longestMs;
      const writers: StoredWindows["writers"] = {};
      for (const [id, w] of Object.entries(stored.writers)) if (id !== this.writerId && w.savedAt > horizon) writers[id] = w;
      const mine = this.limiter.snapshot();
      writers[this.writerId] = { grants: mine.grants.filter((g) => g > horizon), pausedUntil: mine.pausedUntil, savedAt: clock.now() };
      // Expires by itself a few minutes after the last save (KV's shortest TTL is 60 s).
      await kv.put(key, JSON.stringify({ writers }), { expirationTtl: Math.max(120, Math.ceil((this.longestMs * 2) / 1000)) });
    } catch (error) {
      this.dirty = true;
      this.warn("jushuitan rate window not saved", error);
    }
  }

  private warn(message: string, error: unknown) {
    (this.options.logger ?? silentLogger).warn(message, { key: this.options.key, message: error instanceof Error ? error.message : String(error) });
  }
}
