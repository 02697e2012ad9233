/**
 * KeyValueStore over the Cloudflare KV REST API, so the CLI/Action reads and writes the same namespace
 * (same keys, same JSON values) as the Worker's STATE binding.
 *
 *   GET    {base}/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key}   → raw value, 404 when absent
 *   PUT    …/values/{key}?expiration_ttl=N   body = the value
 *   DELETE …/values/{key}
 *   GET    …/keys?prefix=&limit=1000&cursor=  → { result: [{ name }], result_info: { count, cursor } }
 *   Authorization: Bearer <api token>  (needs "Workers KV Storage: Edit" on the account)
 *
 * Failures are BridgeErrors naming the operation and key, never the token; 429 and 5xx (and network
 * errors) are retried with backoff, honouring Retry-After.
 */
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import { silentLogger, systemClock, type Clock, type FetchLike, type KeyValueStore, type Logger } from "../../shared/ports.ts";
import { checkKey, checkTtl } from "../../shared/state/kv-helpers.ts";
import { withRetry } from "../../shared/util/retry.ts";

export const CLOUDFLARE_API_BASE = "https://api.cloudflare.com/client/v4";

export interface KvRestOptions {
  accountId: string;
  namespaceId: string;
  apiToken: string;
  /** Always used instead of the global fetch. */
  fetch: FetchLike;
  /** Default https://api.cloudflare.com/client/v4 (tests point it at the emulator). */
  baseUrl?: string;
  clock?: Clock;
  logger?: Logger;
  /** Attempts per request including the first (default 4). */
  tries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Keys per list page (10–1000, default 1000). */
  listPageSize?: number;
}

interface CfEnvelope {
  success?: boolean;
  errors?: Array<{ code?: number; message?: string }>;
  result?: unknown;
  result_info?: { cursor?: string; count?: number; list_complete?: boolean };
}

/** Cloudflare error codes that mean "your credentials are wrong", whatever the HTTP status says. */
const AUTH_ERROR_CODES = new Set([9106, 9109, 10000, 10001, 6003, 6111, 1000]);

export class KvRestStore implements KeyValueStore {
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: FetchLike;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly listPageSize: number;

  constructor(options: KvRestOptions) {
    for (const name of ["accountId", "namespaceId", "apiToken"] as const) {
      const v = options?.[name];
      if (typeof v !== "string" || v.trim() === "") {
        throw new ConfigError(`KV REST store: ${name} is missing`, {
          hint: "Set CLOUDFLARE_ACCOUNT_ID, the KV namespace id of the STATE binding and CLOUDFLARE_API_TOKEN (Workers KV Storage: Edit).",
          details: { field: name },
        });
      }
    }
    for (const name of ["accountId", "namespaceId"] as const) {
      if (!/^[A-Za-z0-9_-]+$/.test(options[name])) {
        throw new ConfigError(`KV REST store: ${name} ${JSON.stringify(options[name])} is not an id`, {
          hint: "Account and namespace ids are 32 hex characters (wrangler kv namespace list shows them).",
          details: { field: name },
        });
      }
    }
    if (typeof options.fetch !== "function") throw new ConfigError("KV REST store: fetch is required", { hint: "Pass the host's fetch port." });
    const base = (options.baseUrl ?? CLOUDFLARE_API_BASE).replace(/\/+$/, "");
    this.base = `${base}/accounts/${encodeURIComponent(options.accountId)}/storage/kv/namespaces/${encodeURIComponent(options.namespaceId)}`;
    this.token = options.apiToken.trim();
    this.fetchFn = options.fetch;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.tries = Math.max(1, options.tries ?? 4);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.listPageSize = Math.min(1000, Math.max(10, Math.floor(options.listPageSize ?? 1000)));
  }

