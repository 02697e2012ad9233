/**
 * T+Cloud through the Chanjet open-platform gateway: JSON POSTs with appKey/appSecret/openToken headers.
 * The openToken lasts 6 days; a refresh rotates BOTH tokens and kills the old ones at once, so the new pair
 * is written to the TokenStore before anything uses it, concurrent callers share one refresh, and a
 * caller that sees a newer pair in the store (another host refreshed) takes it instead of refreshing again.
 */
import { ConfigError } from "../../errors.ts";
import { silentLogger } from "../../ports.ts";
import type { Clock, FetchLike, Logger, TokenSet, TokenStore } from "../../ports.ts";
import { md5Hex } from "../../util/md5.ts";
import { withRetry } from "../../util/retry.ts";
import { beforeSend, readAnswer, TPLUS_ERROR, TplusError } from "./errors.ts";
import type { DuplicateMatcher } from "./errors.ts";
import { apiUrl, base64ToBytes, DEFAULT_TIMEOUT_MS, exchange, normalizeBaseUrl } from "./transport.ts";
import type { TplusCallOptions, TplusTransport } from "./transport.ts";

export const DEFAULT_CLOUD_BASE_URL = "https://openapi.chanjet.com";
/** A cheap call every T+ account answers (warehouse archive, one row: MCP guide idx 61143165842, PageSize in param). */
export const TOKEN_PROBE_PATH = "warehouse/Query";
const TOKEN_PROBE_BODY = { param: { PageSize: 1 } };

/** The token works elsewhere, so a 50000/401|403 on this path means the gateway does not know the path. */
function unknownPathError(path: string, cause: TplusError): TplusError {
  return new TplusError(
    TPLUS_ERROR.apiNotEnabled,
    `T+ ${path}: the gateway does not know this API (50000, HTTP ${cause.httpStatus}) although the token works`,
    {
      httpStatus: cause.httpStatus,
      tplusCode: cause.tplusCode,
      details: { path, unknownPath: true },
      hint: "Check the resource/method name and that the API is enabled for your app (应用 → 接口权限); the token itself is fine, so it was not refreshed.",
      cause,
    },
  );
}
/** Refresh when less than this is left of the access token (tokens live 6 days). */
export const DEFAULT_REFRESH_MARGIN_MS = 24 * 3_600_000;

export interface TplusCloudOptions {
  baseUrl?: string;
  appKey: string;
  appSecret: string;
  /** Bootstrap tokens from TPLUS_OPEN_TOKEN / TPLUS_REFRESH_TOKEN; the TokenStore wins once it holds a pair from them. */
  openToken?: string;
  refreshToken?: string;
  fetch: FetchLike;
  clock: Clock;
  tokenStore: TokenStore;
  logger?: Logger;
  /** TokenStore key; default "tplus-cloud". */
  tokenKey?: string;
  refreshMarginMs?: number;
  timeoutMs?: number;
  /** Send `Cookie: sid=…` from the token result (official docs say some T+ APIs need it; UNCERTAIN which). */
  sendSidCookie?: boolean;
  duplicate?: DuplicateMatcher;
  /** Attempts for a refresh answered with 14002 (too fast) or a network error before it reached the server. */
  refreshTries?: number;
  random?: () => number;
}

/** What the bootstrap returns: nothing secret. */
export interface CloudTokenInfo {
  expiresAt?: number;
  refreshExpiresAt?: number;
  orgId?: string;
}

interface TokenResult {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  refresh_expires_in?: unknown;
  sid?: unknown;
  org_id?: unknown;
}

