/**
 * Jushuitan open-platform client (openapi.jushuitan.com, signing v2). Web standards only: every request
 * goes through the injected fetch (so the engine can meter it), every wait through the injected clock.
 *
 * A call: wait for the proactive rate limiter → sign a form POST → parse the {code,msg,data} envelope
 * into data or a typed error → retry retryable errors with backoff and jitter → on code 100 refresh the
 * token once (persisting the rotated pair before using it) and repeat the call.
 */
import { BridgeError, BudgetExhaustedError, ConfigError } from "../../errors.ts";
import type { Clock, FetchLike, Logger, TokenSet, TokenStore } from "../../ports.ts";
import { silentLogger } from "../../ports.ts";
import { withRetry } from "../../util/retry.ts";
import { SlidingWindowRateLimiter } from "../../http/rate-limiter.ts";
import { JST_RATE_MARGIN_MS, jstRateLimits, type RateBudget } from "../../http/rate-budget.ts";
import { endpointByPath, type JstEndpoint } from "./endpoints.ts";
import {
  JstBadResponseError,
  JstBusinessError,
  JstHttpError,
  JstNetworkError,
  JstNotAuthorizedError,
  JstPagingError,
  JstThrottledError,
  JstTimeoutError,
  JstTokenError,
  errorForCode,
  type JstErrorContext,
} from "./errors.ts";
import { DAY_MS, compareCursor, readPage, rowCursor, rowId, rowVersionKey, splitWindow, type JstCursor, type JstWindow } from "./paging.ts";
import { signedForm } from "./sign.ts";
import { type ScannedPage, scanWindow, type WindowScanOptions } from "./window-scan.ts";
import { Redactor } from "../../security/redact.ts";

export const JST_TOKEN_PATHS = {
  initToken: "/openWeb/auth/getInitToken",
  accessToken: "/openWeb/auth/accessToken",
  refreshToken: "/openWeb/auth/refreshToken",
} as const;

export interface JstRateLimits {
  perSecond: number;
  perMinute: number;
}

