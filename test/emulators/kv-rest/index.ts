/**
 * Emulator of the Cloudflare KV REST API endpoints the CLI's KvRestStore uses, mounted under /client/v4:
 *
 *   GET|PUT|DELETE /client/v4/accounts/:account/storage/kv/namespaces/:ns/values/:key
 *   GET            /client/v4/accounts/:account/storage/kv/namespaces/:ns/keys?prefix=&limit=&cursor=
 *
 * It checks the bearer token, keeps values in memory per namespace, honours expiration_ttl (≥ 60 s)
 * against the injected clock, pages lists with an opaque cursor (last page: cursor ""), and can enforce
 * KV's one-write-per-second-per-key rule. Web standards only, so it also runs inside workerd.
 */
import { Hono } from "hono";

export interface KvRestEmulatorOptions {
  /** The token requests must carry as `Authorization: Bearer <token>`. */
  apiToken: string;
  /** When set, other account ids are refused. */
  accountId?: string;
  now?: () => number;
  /** Largest page a list returns, whatever `limit` asks (default 1000). */
  listPageSize?: number;
  /** Reject a second write to a key within a second with 429, as KV does (default off). */
  enforceWriteRate?: boolean;
  /** Largest value in bytes (default 25 MiB). */
  maxValueBytes?: number;
}

export interface KvRestFault {
  /** `http_error`: answer with `status` (and a Cloudflare error body) instead of serving the request. */
  kind: "http_error";
  status: number;
  /** Substring of the path to match; all requests when absent. */
  path?: string;
  method?: string;
  times?: number;
  skip?: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  code?: number;
  message?: string;
}

export interface KvRestRequestLog {
  method: string;
  path: string;
  key?: string;
  query: Record<string, string>;
  bodyBytes?: number;
  status: number;
  at: number;
}

interface StoredValue {
  value: string;
  expiresAt?: number;
  writtenAt: number;
}

interface ArmedFault extends KvRestFault {
  remaining: number;
  toSkip: number;
}

const API_ROOT = "/client/v4";