function seconds(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The openToken is an HS256 JWT whose `exp` (seconds) tells when it dies; opaque tokens just have no known expiry. */
export function jwtExpiry(token: string): number | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(new TextDecoder().decode(base64ToBytes(part))) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class TplusCloudTransport implements TplusTransport {
  readonly mode = "cloud" as const;
  private readonly base: string;
  private readonly options: TplusCloudOptions;
  private readonly logger: Logger;
  private readonly tokenKey: string;
  private readonly secrets: string[];
  private tokens: TokenSet | null = null;
  private refreshing: Promise<TokenSet> | null = null;
  /** A refreshed pair the store refused: kept in memory and written again before the next use. */
  private unpersisted = false;
  /** After a refused proactive refresh, do not hammer the token endpoint on every call. */
  private proactiveBlockedUntil = 0;

  constructor(options: TplusCloudOptions) {
    this.options = options;
    this.base = normalizeBaseUrl(options.baseUrl ?? DEFAULT_CLOUD_BASE_URL);
    this.logger = options.logger ?? silentLogger;
    this.tokenKey = options.tokenKey ?? "tplus-cloud";
    this.secrets = [options.appSecret, options.openToken ?? "", options.refreshToken ?? ""];
  }

  private get timeoutMs() {
    return this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private secretsNow(): string[] {
    return [...this.secrets, this.tokens?.accessToken ?? "", this.tokens?.refreshToken ?? ""];
  }

  async call(path: string, body: unknown, options: TplusCallOptions = {}): Promise<unknown> {
    let tokens = await this.currentTokens(options.signal).catch((e: unknown) => Promise.reject(beforeSend(e)));
    try {
      return await this.send(path, body, tokens, options);
    } catch (error) {
      if (!this.isTokenRejection(error)) throw error;
      // 50000 with 401/403 also answers a path the gateway does not know (CaiJingLong/chanjet-openapi errors.ts:
      // "50000 系统错误（appSecret 不正确 / openToken 不正确 / 接口 404 等），httpStatus 401/403/404"). A refresh would
      // rotate both tokens for nothing, so first ask a path that certainly exists whether this token still works.
      if (path !== TOKEN_PROBE_PATH && (await this.tokenWorks(tokens, options))) throw unknownPathError(path, error as TplusError);
      // The gateway refused the token before touching data: refresh once (or adopt a pair another caller made) and resend.
      this.logger.info("tplus: openToken rejected, refreshing", { path });
      tokens = await this.refreshFrom(tokens.accessToken, options.signal).catch((e: unknown) => Promise.reject(beforeSend(e)));
      try {
        return await this.send(path, body, tokens, options);
      } catch (again) {
        // The token was dead AND the path is unknown (same 50000/401|403 answer): with a fresh token that works on
        // the probe path, the second refusal is about the path, so callers (lookups) can fall back instead of
        // failing with an auth error.
        if (path !== TOKEN_PROBE_PATH && this.isTokenRejection(again) && (await this.tokenWorks(tokens, options)))
          throw unknownPathError(path, again as TplusError);
        throw again;
      }
    }
  }

  /** Refreshes the pair now (doctor: proves the refresh token still works) and stores the rotated pair first. */
  async refreshNow(signal?: AbortSignal): Promise<void> {
    const tokens = await this.currentTokens(signal);
    await this.refreshFrom(tokens.accessToken, signal);
  }

  /** True when a read-only call to an archive that every account has succeeds with these tokens. */
  private async tokenWorks(tokens: TokenSet, options: TplusCallOptions): Promise<boolean> {
    try {
      await this.send(TOKEN_PROBE_PATH, TOKEN_PROBE_BODY, tokens, options);
      return true;
    } catch {
      return false;
    }
  }

  /** 50000 with 401/403 is how the gateway says "wrong or expired openToken" (UNCERTAIN which of the two statuses). */
  private isTokenRejection(error: unknown): boolean {
    return (
      error instanceof TplusError &&
      ((error.code === TPLUS_ERROR.auth && (error.httpStatus === 401 || error.httpStatus === 403)) || error.code === TPLUS_ERROR.tokenInvalid)
    );
  }

  private async send(path: string, body: unknown, tokens: TokenSet, options: TplusCallOptions): Promise<unknown> {
    const headers: Record<string, string> = {
      appKey: this.options.appKey,
      appSecret: this.options.appSecret,
      openToken: tokens.accessToken,
      "Content-Type": "application/json",
    };
    const sid = tokens.extra?.sid;
    if (sid && this.options.sendSidCookie !== false) headers.Cookie = `sid=${sid}`;
    const res = await exchange(
      this.options.fetch,
      apiUrl(this.base, path),
      { method: "POST", headers, body: JSON.stringify(body ?? {}) },
      { timeoutMs: this.timeoutMs, signal: options.signal, label: path },
    );
    const answer = readAnswer({
      path,
      httpStatus: res.status,
      bodyText: res.text,
      retryAfterHeader: res.headers.get("retry-after"),
      duplicate: this.options.duplicate,
      secrets: this.secretsNow(),
    });
    if (!answer.ok) throw answer.error;
    return answer.value;
  }

  /** The pair to use now: memory, else the store, else the env bootstrap; refreshed first when close to expiry. */
  private async currentTokens(signal?: AbortSignal): Promise<TokenSet> {
    if (this.unpersisted && this.tokens) await this.persist(this.tokens);
    if (!this.tokens) this.tokens = await this.loadTokens();
    const tokens = this.tokens;
    const margin = this.options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    const now = this.options.clock.now();
    const nearExpiry = tokens.expiresAt !== undefined && now >= tokens.expiresAt - margin && now >= this.proactiveBlockedUntil;
    if (tokens.accessToken !== "" && !nearExpiry) return tokens;
    try {
      return await this.refreshFrom(tokens.accessToken, signal);
    } catch (error) {
      // The server refused the proactive refresh, so nothing rotated: keep the old token while it lives, try again later.
      const refused =
        error instanceof TplusError && (error.code === TPLUS_ERROR.refreshFailed || error.code === TPLUS_ERROR.tooFast || error.code === TPLUS_ERROR.throttled);
      if (refused && this.tokens === tokens && tokens.accessToken !== "" && tokens.expiresAt !== undefined && now < tokens.expiresAt) {
        this.proactiveBlockedUntil = now + 10 * 60_000;
        this.logger.warn("tplus: proactive token refresh refused, using the current token until it expires", { code: error.code });
        return tokens;
      }
      throw error;
    }
  }

  private seedFingerprint(): string | undefined {
    const { openToken, refreshToken } = this.options;
    if (!openToken && !refreshToken) return undefined;
    return md5Hex(`${openToken ?? ""}\n${refreshToken ?? ""}`);
  }

  private async loadTokens(): Promise<TokenSet> {
    const stored = await this.options.tokenStore.get(this.tokenKey);
    const seed = this.seedFingerprint();
    // Stored tokens are newer than the env ones (rotation), unless the operator put a different pair into the env.
    if (stored && (seed === undefined || stored.extra?.seed === undefined || stored.extra.seed === seed)) return stored;
    if (seed === undefined) {
      throw new ConfigError("T+ cloud has no token: neither the token store nor TPLUS_OPEN_TOKEN / TPLUS_REFRESH_TOKEN hold one", {
        hint: "Authorize the app in the Chanjet open platform and set TPLUS_REFRESH_TOKEN (and TPLUS_OPEN_TOKEN), or run the authorization-code bootstrap.",
      });
    }
    const { openToken, refreshToken } = this.options;
    const seeded: TokenSet = {
      accessToken: openToken ?? "",
      ...(refreshToken ? { refreshToken } : {}),
      ...(openToken && jwtExpiry(openToken) !== undefined ? { expiresAt: jwtExpiry(openToken) } : {}),
      extra: { seed },
    };
    if (stored) this.logger.info("tplus: TPLUS_OPEN_TOKEN / TPLUS_REFRESH_TOKEN changed, replacing the stored pair");
    await this.persist(seeded);
    return seeded;
  }

  private async persist(tokens: TokenSet): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.options.tokenStore.put(this.tokenKey, tokens);
        this.unpersisted = false;
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.unpersisted = true;
    this.logger.error("tplus: could not save rotated tokens", { error: lastError instanceof Error ? lastError.name : "unknown" });
    throw new TplusError(TPLUS_ERROR.tokenPersistFailed, "T+ tokens were refreshed but could not be saved to the token store", {
      hint: "The token store (KV) is failing. The new pair is kept in memory and saved again on the next call; if the process ends first, re-authorize the app to get a new TPLUS_REFRESH_TOKEN.",
    });
  }

  /**
   * Refreshes unless someone already replaced `staleAccessToken`: concurrent callers join one refresh, and a
   * newer pair in the store (written by another host) is adopted without spending the refresh token.
   */
  private async refreshFrom(staleAccessToken: string, signal?: AbortSignal): Promise<TokenSet> {
    if (this.tokens && this.tokens.accessToken !== staleAccessToken && this.tokens.accessToken !== "") return this.tokens;
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      const stored = await this.options.tokenStore.get(this.tokenKey);
      if (stored && stored.accessToken !== staleAccessToken && stored.accessToken !== "" && !this.unpersisted) {
        this.tokens = stored;
        return stored;
      }
      const current = this.unpersisted && this.tokens ? this.tokens : (stored ?? this.tokens);
      const refreshToken = current?.refreshToken;
      if (!refreshToken) {
        throw new TplusError(TPLUS_ERROR.refreshFailed, "T+ openToken expired and there is no refresh token", {
          hint: "Set TPLUS_REFRESH_TOKEN (from the app authorization) so the bridge can renew the 6-day openToken.",
        });
      }
      const fresh = await this.requestTokens(
        `/auth/v2/refreshToken?grantType=refresh_token&refreshToken=${encodeURIComponent(refreshToken)}`,
        "auth/v2/refreshToken",
        current?.extra,
        signal,
      );
      return fresh;
    })();
    try {
      return await this.refreshing;
    } finally {
      this.refreshing = null;
    }
  }

  /**
   * Bootstrap: trades a one-time authorization code (valid 10 minutes) for the first token pair and stores it.
   * `redirectUri` must be the one registered for the app.
   */
  async exchangeAuthorizationCode(code: string, redirectUri: string, signal?: AbortSignal): Promise<CloudTokenInfo> {
    const query = `grantType=authorization_code&redirectUri=${encodeURIComponent(redirectUri)}&code=${encodeURIComponent(code)}`;
    const tokens = await this.requestTokens(`/auth/v2/getToken?${query}`, "auth/v2/getToken", undefined, signal);
    return {
      ...(tokens.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
      ...(tokens.refreshExpiresAt !== undefined ? { refreshExpiresAt: tokens.refreshExpiresAt } : {}),
      ...(tokens.extra?.orgId ? { orgId: tokens.extra.orgId } : {}),
    };
  }

  /** Calls a token endpoint (GET, appKey/appSecret headers, no openToken), then stores the new pair BEFORE returning it. */
  private async requestTokens(pathAndQuery: string, label: string, previousExtra: Record<string, string> | undefined, signal?: AbortSignal): Promise<TokenSet> {
    const send = async () => {
      const res = await exchange(
        this.options.fetch,
        `${this.base}${pathAndQuery}`,
        { method: "GET", headers: { appKey: this.options.appKey, appSecret: this.options.appSecret, "Content-Type": "application/json" } },
        { timeoutMs: this.timeoutMs, signal, label },
      );
      const answer = readAnswer({ path: label, httpStatus: res.status, bodyText: res.text, secrets: this.secretsNow(), tokenAnswer: true });
      if (!answer.ok) throw answer.error;
      return answer.value;
    };
    let value: unknown;
    try {
      value = await withRetry(send, {
        tries: this.options.refreshTries ?? 3,
        baseDelayMs: 1000,
        maxDelayMs: 10_000,
        clock: this.options.clock,
        signal,
        random: this.options.random,
        // Only answers that prove the token was not spent: 14002 and throttling. A lost answer may have rotated it.
        shouldRetry: (e) => e instanceof TplusError && e.retryable && e.outcome === "not_applied",
        minDelayFor: (e) => (e instanceof TplusError ? e.retryAfterMs : undefined),
      });
    } catch (error) {
      if (error instanceof TplusError && error.code === TPLUS_ERROR.auth) {
        // 50000 from the token endpoint: the app credentials themselves are wrong, not the refresh token.
        throw new TplusError(TPLUS_ERROR.auth, `T+ ${label}: app credentials refused (${error.tplusCode ?? "HTTP " + error.httpStatus})`, {
          httpStatus: error.httpStatus,
          tplusCode: error.tplusCode,
          cause: error,
          hint: "Check TPLUS_APP_KEY and TPLUS_APP_SECRET against the app in the Chanjet open platform.",
        });
      }
      if (error instanceof TplusError && !error.retryable && error.code !== TPLUS_ERROR.tokenPersistFailed) {
        throw new TplusError(TPLUS_ERROR.refreshFailed, `T+ ${label} refused: ${error.message}`, {
          httpStatus: error.httpStatus,
          tplusCode: error.tplusCode,
          cause: error,
          hint: "The refresh token is invalid or expired (each refresh replaces it). Re-authorize the app in the Chanjet open platform and set the new TPLUS_REFRESH_TOKEN.",
        });
      }
      throw error;
    }
    const envelope = (value ?? {}) as { code?: unknown; message?: unknown; result?: TokenResult };
    const result = envelope.result;
    const accessToken = typeof result?.access_token === "string" ? result.access_token : "";
    if (!result || accessToken === "") {
      throw new TplusError(TPLUS_ERROR.refreshFailed, `T+ ${label} answered without an access_token`, {
        hint: "Re-authorize the app in the Chanjet open platform and set the new TPLUS_REFRESH_TOKEN.",
      });
    }
    const now = this.options.clock.now();
    const expiresIn = seconds(result.expires_in);
    const refreshExpiresIn = seconds(result.refresh_expires_in);
    const extra: Record<string, string> = {};
    if (previousExtra?.seed) extra.seed = previousExtra.seed;
    if (typeof result.sid === "string" && result.sid) extra.sid = result.sid;
    if (typeof result.org_id === "string" || typeof result.org_id === "number") extra.orgId = String(result.org_id);
    const fresh: TokenSet = {
      accessToken,
      // If the server ever stops rotating (UNCERTAIN), keep the old refresh token rather than dropping it.
      ...(typeof result.refresh_token === "string" && result.refresh_token
        ? { refreshToken: result.refresh_token }
        : this.tokens?.refreshToken
          ? { refreshToken: this.tokens.refreshToken }
          : {}),
      expiresAt: now + (expiresIn ?? 518_400) * 1000,
      ...(refreshExpiresIn !== undefined ? { refreshExpiresAt: now + refreshExpiresIn * 1000 } : {}),
      extra,
    };
    // Memory first, so a failing store still leaves this process with the only valid pair; then the store, before any use.
    this.tokens = fresh;
    await this.persist(fresh);
    this.logger.info("tplus: token pair refreshed and stored", { endpoint: label, expiresAt: fresh.expiresAt });
    return fresh;
  }
}
