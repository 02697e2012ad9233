/**
 * Ports: everything the core needs from its host. The Worker supplies KV/Durable Object versions,
 * the CLI and Action supply file/KV-REST versions, tests supply in-memory ones.
 * The core never reaches for a platform API directly.
 */

/** `fetch` as the host provides it. The engine wraps it to meter calls and enforce the budget. */
export type FetchLike = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/** Time source; `sleep` is part of it so tests and budgets can control waiting (backoff, rate limits). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Credentials that a system rotates (access/refresh tokens, KIS auth data). Stored so a refresh made
 * by one host (Worker cron, CLI, Action) is seen by the others: a rotated refresh token is never lost.
 */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms when the access token stops working, when known. */
  expiresAt?: number;
  /** Epoch ms when the refresh token stops working, when known. */
  refreshExpiresAt?: number;
  /** System-specific extras (KIS session_id, auth_data, gw_router_addr; T+ sid …). */
  extra?: Record<string, string>;
}

export interface TokenStore {
  get(system: string): Promise<TokenSet | null>;
  put(system: string, tokens: TokenSet): Promise<void>;
}

/** Plain key/value persistence (KV, a file, memory). Values are JSON text. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

/**
 * Reference tables (material codes, units, warehouses …) used by lookups. A flow loads the tables it
 * names once per run, so mapping evaluates lookups synchronously against in-memory rows.
 */
export interface ReferenceTable {
  name: string;
  rows: Record<string, unknown>[];
  /** Epoch ms of the last fill, and where it came from (an upload, or the flow that filled it). */
  updatedAt: number;
  source?: string;
}

export interface ReferenceStore {
  /** The table, or null when it has never been filled. */
  get(name: string): Promise<ReferenceTable | null>;
  put(table: ReferenceTable): Promise<void>;
  /** Names of the tables that exist. */
  list(): Promise<string[]>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** In-memory token store (tests, one-shot runs). */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, TokenSet>();
  constructor(initial?: Record<string, TokenSet>) {
    for (const [k, v] of Object.entries(initial ?? {})) this.tokens.set(k, v);
  }
  async get(system: string) {
    const t = this.tokens.get(system);
    return t ? structuredClone(t) : null;
  }
  async put(system: string, tokens: TokenSet) {
    this.tokens.set(system, structuredClone(tokens));
  }
}