export interface JstRetryOptions {
  /** Attempts per call including the first (default 4). */
  tries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface JushuitanClientOptions {
  baseUrl: string;
  appKey: string;
  appSecret: string;
  tokenStore: TokenStore;
  fetch: FetchLike;
  clock: Clock;
  logger?: Logger;
  /** Per request, measured with the platform timer (I/O time, not clock time). Default 30 s. */
  timeoutMs?: number;
  /** Proactive limits (default the documented 5/s and 100/min); null disables limiting. */
  limits?: JstRateLimits | null;
  /** Widens each limiter window to absorb network jitter (default JST_RATE_MARGIN_MS). */
  limiterMarginMs?: number;
  /**
   * The app's shared rate budget (http/rate-budget.ts: in process, a Durable Object, or persisted state); every
   * client of one app_key should wait on the same one. Overrides `limits`.
   */
  rateLimiter?: RateBudget;
  retry?: Partial<JstRetryOptions>;
  /** Key of the token set in the TokenStore (default "jushuitan"). */
  tokenSystemKey?: string;
  /** Used (and persisted) when the store holds no token yet: e.g. from JST_ACCESS_TOKEN / JST_REFRESH_TOKEN. */
  initialTokens?: TokenSet;
  /** Refresh proactively when the access token expires within this many ms (default 24 h). */
  refreshMarginMs?: number;
  /** Minimum wait after a throttle answer (defaults: 1 s after 199, 60 s after 200). */
  throttleBackoffMs?: { perSecond?: number; perMinute?: number };
  /** Hard cap of page requests per window (and per cursor scan); default 2000. */
  maxPagesPerWindow?: number;
  /** Wall-clock zone of the API (default Asia/Shanghai). */
  zone?: string;
  /** Jitter source (tests). */
  random?: () => number;
}

export interface JstCallOptions {
  signal?: AbortSignal;
}

export type JstRow = Record<string, unknown>;

export interface JstWindowPage<Row = JstRow> {
  /** Rows of this page, minus rows this scan already yielded in the same version (shared window boundaries). */
  rows: Row[];
  /** Rows the server returned on this page (before de-duplication). */
  fetched: number;
  pageIndex: number;
  window: JstWindow;
  /** Whether another page of this window follows. */
  hasNext: boolean;
  /** `data_count` of the window when the endpoint reports it. */
  dataCount: number | undefined;
}

export interface JstCursorPage<Row = JstRow> {
  /** Rows with a rowversion beyond the previous cursor (boundary repeats removed). */
  rows: Row[];
  fetched: number;
  /** Save this to resume: rows with ts ≤ nextCursor have been yielded. */
  nextCursor: JstCursor;
  /** 1-based number of the request within this scan. */
  requestIndex: number;
  hasNext: boolean;
}

export interface JstWindowScanOptions extends JstCallOptions {
  window: { from: number; to: number };
  pageSize?: number;
  /** Narrower windows than the endpoint maximum (e.g. one day, or one hour for /open/sku/query). */
  maxWindowMs?: number;
  maxPages?: number;
  /** Resume: the first window starts at this page (a saved cursor); later windows start at 1. */
  startPage?: number;
}

export interface JstCursorScanOptions extends JstCallOptions {
  /** Exclusive: rows with ts > startTs are yielded. Pass 0 to read everything, or a saved nextCursor to resume. */
  startTs: JstCursor;
  pageSize?: number;
  maxPages?: number;
}

const RESERVED_PARAMS = ["page_index", "page_size", "modified_begin", "modified_end", "start_ts", "ts", "is_get_total"];

/** Initial tokens from the environment-variable contract (JST_ACCESS_TOKEN / JST_REFRESH_TOKEN). */
export function tokensFromEnv(env: Record<string, string | undefined>): TokenSet | undefined {
  const accessToken = env.JST_ACCESS_TOKEN?.trim();
  if (!accessToken) return undefined;
  const refreshToken = env.JST_REFRESH_TOKEN?.trim();
  return refreshToken ? { accessToken, refreshToken } : { accessToken };
}

export class JushuitanClient {
  private readonly baseUrl: string;
  private readonly appKey: string;
  private readonly appSecret: string;
  private readonly tokenStore: TokenStore;
  private readonly fetchPort: FetchLike;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly limiter: RateBudget | null;
  private readonly retry: JstRetryOptions;
  private readonly systemKey: string;
  private readonly initialTokens: TokenSet | undefined;
  private readonly refreshMarginMs: number;
  private readonly throttleBackoff: { perSecond: number; perMinute: number };
  private readonly maxPagesPerWindow: number;
  private readonly zone: string | undefined;
  private readonly random: () => number;
  private refreshing: Promise<TokenSet> | null = null;

