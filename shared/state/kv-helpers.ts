/**
 * Small helpers shared by the state stores: bulk reads, the one-write-per-second-per-key spacing,
 * TTL checks and JSON decoding with a clear error.
 */
import type * as z from "zod/mini";
import { BridgeError, ConfigError } from "../errors.ts";
import type { Clock, KeyValueStore } from "../ports.ts";
import { utf8Length } from "../util/utf8.ts";

/** KV's smallest accepted expirationTtl, in seconds. */
export const MIN_TTL_SECONDS = 60;
/** KV's largest value (25 MiB). */
export const MAX_VALUE_BYTES = 25 * 1024 * 1024;
/** KV's largest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 512;

/** A store that can read many keys in one operation (the Worker binding reads up to 100 keys per call). */
export interface BulkReadableStore {
  getMany(keys: string[]): Promise<Map<string, string | null>>;
}

export function supportsBulkRead(store: KeyValueStore): store is KeyValueStore & BulkReadableStore {
  return typeof (store as Partial<BulkReadableStore>).getMany === "function";
}

/**
 * Reads many keys: through getMany when the backend has it, otherwise with at most `concurrency` reads
 * in flight (Workers allow 6 open connections; 5 leaves one for the caller).
 */
export async function readMany(store: KeyValueStore, keys: string[], concurrency = 5): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (keys.length === 0) return out;
  if (supportsBulkRead(store)) {
    for (let i = 0; i < keys.length; i += 100) {
      const got = await store.getMany(keys.slice(i, i + 100));
      for (const [k, v] of got) out.set(k, v);
    }
    return out;
  }
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      out.set(key, await store.get(key));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return out;
}

/**
 * KV rejects a second write to one key within a second (429). Stores that rewrite a key (checkpoint,
 * dead-letter resolution, reference manifest) wait out the rest of that second on the injected clock
 * instead of failing.
 */
export class WriteSpacer {
  private readonly lastWrite = new Map<string, number>();
  private readonly clock: Clock;
  private readonly intervalMs: number;

  constructor(clock: Clock, intervalMs = 1000) {
    this.clock = clock;
    this.intervalMs = intervalMs;
  }

  async write(key: string, doWrite: () => Promise<void>): Promise<void> {
    const last = this.lastWrite.get(key);
    if (last !== undefined && this.intervalMs > 0) {
      const wait = last + this.intervalMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait);
    }
    await doWrite();
    this.lastWrite.set(key, this.clock.now());
  }
}

export function checkTtl(expirationTtl: number | undefined, key: string): void {
  if (expirationTtl === undefined) return;
  if (!Number.isFinite(expirationTtl) || expirationTtl < MIN_TTL_SECONDS) {
    throw new ConfigError(`expirationTtl ${expirationTtl} for key "${key}" is below KV's minimum of ${MIN_TTL_SECONDS} s`, {
      hint: `Use an expirationTtl of at least ${MIN_TTL_SECONDS} seconds.`,
      details: { key, expirationTtl },
    });
  }
}

export function checkKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key === "." || key === ".." || utf8Length(key) > MAX_KEY_BYTES) {
    throw new ConfigError(`Invalid KV key ${JSON.stringify(typeof key === "string" ? key.slice(0, 80) : key)}`, {
      hint: `KV keys are 1–${MAX_KEY_BYTES} UTF-8 bytes and cannot be "." or "..".`,
    });
  }
}

export { utf8Length };

/** Parses a stored value against its schema; a broken value names the key and how to recover. */
export function decodeStored<T>(key: string, raw: string, schema: z.ZodMiniType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw corrupt(key, "it is not valid JSON");
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw corrupt(key, `${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

function corrupt(key: string, why: string): BridgeError {
  return new BridgeError("state_corrupt", `State value "${key}" cannot be read: ${why}`, {
    hint: `Inspect the key in the KV namespace; delete it (wrangler kv key delete "${key}") if it was written by hand or by an incompatible version.`,
    details: { key },
  });
}

export interface KvOperationCounts {
  reads: number;
  writes: number;
  deletes: number;
  lists: number;
}

/**
 * Wraps a store and counts its operations, so the engine can report KV writes per run and count KV calls
 * against the Worker's subrequest budget. Bulk reads pass through (and count once, as in KV).
 */
export class MeteredKeyValueStore implements KeyValueStore, BulkReadableStore {
  readonly counts: KvOperationCounts = { reads: 0, writes: 0, deletes: 0, lists: 0 };
  private readonly inner: KeyValueStore;

  constructor(inner: KeyValueStore) {
    this.inner = inner;
  }

  get(key: string) {
    this.counts.reads++;
    return this.inner.get(key);
  }

  async getMany(keys: string[]) {
    if (supportsBulkRead(this.inner)) {
      this.counts.reads++;
      return this.inner.getMany(keys);
    }
    this.counts.reads += keys.length;
    return readMany(this.inner, keys);
  }

  put(key: string, value: string, options?: { expirationTtl?: number }) {
    this.counts.writes++;
    return this.inner.put(key, value, options);
  }

  delete(key: string) {
    this.counts.deletes++;
    return this.inner.delete(key);
  }

  list(prefix: string) {
    this.counts.lists++;
    return this.inner.list(prefix);
  }
}
