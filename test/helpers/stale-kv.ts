/**
 * Workers KV as seen from several locations (https://developers.cloudflare.com/kv/concepts/how-kv-works/: a change
 * is usually visible at once where it was written, elsewhere up to 60 s or more later; lists lag the same way).
 * `view(location)` is one location's KV: its own writes are visible at once; another location's write (put or
 * delete) only once it is `lagMs` old — until then get and list return what the key held before it. Worst case
 * for every read, deterministic. State written before the wrapper existed is visible everywhere.
 */
import type { KeyValueStore } from "../../shared/ports.ts";

interface Version {
  at: number;
  by: string;
  value: string | null;
}

export class StaleKeyValueStore {
  private readonly history = new Map<string, Version[]>();
  private readonly inner: KeyValueStore;
  private readonly now: () => number;
  private readonly lagMs: number;

  constructor(inner: KeyValueStore, now: () => number, lagMs = 60_000) {
    this.inner = inner;
    this.now = now;
    this.lagMs = lagMs;
  }

  view(location: string): KeyValueStore {
    return {
      get: (key) => this.read(key, location),
      put: async (key, value, options) => {
        await this.record(key, location, value);
        await this.inner.put(key, value, options);
      },
      delete: async (key) => {
        await this.record(key, location, null);
        await this.inner.delete(key);
      },
      list: async (prefix) => {
        const keys = new Set(await this.inner.list(prefix));
        for (const key of this.history.keys()) {
          if (!key.startsWith(prefix)) continue;
          if ((await this.read(key, location)) === null) keys.delete(key);
          else keys.add(key);
        }
        return [...keys].sort();
      },
    };
  }

  private async record(key: string, by: string, value: string | null): Promise<void> {
    let versions = this.history.get(key);
    if (!versions) this.history.set(key, (versions = [{ at: -Infinity, by: "", value: await this.inner.get(key) }]));
    versions.push({ at: this.now(), by, value });
  }

  private async read(key: string, location: string): Promise<string | null> {
    const versions = this.history.get(key);
    if (!versions) return this.inner.get(key);
    const seen = this.now() - this.lagMs;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i]!;
      if (v.by !== location && v.at > seen) continue;
      // The latest version as stored (its TTL may have run out); an older one as it was.
      return i === versions.length - 1 && v.value !== null ? this.inner.get(key) : v.value;
    }
    return versions[0]!.value;
  }
}
