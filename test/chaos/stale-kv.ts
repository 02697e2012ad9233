/**
 * A hostile Workers KV binding (chaos class state.staleKv, issue 12 item 12): KV is eventually consistent across
 * locations, so a read may return a value up to 60 s old ("Changes may take up to 60 seconds or more to be visible
 * in other locations": https://developers.cloudflare.com/kv/concepts/how-kv-works/). Only the platform is wrapped,
 * never product code: the Worker's invocations get this binding; the harness's own reads (the verdict) use the real one.
 *
 * Model: every put/delete made through the wrapper is kept with its instant; a read (single or bulk), with probability
 * `share`, answers what the key held `age` ago, age drawn in [0, maxAgeMs) — the value before a write that is younger
 * than that, including "absent" before a key's first write. Keys the wrapper never saw written answer their real value.
 * Lists are not made stale here (list lag is the known limitation adv12-outbox-list-lag, test/core).
 *
 * `fresh` keys always read fresh. The chaos suite passes the rotating credentials (`tok:`): with a stale pair a run
 * refreshes with a refresh token the vendor has already rotated away and the flow stopped for good (seed 9015 long,
 * tplus_refresh_failed in every later run) — a known limitation until credentials live in strongly consistent
 * state (the Durable Object), reported rather than drawn.
 */
export interface StaleKvOptions {
  random: () => number;
  /** Probability that a read is served from the past. */
  share: number;
  maxAgeMs: number;
  now?: () => number;
  /** Keys (by prefix) whose reads are never stale. */
  fresh?: string[];
}

interface Version {
  at: number;
  value: string | null;
}

/**
 * `settle()`: every write so far is visible everywhere from now on. The chaos driver calls it when users edit posted
 * documents (test/chaos/edits.ts): in real time the run that reads an edit comes at least the end lag (5 min) after
 * the posting it corrects, longer than KV's 60 s; the compressed scenario would otherwise read a posting's ledger
 * entry as absent seconds later, which no deployment sees.
 */
export function staleKv(kv: KVNamespace, options: StaleKvOptions): { kv: KVNamespace; staleReads: () => number; settle: () => void } {
  const now = options.now ?? (() => Date.now());
  const history = new Map<string, Version[]>();
  let stale = 0;

  /** The value before the first tracked write: read once, as if it had been there for good. */
  const track = async (key: string) => {
    if (history.has(key)) return;
    history.set(key, [{ at: -Infinity, value: await kv.get(key, "text") }]);
  };
  /** What a read of `key` answers, given its real current value. */
  const view = (key: string, current: string | null): string | null => {
    const versions = history.get(key);
    if (!versions || options.fresh?.some((p) => key.startsWith(p)) || options.random() >= options.share) return current;
    const cutoff = now() - options.random() * options.maxAgeMs;
    let seen: Version | undefined;
    for (const v of versions) if (v.at <= cutoff) seen = v;
    if (!seen || seen.value === current) return current;
    stale++;
    return seen.value;
  };
  const decode = (value: string | null, type: unknown) => {
    const kind = typeof type === "string" ? type : (type as { type?: string } | undefined)?.type;
    if (value === null || kind === undefined || kind === "text") return value;
    if (kind === "json") return JSON.parse(value) as unknown;
    if (kind === "arrayBuffer") return new TextEncoder().encode(value).buffer;
    throw new Error(`stale KV wrapper: read type ${String(kind)} is not modelled`);
  };

  const wrapped = new Proxy(kv, {
    get(target, property) {
      if (property === "get") {
        return async (key: string | string[], type?: unknown) => {
          if (Array.isArray(key)) {
            const real = await target.get(key, "text");
            const out = new Map<string, unknown>();
            for (const k of key) out.set(k, decode(view(k, real.get(k) ?? null), type));
            return out;
          }
          return decode(view(key, await target.get(key, "text")), type);
        };
      }
      if (property === "put") {
        return async (key: string, value: string, opts?: KVNamespacePutOptions) => {
          await track(key);
          await target.put(key, value, opts);
          history.get(key)!.push({ at: now(), value: String(value) });
        };
      }
      if (property === "delete") {
        return async (key: string) => {
          await track(key);
          await target.delete(key);
          history.get(key)!.push({ at: now(), value: null });
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { kv: wrapped, staleReads: () => stale, settle: () => history.clear() };
}
