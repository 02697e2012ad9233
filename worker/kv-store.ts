/**
 * KeyValueStore over a Workers KV binding. Lists page with the cursor until `list_complete` (a page may be
 * empty while more follow), reads in bulk (up to 100 keys per call, one KV operation), and turns KV's
 * failures into BridgeErrors (429 on a second write within a second is retryable).
 */
import { BridgeError } from "../shared/errors.ts";
import type { KeyValueStore } from "../shared/ports.ts";
import { checkKey, checkTtl, type BulkReadableStore } from "../shared/state/kv-helpers.ts";

export interface WorkersKvStoreOptions {
  /** Keys per list call (KV's maximum and default is 1000); smaller only to exercise paging in tests. */
  listPageSize?: number;
}

export class WorkersKvStore implements KeyValueStore, BulkReadableStore {
  private readonly kv: KVNamespace;
  private readonly listPageSize: number;

  constructor(kv: KVNamespace, options: WorkersKvStoreOptions = {}) {
    this.kv = kv;
    this.listPageSize = Math.min(1000, Math.max(1, Math.floor(options.listPageSize ?? 1000)));
  }

  async get(key: string): Promise<string | null> {
    try {
      return await this.kv.get(key, "text");
    } catch (error) {
      throw kvError("GET", key, error);
    }
  }

  async getMany(keys: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (let i = 0; i < keys.length; i += 100) {
      const slice = keys.slice(i, i + 100);
      try {
        const got = await this.kv.get(slice, "text");
        for (const k of slice) out.set(k, got.get(k) ?? null);
      } catch (error) {
        throw kvError("GET (bulk)", slice[0] ?? "", error);
      }
    }
    return out;
  }

  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    checkKey(key);
    checkTtl(options?.expirationTtl, key);
    try {
      await this.kv.put(key, value, options?.expirationTtl === undefined ? undefined : { expirationTtl: Math.ceil(options.expirationTtl) });
    } catch (error) {
      throw kvError("PUT", key, error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.kv.delete(key);
    } catch (error) {
      throw kvError("DELETE", key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      let page: KVNamespaceListResult<unknown, string>;
      try {
        page = await this.kv.list(cursor === undefined ? { prefix, limit: this.listPageSize } : { prefix, limit: this.listPageSize, cursor });
      } catch (error) {
        throw kvError("LIST", prefix, error);
      }
      for (const k of page.keys) keys.push(k.name);
      if (page.list_complete) return keys;
      cursor = page.cursor;
    }
  }
}

function kvError(op: string, key: string, error: unknown): BridgeError {
  const message = error instanceof Error ? error.message : String(error);
  const rateLimited = /\b429\b|too many requests/i.test(message);
  return new BridgeError(rateLimited ? "kv_rate_limited" : "kv_error", `KV ${op} "${key}" failed: ${message}`, {
    retryable: rateLimited || /\b5\d\d\b|timed? ?out|network/i.test(message),
    hint: rateLimited
      ? "KV allows one write per second per key and 1,000 writes a day on the Free plan; write less often."
      : "Check the STATE KV binding in wrangler.toml and the account's KV limits.",
    cause: error,
    details: { op, key },
  });
}