export function createKvRestEmulator(options: KvRestEmulatorOptions) {
  if (!options?.apiToken) throw new Error("createKvRestEmulator: apiToken is required");
  const now = options.now ?? (() => Date.now());
  const pageSize = Math.max(1, options.listPageSize ?? 1000);
  const maxValueBytes = options.maxValueBytes ?? 25 * 1024 * 1024;
  const namespaces = new Map<string, Map<string, StoredValue>>();
  let requests: KvRestRequestLog[] = [];
  let faults: ArmedFault[] = [];

  const ns = (id: string) => {
    let m = namespaces.get(id);
    if (!m) namespaces.set(id, (m = new Map()));
    return m;
  };
  const live = (m: Map<string, StoredValue>, key: string) => {
    const v = m.get(key);
    if (v?.expiresAt !== undefined && v.expiresAt <= now()) {
      m.delete(key);
      return undefined;
    }
    return v;
  };
  const cfError = (status: number, code: number, message: string, headers?: Record<string, string>) =>
    new Response(JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null }), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
  const ok = (result: unknown, extra: Record<string, unknown> = {}) =>
    new Response(JSON.stringify({ success: true, errors: [], messages: [], result, ...extra }), { headers: { "Content-Type": "application/json" } });

  const app = new Hono();

  // Request log + faults + auth for every API route.
  app.use(`${API_ROOT}/*`, async (c, next) => {
    const url = new URL(c.req.url);
    const entry: KvRestRequestLog = { method: c.req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0, at: now() };
    const marker = "/values/";
    const at = url.pathname.indexOf(marker);
    if (at >= 0) entry.key = safeDecode(url.pathname.slice(at + marker.length));
    requests.push(entry);

    const fault = faults.find((f) => f.remaining > 0 && (!f.path || url.pathname.includes(f.path)) && (!f.method || f.method.toUpperCase() === c.req.method));
    if (fault) {
      if (fault.toSkip > 0) fault.toSkip--;
      else {
        fault.remaining--;
        const headers: Record<string, string> = fault.retryAfter !== undefined ? { "Retry-After": String(fault.retryAfter) } : {};
        entry.status = fault.status;
        return cfError(fault.status, fault.code ?? (fault.status === 429 ? 10013 : 10001), fault.message ?? `injected ${fault.status}`, headers);
      }
    }

    const auth = c.req.header("Authorization") ?? "";
    // UNCERTAIN: Cloudflare answers a bad token with 400/401/403 depending on the failure; 401 + code 10000 here.
    if (auth !== `Bearer ${options.apiToken}`) {
      entry.status = 401;
      return cfError(401, 10000, "Authentication error");
    }
    await next();
    entry.status = c.res.status;
  });

  const base = `${API_ROOT}/accounts/:account/storage/kv/namespaces/:ns`;

  const accountCheck = (account: string) => (options.accountId && account !== options.accountId ? cfError(403, 10000, "Authentication error") : null);

  const keyOf = (url: string) => {
    const path = new URL(url).pathname;
    return safeDecode(path.slice(path.indexOf("/values/") + "/values/".length));
  };

  app.get(`${base}/values/*`, (c) => {
    const denied = accountCheck(c.req.param("account"));
    if (denied) return denied;
    const key = keyOf(c.req.url);
    const v = live(ns(c.req.param("ns")), key);
    if (!v) return cfError(404, 10009, "get: 'key not found'");
    return new Response(v.value, { headers: { "Content-Type": "application/octet-stream" } });
  });

  app.put(`${base}/values/*`, async (c) => {
    const denied = accountCheck(c.req.param("account"));
    if (denied) return denied;
    const key = keyOf(c.req.url);
    if (new TextEncoder().encode(key).length > 512) return cfError(414, 10033, "Key is too long (max 512 bytes)");
    let value: string;
    const type = c.req.header("Content-Type") ?? "";
    if (type.startsWith("multipart/form-data")) {
      const form = await c.req.formData();
      const part = form.get("value");
      value = typeof part === "string" ? part : part ? await part.text() : "";
    } else value = await c.req.text();
    if (new TextEncoder().encode(value).length > maxValueBytes) return cfError(413, 10011, "Value too large");
    const ttlParam = c.req.query("expiration_ttl");
    let expiresAt: number | undefined;
    if (ttlParam !== undefined) {
      const ttl = Number(ttlParam);
      if (!Number.isInteger(ttl) || ttl < 60) return cfError(400, 10016, `Invalid expiration_ttl of ${ttlParam}. Expiration TTL must be at least 60.`);
      expiresAt = now() + ttl * 1000;
    }
    const m = ns(c.req.param("ns"));
    const previous = m.get(key);
    if (options.enforceWriteRate && previous && now() - previous.writtenAt < 1000) {
      return cfError(429, 10048, "KV PUT failed: 429 Too Many Requests");
    }
    const stored: StoredValue = { value, writtenAt: now() };
    if (expiresAt !== undefined) stored.expiresAt = expiresAt;
    m.set(key, stored);
    return ok(null);
  });

  app.delete(`${base}/values/*`, (c) => {
    const denied = accountCheck(c.req.param("account"));
    if (denied) return denied;
    ns(c.req.param("ns")).delete(keyOf(c.req.url));
    return ok(null);
  });

  app.get(`${base}/keys`, (c) => {
    const denied = accountCheck(c.req.param("account"));
    if (denied) return denied;
    const prefix = c.req.query("prefix") ?? "";
    const limitParam = c.req.query("limit");
    const limit = limitParam === undefined ? 1000 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 10 || limit > 1000) return cfError(400, 10026, `Invalid limit ${limitParam}: must be between 10 and 1000`);
    const cursor = c.req.query("cursor");
    let after = "";
    if (cursor) {
      try {
        after = decodeCursor(cursor);
      } catch {
        return cfError(400, 10019, "Invalid cursor");
      }
    }
    const m = ns(c.req.param("ns"));
    const names = [...m.keys()].filter((k) => k.startsWith(prefix) && k > after && live(m, k)).sort();
    const page = names.slice(0, Math.min(limit, pageSize));
    const more = names.length > page.length;
    const last = page[page.length - 1];
    const result = page.map((name) => {
      const v = m.get(name) as StoredValue;
      return v.expiresAt !== undefined ? { name, expiration: Math.floor(v.expiresAt / 1000) } : { name };
    });
    return ok(result, { result_info: { count: result.length, cursor: more && last !== undefined ? encodeCursor(last) : "" } });
  });

  // ---------- admin ----------
  app.get("/__emulator/requests", (c) => c.json(requests));
  app.delete("/__emulator/requests", (c) => {
    requests = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/faults", async (c) => {
    const body = (await c.req.json()) as KvRestFault[];
    addFaults(body);
    return c.json({ ok: true, armed: faults.length });
  });
  app.delete("/__emulator/faults", (c) => {
    faults = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/reset", (c) => {
    reset();
    return c.json({ ok: true });
  });
  app.get("/__emulator/state", (c) => c.json(state()));

  app.notFound((c) => cfError(404, 7003, `Could not route to ${new URL(c.req.url).pathname}`));

  function addFaults(list: KvRestFault[]) {
    for (const f of Array.isArray(list) ? list : [list]) {
      if (f?.kind !== "http_error" || !Number.isInteger(f.status)) throw new Error(`unsupported fault ${JSON.stringify(f)}`);
      faults.push({ ...f, remaining: f.times ?? 1, toSkip: f.skip ?? 0 });
    }
  }
  function reset() {
    namespaces.clear();
    requests = [];
    faults = [];
  }
  /** Live values per namespace: { [namespaceId]: { [key]: value } }. */
  function state(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [id, m] of namespaces) {
      const values: Record<string, string> = {};
      for (const k of [...m.keys()].sort()) {
        const v = live(m, k);
        if (v) values[k] = v.value;
      }
      out[id] = values;
    }
    return out;
  }

  return {
    app,
    requests: () => requests,
    clearRequests: () => {
      requests = [];
    },
    addFaults,
    clearFaults: () => {
      faults = [];
    },
    reset,
    state,
    /** Seeds a value directly (no request logged). */
    seed(namespaceId: string, key: string, value: string) {
      ns(namespaceId).set(key, { value, writtenAt: -Infinity });
    },
  };
}

export type KvRestEmulator = ReturnType<typeof createKvRestEmulator>;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function encodeCursor(lastKey: string): string {
  const bytes = new TextEncoder().encode(lastKey);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string): string {
  const bin = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
}