  constructor(options: JushuitanClientOptions) {
    for (const key of ["baseUrl", "appKey", "appSecret"] as const) {
      if (!options[key]) {
        const env = { baseUrl: "JST_BASE_URL", appKey: "JST_APP_KEY", appSecret: "JST_APP_SECRET" }[key];
        throw new ConfigError(`Jushuitan client: ${key} is empty`, { hint: `set ${env}`, details: { path: key } });
      }
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.appKey = options.appKey;
    this.appSecret = options.appSecret;
    this.tokenStore = options.tokenStore;
    this.fetchPort = options.fetch;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const limits = options.limits === undefined ? { perSecond: 5, perMinute: 100 } : options.limits;
    this.limiter =
      options.rateLimiter ??
      (limits
        ? new SlidingWindowRateLimiter({ clock: options.clock, limits: jstRateLimits(limits), marginMs: options.limiterMarginMs ?? JST_RATE_MARGIN_MS })
        : null);
    this.retry = { tries: 4, baseDelayMs: 500, maxDelayMs: 10_000, ...options.retry };
    this.systemKey = options.tokenSystemKey ?? "jushuitan";
    this.initialTokens = options.initialTokens;
    this.refreshMarginMs = options.refreshMarginMs ?? DAY_MS;
    this.throttleBackoff = { perSecond: 1000, perMinute: 60_000, ...options.throttleBackoffMs };
    this.maxPagesPerWindow = options.maxPagesPerWindow ?? 2000;
    this.zone = options.zone;
    this.random = options.random ?? Math.random;
  }

  /** Requests (pages) one window may take before the scan gives up (JstPagingError). */
  get maxRequestsPerWindow(): number {
    return this.maxPagesPerWindow;
  }

  /** The limiter this client waits on (share it with other clients of the same app_key). */
  get rateLimiter(): RateBudget | null {
    return this.limiter;
  }

  /** The descriptor of a supported query endpoint; a clear error for anything else. */
  endpoint(path: string): JstEndpoint {
    const ep = endpointByPath(path);
    if (!ep) {
      throw new ConfigError(`Jushuitan endpoint ${path} has no paging descriptor`, {
        hint: "use one of the paths in shared/connectors/jushuitan/endpoints.ts, or client.call() for a single request",
        details: { path },
      });
    }
    return ep;
  }

  /** One business call; resolves to the envelope's `data`. */
  async call<T = unknown>(path: string, biz: Record<string, unknown> = {}, options: JstCallOptions = {}): Promise<T> {
    // Serialised once: the signed text must be the sent text.
    const bizText = JSON.stringify(biz);
    let tokens = await this.usableTokens(path);
    for (let refreshed = false; ; refreshed = true) {
      const accessToken = tokens.accessToken;
      try {
        return (await this.withRetries(path, options.signal, () =>
          this.post(path, { app_key: this.appKey, access_token: accessToken, version: "2", charset: "utf-8", biz: bizText }, options.signal),
        )) as T;
      } catch (error) {
        if (!(error instanceof JstTokenError) || refreshed) throw error;
        tokens = await this.refreshAfterRejection(path, accessToken);
      }
    }
  }

  /** Self-developed app bootstrap: exchanges a caller-chosen code (6 random characters by default) for tokens. */
  async getInitToken(code: string = randomCode()): Promise<TokenSet> {
    return this.exchangeCode(JST_TOKEN_PATHS.initToken, code);
  }

  /** ISV app bootstrap: exchanges the authorization code from the openweb /auth redirect for tokens. */
  async accessToken(code: string): Promise<TokenSet> {
    if (!code) throw new ConfigError("authorization code is empty", { hint: "pass the code from the openweb /auth redirect" });
    return this.exchangeCode(JST_TOKEN_PATHS.accessToken, code);
  }

  /** Refreshes now (normally automatic), persists and returns the new pair. */
  async refreshTokens(): Promise<TokenSet> {
    const tokens = await this.storedTokens(JST_TOKEN_PATHS.refreshToken);
    return this.refreshShared(tokens);
  }

  /**
   * Pages a time range: cut into windows of at most the endpoint's span (7 days), each read page by page
   * with the endpoint's maximum page size. Stops a window on has_next=false, an empty page or a short page;
   * throws JstPagingError when a page repeats the previous one or a window exceeds the page cap.
   */
  async *pages<Row = JstRow>(path: string, params: Record<string, unknown> = {}, options: JstWindowScanOptions): AsyncGenerator<JstWindowPage<Row>> {
    const ep = this.endpoint(path);
    const pageSize = this.pageSize(ep, options.pageSize);
    const base = this.normalizeParams(ep, params);
    const maxSpan = Math.min(ep.maxWindowDays * DAY_MS, options.maxWindowMs ?? Number.POSITIVE_INFINITY);
    const windows = splitWindow(options.window, maxSpan, this.zone);
    const maxPages = options.maxPages ?? this.maxPagesPerWindow;
    // Versions yielded in the previous and the current window: enough to drop shared-boundary repeats.
    let previousWindowKeys = new Set<string>();
    let firstPage = Math.max(1, Math.floor(options.startPage ?? 1));
    for (const window of windows) {
      const windowKeys = new Set<string>();
      let previousIds: string | null = null;
      const startPage = firstPage;
      firstPage = 1;
      for (let pageIndex = startPage; ; pageIndex++) {
        if (pageIndex > maxPages) {
          throw new JstPagingError({ path }, `window ${window.begin}..${window.end} has more than ${maxPages} pages`, {
            window: { begin: window.begin, end: window.end },
            maxPages,
          });
        }
        const data = await this.call(
          path,
          { ...base, modified_begin: window.begin, modified_end: window.end, page_index: pageIndex, page_size: pageSize },
          options,
        );
        const page = readPage(ep, data);
        const ids = page.rows.map((r) => rowId(ep, r)).join(",");
        if (previousIds !== null && page.rows.length > 0 && ids === previousIds) {
          throw new JstPagingError({ path }, `page ${pageIndex} of window ${window.begin}..${window.end} repeats page ${pageIndex - 1}`, {
            window: { begin: window.begin, end: window.end },
            pageIndex,
          });
        }
        previousIds = ids;
        const rows: JstRow[] = [];
        for (const row of page.rows) {
          const key = rowVersionKey(ep, row);
          if (windowKeys.has(key) || previousWindowKeys.has(key)) continue;
          windowKeys.add(key);
          rows.push(row);
        }
        const hasNext = page.hasNext !== false && page.rows.length >= pageSize;
        yield { rows: rows as Row[], fetched: page.rows.length, pageIndex, window, hasNext, dataCount: page.dataCount };
        if (!hasNext) break;
      }
      previousWindowKeys = windowKeys;
    }
  }

  /**
   * Pages by rowversion (`start_ts`, or `ts` on inventory), which does not skip rows that change during
   * the scan: always page_index=1, the cursor advances to the greatest ts seen. The server's ≥ semantics
   * repeat the boundary row, which is dropped. Stops on a short page, has_next=false, or when no row
   * is newer than the cursor.
   */
  async *cursorPages<Row = JstRow>(path: string, params: Record<string, unknown> = {}, options: JstCursorScanOptions): AsyncGenerator<JstCursorPage<Row>> {
    const ep = this.endpoint(path);
    const spec = ep.cursor;
    if (!spec) {
      throw new ConfigError(`${path} has no rowversion cursor`, { hint: "read it with pages() and a time window", details: { path } });
    }
    const base = this.normalizeParams(ep, params);
    if (spec.alone && Object.keys(base).length > 0) {
      throw new ConfigError(`${path} takes no other filter together with ${spec.param} (got ${Object.keys(base).join(", ")})`, {
        hint: "the API documents that the cursor goes with the paging parameters only: filter the rows after reading them",
        details: { path },
      });
    }
    const pageSize = this.pageSize(ep, options.pageSize);
    const maxPages = options.maxPages ?? this.maxPagesPerWindow;
    let cursor: JstCursor = options.startTs;
    // Ids yielded at exactly `cursor` (ties split across pages); empty at the start: startTs is exclusive.
    let idsAtCursor = new Set<string>();
    for (let requestIndex = 1; ; requestIndex++) {
      if (requestIndex > maxPages) {
        throw new JstPagingError({ path }, `cursor scan exceeded ${maxPages} requests`, { cursor, maxPages });
      }
      const biz: Record<string, unknown> = { ...base, [spec.param]: cursor, page_index: 1, page_size: pageSize };
      if (ep.acceptsIsGetTotal) biz.is_get_total = false;
      const page = readPage(ep, await this.call(path, biz, options));
      const rows: JstRow[] = [];
      let next = cursor;
      let nextIds = idsAtCursor;
      let advanced = false;
      for (const row of page.rows) {
        const ts = rowCursor(row);
        if (ts === undefined) {
          throw new JstPagingError({ path }, "rows carry no ts, the cursor cannot advance", { cursor });
        }
        const order = compareCursor(ts, cursor);
        const id = rowId(ep, row);
        if (order < 0 || (order === 0 && (requestIndex === 1 || idsAtCursor.has(id)))) continue;
        if (order > 0) advanced = true;
        rows.push(row);
        const vsNext = compareCursor(ts, next);
        if (vsNext > 0) {
          next = ts;
          nextIds = new Set([id]);
        } else if (vsNext === 0) {
          if (nextIds === idsAtCursor) nextIds = new Set(idsAtCursor);
          nextIds.add(id);
        }
      }
      if (!advanced && rows.length === 0 && page.rows.length >= pageSize) {
        throw new JstPagingError({ path }, `a full page shares ts ${String(cursor)}: the cursor cannot advance`, { cursor, pageSize });
      }
      cursor = next;
      idsAtCursor = nextIds;
      const hasNext = rows.length > 0 && page.hasNext !== false && page.rows.length >= pageSize;
      yield { rows: rows as Row[], fetched: page.rows.length, nextCursor: cursor, requestIndex, hasNext };
      if (!hasNext) return;
    }
  }

  /**
   * Reads one window (at most the endpoint's span) so that edits during the scan cannot shift rows past it:
   * rowversion within the window where the endpoint and its rows allow, else keyset on the window's field,
   * else offset (shared/connectors/jushuitan/window-scan.ts).
   */
  scanWindow(
    path: string,
    params: Record<string, unknown>,
    options: Omit<WindowScanOptions, "pageSize" | "maxRequests" | "zone"> & { pageSize?: number; maxRequests?: number; signal?: AbortSignal },
  ): AsyncGenerator<ScannedPage> {
    const ep = this.endpoint(path);
    if (options.window.to - options.window.from > ep.maxWindowDays * DAY_MS) {
      throw new ConfigError(`window over ${ep.maxWindowDays} days for ${path}`, { hint: "split the range into windows of at most 7 days" });
    }
    return scanWindow((biz) => this.call(path, biz, { signal: options.signal }), ep, this.normalizeParams(ep, params), {
      ...options,
      pageSize: this.pageSize(ep, options.pageSize),
      maxRequests: options.maxRequests ?? this.maxPagesPerWindow,
      zone: this.zone,
    });
  }

  /**
   * Jushuitan's clock minus this host's (ms), from the HTTP Date header of the latest answer (second precision,
   * so ±1 s); undefined before any answer or when answers carry no Date. The engine bounds its windows by it.
   */
  clockSkewMs(): number | undefined {
    return this.serverClock ? this.serverClock.serverMs + 500 - this.serverClock.hostMs : undefined;
  }

  private serverClock: { serverMs: number; hostMs: number } | undefined;

  private noteServerClock(header: string | null) {
    const serverMs = header ? Date.parse(header) : Number.NaN;
    if (Number.isFinite(serverMs)) this.serverClock = { serverMs, hostMs: this.clock.now() };
  }

  // ---- internals -------------------------------------------------------------------------------

  private pageSize(ep: JstEndpoint, requested: number | undefined): number {
    if (requested === undefined) return ep.maxPageSize;
    if (!Number.isInteger(requested) || requested < 1 || requested > ep.maxPageSize) {
      throw new ConfigError(`page size ${requested} is outside 1..${ep.maxPageSize} for ${ep.path}`, {
        hint: `use a page size of at most ${ep.maxPageSize} (the endpoint maximum)`,
        details: { path: ep.path },
      });
    }
    return requested;
  }

  /** Array-vs-comma shapes as the endpoint expects; paging and window keys belong to the scan options. */
  private normalizeParams(ep: JstEndpoint, params: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue;
      if (RESERVED_PARAMS.includes(key)) {
        throw new ConfigError(`parameter ${key} is set by the client's paging, not by the caller`, {
          hint: "pass the window, pageSize or startTs as scan options instead",
          details: { path: ep.path, param: key },
        });
      }
      if (ep.arrayParams.includes(key)) {
        out[key] = Array.isArray(value)
          ? value
          : String(value)
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "");
      } else if (ep.commaParams.includes(key)) {
        out[key] = Array.isArray(value) ? value.map((v) => String(v).trim()).join(",") : String(value);
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  private async storedTokens(path: string): Promise<TokenSet> {
    const stored = await this.tokenStore.get(this.systemKey);
    if (stored) return stored;
    if (!this.initialTokens?.accessToken) throw new JstNotAuthorizedError({ path });
    const initial = structuredClone(this.initialTokens);
    await this.tokenStore.put(this.systemKey, initial);
    return initial;
  }

  /** The stored token, refreshed first when it is about to expire. */
  private async usableTokens(path: string): Promise<TokenSet> {
    const tokens = await this.storedTokens(path);
    const now = this.clock.now();
    if (tokens.expiresAt === undefined || !tokens.refreshToken || tokens.expiresAt - now > this.refreshMarginMs) return tokens;
    try {
      return await this.refreshShared(tokens);
    } catch (error) {
      // Still valid: a failed early refresh (ISV app, network) must not fail the call.
      if (error instanceof BudgetExhaustedError || tokens.expiresAt <= now) throw error;
      this.logger.warn("jushuitan: early token refresh failed; using the current token until it expires", {
        code: error instanceof BridgeError ? error.code : "unknown",
        expiresAt: tokens.expiresAt,
      });
      return tokens;
    }
  }

  private async refreshAfterRejection(path: string, rejectedAccessToken: string): Promise<TokenSet> {
    const stored = await this.storedTokens(path);
    // Another call (or another host) already rotated it.
    if (stored.accessToken !== rejectedAccessToken) return stored;
    if (!stored.refreshToken) {
      throw new JstTokenError(
        { path, jstCode: 100 },
        "the token expired and no refresh token is stored: re-authorize and set JST_ACCESS_TOKEN / JST_REFRESH_TOKEN",
      );
    }
    return this.refreshShared(stored);
  }

  /** Concurrent callers share one refresh. */
  private refreshShared(tokens: TokenSet): Promise<TokenSet> {
    if (!this.refreshing) {
      this.refreshing = this.refresh(tokens).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refresh(tokens: TokenSet): Promise<TokenSet> {
    const path = JST_TOKEN_PATHS.refreshToken;
    if (!tokens.refreshToken) throw new JstTokenError({ path }, "no refresh token is stored: re-authorize the app");
    const refreshToken = tokens.refreshToken;
    let data: unknown;
    try {
      data = await this.withRetries(path, undefined, () =>
        this.post(path, { app_key: this.appKey, grant_type: "refresh_token", charset: "utf-8", refresh_token: refreshToken, scope: "all" }, undefined, true),
      );
    } catch (error) {
      if (error instanceof JstTokenError) {
        // Another host refreshing at the same moment rotates the pair first, and the server then refuses this
        // (now old) refresh token. Their new pair reaches the store right after: use it instead of failing.
        const rotated = await this.rotatedElsewhere(refreshToken);
        if (rotated) return rotated;
        throw new JstTokenError(
          { path, jstCode: error.jstCode, serverMessage: error.details?.serverMessage as string | undefined },
          "the refresh token was rejected: re-authorize the app and set JST_ACCESS_TOKEN / JST_REFRESH_TOKEN",
        );
      }
      throw error;
    }
    const next = this.tokenSetFrom(path, data, tokens);
    // Persist before use: a rotated refresh token that only lived in memory would be lost with this run.
    await this.tokenStore.put(this.systemKey, next);
    this.logger.info("jushuitan: access token refreshed", { expiresAt: next.expiresAt });
    return next;
  }

  /**
   * The server rotated the pair but its answer was not a clean envelope: keep what could be read (the old
   * refresh token is spent), then still report the unreadable answer. Storing it registers the tokens with the
   * deployment's redactor (the secure token store learns every tok:* value).
   */
  private async keepSalvagedTokens(path: string, salvaged: Record<string, string>): Promise<void> {
    try {
      const previous = await this.tokenStore.get(this.systemKey).catch(() => null);
      const next = this.tokenSetFrom(path, salvaged, previous ?? undefined);
      await this.tokenStore.put(this.systemKey, next);
      this.logger.warn("jushuitan: the token answer was not a clean JSON envelope; the tokens in it were read and stored", { path });
    } catch (error) {
      this.logger.error("jushuitan: the token answer was unreadable and its tokens could not be stored: re-authorize if calls fail", {
        path,
        code: error instanceof BridgeError ? error.code : "unknown",
      });
    }
  }

  /** A pair stored by someone else after `spentRefreshToken` was rotated away, if one appears within a few seconds. */
  private async rotatedElsewhere(spentRefreshToken: string): Promise<TokenSet | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await this.tokenStore.get(this.systemKey).catch(() => null);
      if (stored?.refreshToken && stored.refreshToken !== spentRefreshToken) {
        this.logger.info("jushuitan: another host rotated the token pair; using theirs");
        return stored;
      }
      if (attempt < 2) await this.clock.sleep(1000);
    }
    return null;
  }

  private async exchangeCode(path: string, code: string): Promise<TokenSet> {
    const data = await this.withRetries(path, undefined, () =>
      this.post(path, { app_key: this.appKey, grant_type: "authorization_code", charset: "utf-8", code }, undefined, true),
    );
    const tokens = this.tokenSetFrom(path, data, undefined);
    await this.tokenStore.put(this.systemKey, tokens);
    this.logger.info("jushuitan: access token obtained", { path, expiresAt: tokens.expiresAt });
    return tokens;
  }

  private tokenSetFrom(path: string, data: unknown, previous: TokenSet | undefined): TokenSet {
    const d = data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {};
    if (typeof d.access_token !== "string" || d.access_token === "") {
      throw new JstBusinessError({ path, serverMessage: "the token answer has no access_token" });
    }
    const tokens: TokenSet = { accessToken: d.access_token };
    const refreshToken = typeof d.refresh_token === "string" && d.refresh_token !== "" ? d.refresh_token : previous?.refreshToken;
    if (refreshToken) tokens.refreshToken = refreshToken;
    const expiresIn = Number(d.expires_in);
    if (Number.isFinite(expiresIn) && expiresIn > 0) tokens.expiresAt = this.clock.now() + expiresIn * 1000;
    if (typeof d.scope === "string") tokens.extra = { ...previous?.extra, scope: d.scope };
    else if (previous?.extra) tokens.extra = { ...previous.extra };
    return tokens;
  }

  private withRetries<T>(path: string, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
    return withRetry(task, {
      ...this.retry,
      clock: this.clock,
      random: this.random,
      ...(signal ? { signal } : {}),
      minDelayFor: (error) =>
        error instanceof JstThrottledError ? (error.scope === "second" ? this.throttleBackoff.perSecond : this.throttleBackoff.perMinute) : undefined,
      onRetry: (error, attempt, delayMs) => {
        // Everyone waits after a throttle answer, not just the call that got it.
        if (error instanceof JstThrottledError) this.limiter?.pauseUntil(this.clock.now() + delayMs);
        this.logger.warn("jushuitan: retrying", { path, attempt, delayMs, code: error instanceof BridgeError ? error.code : "unknown" });
      },
    });
  }

  /** One HTTP exchange (after the limiter): returns `data` or throws a typed error. */
  private async post(path: string, params: Record<string, string>, signal: AbortSignal | undefined, tokenEndpoint = false): Promise<unknown> {
    const grant = await this.limiter?.acquire(signal);
    const form = signedForm(this.appSecret, { ...params, timestamp: String(Math.floor(this.clock.now() / 1000)) });
    const ctx: JstErrorContext = { path, tokenEndpoint };
    const controller = new AbortController();
    let timedOut = false;
    // Also settles the exchange when a fetch port ignores the signal (an in-process app, a custom port).
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const started = this.clock.now();
    let status: number;
    let text: string;
    try {
      const exchange = async () => {
        const res = await this.fetchPort(this.baseUrl + path, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8", accept: "application/json" },
          body: new URLSearchParams(form).toString(),
          signal: controller.signal,
        });
        this.noteServerClock(res.headers.get("date"));
        return { status: res.status, text: await res.text() };
      };
      ({ status, text } = await Promise.race([exchange(), aborted]));
    } catch (error) {
      if (error instanceof BridgeError) throw error; // the metered fetch's budget error, never wrapped
      if (timedOut) throw new JstTimeoutError(ctx, this.timeoutMs);
      if (signal?.aborted) throw signal.reason;
      throw new JstNetworkError(ctx, error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      grant?.settle();
    }
    // The credentials this request carried (app secret, access/refresh token in the form) are masked in any excerpt.
    const known = new Redactor().add(this.appSecret);
    for (const [k, v] of Object.entries(form)) if (/token|secret/i.test(k)) known.add(v);
    const result = parseEnvelope({ ...ctx, httpStatus: status }, text, (t, max) => known.cut(t, max));
    this.logger.debug("jushuitan: call", { path, httpStatus: status, jstCode: result.code, ms: this.clock.now() - started });
    if (result.salvaged) await this.keepSalvagedTokens(path, result.salvaged);
    if (result.error) throw result.error;
    return result.data;
  }
}

interface EnvelopeResult {
  code: number | undefined;
  data?: unknown;
  error?: BridgeError;
  /** Tokens read out of an unreadable token answer: the server has rotated, so they must be kept. */
  salvaged?: Record<string, string>;
}

/** access_token / refresh_token / expires_in pulled out of a token answer that is not a clean envelope. */
function salvageTokens(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const key of ["access_token", "refresh_token", "expires_in", "refresh_expires_in"]) {
    const m = new RegExp(`"${key}"\\s*:\\s*"?([^",}\\s]+)`).exec(text);
    if (m) out[key] = m[1]!;
  }
  return out.access_token ? out : undefined;
}

/** `{code, msg, data}` → data, or the typed error for the code / the HTTP status / the unreadable body. */
export function parseEnvelope(
  ctx: JstErrorContext & { httpStatus: number },
  text: string,
  cut: (text: string, max: number) => string = plainCut,
): EnvelopeResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const envelope = body !== null && typeof body === "object" ? (body as Record<string, unknown>) : undefined;
  const code = envelope ? Number(envelope.code) : Number.NaN;
  if (!envelope || !Number.isInteger(code)) {
    const trimmed = text.trimStart();
    if (ctx.httpStatus >= 400 && !trimmed.startsWith("<") && trimmed.length < 200) {
      return { code: undefined, error: new JstHttpError(ctx) };
    }
    // A token answer is never quoted in an error: it holds the newly issued pair (the old refresh token is spent).
    if (ctx.tokenEndpoint) {
      const salvaged = salvageTokens(text);
      return { code: undefined, error: new JstBadResponseError(ctx, undefined), ...(salvaged ? { salvaged } : {}) };
    }
    return { code: undefined, error: new JstBadResponseError(ctx, snippet(text, cut)) };
  }
  const msg = typeof envelope.msg === "string" ? envelope.msg : typeof envelope.message === "string" ? envelope.message : "";
  if (code === 0) {
    if (ctx.httpStatus >= 400) return { code, error: new JstHttpError(ctx) };
    return { code, data: envelope.data };
  }
  return { code, error: errorForCode({ ...ctx, jstCode: code, serverMessage: msg }) };
}

/** A short, tag-free excerpt of an unreadable body for the error details. */
function snippet(text: string, cut: (text: string, max: number) => string): string {
  const plain = text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return cut(plain, 160);
}

/** Cuts through a redactor: a cut never keeps the start of a secret, and known ones are masked first. */
const plainCut = (text: string, max: number) => new Redactor().cut(text, max);

function randomCode(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
