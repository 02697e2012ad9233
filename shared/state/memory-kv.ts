/**
 * In-memory KeyValueStore for tests and one-shot runs. It behaves like Workers KV where that matters to
 * the design: sorted prefix listing, TTL expiry (≥ 60 s), bulk reads, and — when switched on — the
 * one-write-per-second-per-key rule (a second write within the second fails like KV's 429).
 * It counts operations so tests can assert the KV write budget.
 */
import { BridgeError } from "../errors.ts";
import type { KeyValueStore } from "../ports.ts";
import { checkKey, checkTtl, type BulkReadableStore } from "./kv-helpers.ts";

export interface MemoryKvOptions {
  /** Time source for TTL expiry and the write-rate rule (epoch ms). */
  now?: () => number;
  /** Reject a second write to the same key within `writeIntervalMs` (KV: 1 per second). */
  enforceWriteRate?: boolean;
  writeIntervalMs?: number;
  /** Initial contents (no TTL). */
  initial?: Record<string, string>;
}

export interface MemoryKvStats {
  /** get/getMany calls (a bulk read counts once, as in KV). */
  reads: number;
  /** Keys read, counting each key of a bulk read. */
  keysRead: number;
  writes: number;
  deletes: number;
  lists: number;
}

interface Entry {
  value: string;
  expiresAt?: number;
  writtenAt: number;
}

export class MemoryKeyValueStore implements KeyValueStore, BulkReadableStore {
  private readonly data = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly enforceWriteRate: boolean;
  private readonly writeIntervalMs: number;
  stats: MemoryKvStats = { reads: 0, keysRead: 0, writes: 0, deletes: 0, lists: 0 };
  /** Keys in write order (one element per successful put), for asserting what was written. */
  writeLog: string[] = [];

  constructor(options: MemoryKvOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.enforceWriteRate = options.enforceWriteRate ?? false;
    this.writeIntervalMs = options.writeIntervalMs ?? 1000;
    for (const [k, v] of Object.entries(options.initial ?? {})) this.data.set(k, { value: v, writtenAt: -Infinity });
  }

  async get(key: string): Promise<string | null> {
    this.stats.reads++;
    this.stats.keysRead++;
    return this.live(key)?.value ?? null;
  }

  async getMany(keys: string[]): Promise<Map<string, string | null>> {
    this.stats.reads++;
    this.stats.keysRead += keys.length;
    return new Map(keys.map((k) => [k, this.live(k)?.value ?? null]));
  }

  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    checkKey(key);
    checkTtl(options?.expirationTtl, key);
    if (typeof value !== "string") throw new TypeError(`MemoryKeyValueStore.put("${key}"): value must be a string`);
    const now = this.now();
    const previous = this.data.get(key);
    if (this.enforceWriteRate && previous && now - previous.writtenAt < this.writeIntervalMs) {
      throw new BridgeError("kv_rate_limited", `KV PUT failed: 429 Too Many Requests (key "${key}" written twice within ${this.writeIntervalMs} ms)`, {
        retryable: true,
        hint: "KV allows one write per second per key; write each key once per run.",
        details: { key },
      });
    }
    const entry: Entry = { value, writtenAt: now };
    if (options?.expirationTtl !== undefined) entry.expiresAt = now + options.expirationTtl * 1000;
    this.data.set(key, entry);
    this.stats.writes++;
    this.writeLog.push(key);
  }

  async delete(key: string): Promise<void> {
    this.stats.deletes++;
    this.data.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    this.stats.lists++;
    return [...this.data.keys()].filter((k) => k.startsWith(prefix) && this.live(k)).sort(compareUtf8);
  }

  resetStats(): void {
    this.stats = { reads: 0, keysRead: 0, writes: 0, deletes: 0, lists: 0 };
    this.writeLog = [];
  }

  /** Live contents (expired keys dropped), sorted by key: for assertions and for copying state between backends. */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.data.keys()].sort(compareUtf8)) {
      const e = this.live(k);
      if (e) out[k] = e.value;
    }
    return out;
  }

  private live(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }
}

/** KV lists keys in UTF-8 byte order; UTF-16 order differs only for astral characters, handled here. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