  async get(key: string): Promise<string | null> {
    checkKey(key);
    const res = await this.request("GET", key, this.valueUrl(key), undefined, [404]);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    return res.text();
  }

  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    checkKey(key);
    checkTtl(options?.expirationTtl, key);
    const url = new URL(this.valueUrl(key));
    if (options?.expirationTtl !== undefined) url.searchParams.set("expiration_ttl", String(Math.ceil(options.expirationTtl)));
    const res = await this.request("PUT", key, url.toString(), value);
    await this.expectSuccess("PUT", key, res);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    // Deleting a missing key is not an error (as with the binding).
    const res = await this.request("DELETE", key, this.valueUrl(key), undefined, [404]);
    if (res.status === 404) {
      await res.body?.cancel();
      return;
    }
    await this.expectSuccess("DELETE", key, res);
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = "";
    const seen = new Set<string>();
    for (;;) {
      const url = new URL(`${this.base}/keys`);
      url.searchParams.set("limit", String(this.listPageSize));
      if (prefix) url.searchParams.set("prefix", prefix);
      if (cursor) url.searchParams.set("cursor", cursor);
      const res = await this.request("LIST", prefix, url.toString());
      const body = await this.readEnvelope("LIST", prefix, res);
      if (!Array.isArray(body.result)) throw this.protocolError("LIST", prefix, "the response has no result array");
      for (const item of body.result) {
        const name = (item as { name?: unknown })?.name;
        if (typeof name === "string") keys.push(name);
      }
      // UNCERTAIN wire detail: the last page carries cursor "" (documented) — absent or repeated is treated the same.
      const next = body.result_info?.cursor;
      if (!next || body.result_info?.list_complete === true || seen.has(next)) return keys;
      seen.add(next);
      cursor = next;
    }
  }

  private valueUrl(key: string): string {
    return `${this.base}/values/${encodeURIComponent(key)}`;
  }

  /** Sends one request with retries; returns the response when its status is 2xx or in `passStatuses`. */
  private async request(op: string, key: string, url: string, body?: string, passStatuses: number[] = []): Promise<Response> {
    const method = op === "LIST" ? "GET" : op;
    return withRetry(
      async () => {
        let res: Response;
        try {
          const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
          if (body !== undefined) headers["Content-Type"] = "text/plain; charset=utf-8";
          res = await this.fetchFn(url, body === undefined ? { method, headers } : { method, headers, body });
        } catch (error) {
          if (error instanceof BridgeError) throw error; // e.g. the engine's budget guard
          throw new BridgeError(
            "kv_rest_unreachable",
            `KV REST ${op} "${key}" could not reach ${new URL(url).host}: ${error instanceof Error ? error.message : String(error)}`,
            {
              retryable: true,
              hint: "Check the network and the API base URL.",
              details: { op, key },
            },
          );
        }
        if ((res.status >= 200 && res.status < 300) || passStatuses.includes(res.status)) return res;
        throw await this.httpError(op, key, res);
      },
      {
        tries: this.tries,
        baseDelayMs: this.baseDelayMs,
        maxDelayMs: this.maxDelayMs,
        clock: this.clock,
        minDelayFor: (e) => (e instanceof BridgeError && typeof e.details?.retryAfterMs === "number" ? e.details.retryAfterMs : undefined),
        onRetry: (e, attempt, delayMs) => this.logger.warn("KV REST request retried", { op, key, attempt, delayMs, code: (e as BridgeError).code }),
      },
    );
  }

  private async httpError(op: string, key: string, res: Response): Promise<BridgeError> {
    const envelope = await readJson(res);
    const errors = envelope?.errors ?? [];
    const detail = errors.map((e) => `${e.message ?? "error"}${e.code !== undefined ? ` (code ${e.code})` : ""}`).join("; ") || res.statusText || "no detail";
    const codes = errors.map((e) => e.code).filter((c): c is number => typeof c === "number");
    const auth = res.status === 401 || res.status === 403 || codes.some((c) => AUTH_ERROR_CODES.has(c));
    const retryable = res.status === 429 || res.status >= 500;
    const details: Record<string, unknown> = { op, key, status: res.status, codes };
    const retryAfter = Number(res.headers.get("Retry-After"));
    if (Number.isFinite(retryAfter) && retryAfter > 0) details.retryAfterMs = Math.min(retryAfter * 1000, 60_000);
    const message = redact(`KV REST ${op} "${key}" failed: HTTP ${res.status}: ${detail}`, this.token);
    if (auth && !retryable) {
      return new BridgeError("kv_auth_failed", message, {
        hint: "The Cloudflare API token was refused: check CLOUDFLARE_API_TOKEN (a token with Account › Workers KV Storage › Edit), CLOUDFLARE_ACCOUNT_ID and the namespace id.",
        details,
      });
    }
    if (res.status === 429) {
      return new BridgeError("kv_rate_limited", message, {
        retryable,
        hint: "KV allows one write per second per key and has daily write quotas on the Free plan.",
        details,
      });
    }
    return new BridgeError(retryable ? "kv_rest_unavailable" : "kv_rest_rejected", message, {
      retryable,
      hint: retryable
        ? "Cloudflare's API is failing; the request was retried. Try again later."
        : "The request was rejected; the message says why (key too long, value too large, TTL below 60 s …).",
      details,
    });
  }

  private async expectSuccess(op: string, key: string, res: Response): Promise<void> {
    const body = await this.readEnvelope(op, key, res);
    if (body.success === false) throw this.protocolError(op, key, (body.errors ?? []).map((e) => e.message).join("; ") || "success: false");
  }

  private async readEnvelope(op: string, key: string, res: Response): Promise<CfEnvelope> {
    const body = await readJson(res);
    if (!body) throw this.protocolError(op, key, `HTTP ${res.status} with a body that is not the API's JSON envelope`);
    return body;
  }

  private protocolError(op: string, key: string, why: string): BridgeError {
    return new BridgeError("kv_rest_protocol", redact(`KV REST ${op} "${key}": unexpected response: ${why}`, this.token), {
      hint: "Check the API base URL: it must be https://api.cloudflare.com/client/v4 (or the emulator's /client/v4).",
      details: { op, key },
    });
  }
}

async function readJson(res: Response): Promise<CfEnvelope | null> {
  try {
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    return parsed && typeof parsed === "object" ? (parsed as CfEnvelope) : null;
  } catch {
    return null;
  }
}

/** Belt and braces: a server that echoes the token back never gets it into our messages. */
function redact(message: string, token: string): string {
  return token.length >= 4 ? message.split(token).join("[redacted]") : message;
}
