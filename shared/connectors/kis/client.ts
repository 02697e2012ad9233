/**
 * KisClient: business calls to the koas gateway with credentials that rotate.
 *
 * A call is `POST <base>/koas/<APPID>/api/<Object>/<action>?access_token=…` with KIS-AuthData, X-GW-Router-Addr and
 * the KIS-* headers (doc B2), `AccountDB` in the body on private cloud, and the `{errcode, description, data}`
 * envelope back. Credentials live in the TokenStore under "kis":
 *   accessToken / expiresAt            access token and its expiry (epoch ms) when known
 *   refreshExpiresAt                   session expiry (the session refreshes the access token)
 *   extra.authData, extra.gwRouterAddr the gateway credentials
 *   extra.sessionId, extra.sessionSecret?, extra.refreshAuthDataToken, extra.refreshAuthDataTokenExpiresAt?,
 *   extra.authDataExpiresAt?, extra.seed (fingerprint of the env values the set grew from)
 * Refreshed values are written to the store before they are used, so a rotation is never lost. The env values are
 * only the seed: once rotated, the store wins, until the user puts new values in the env (the fingerprint changes).
 */
import { withRetry } from "../../util/retry.ts";
import { silentLogger, systemClock, type Clock, type FetchLike, type Logger, type TokenSet, type TokenStore } from "../../ports.ts";
import type { KisConfig } from "./config.ts";
import { refreshAuthData, refreshLoginAccessToken, type KisAuthTransport } from "./auth.ts";
import {
  defaultKisAuthErrorMatcher,
  DEFAULT_DUPLICATE_BILL_PATTERNS,
  KisAuthError,
  KisThrottledError,
  redactor,
  type KisAuthErrorMatcher,
  type KisCredential,
} from "./errors.ts";
import { kisHeaders, postKoas, sha256Hex, type KoasPolicy } from "./transport.ts";

export { kisConfigFromEnv, KIS_DEFAULT_BASE_URL, KIS_ENV_NAMES, type KisConfig } from "./config.ts";

export const KIS_TOKEN_KEY = "kis";

export interface KisRetryOptions {
  /** Attempts for idempotent calls (reads), including the first. Default 3. */
  tries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface KisClientOptions {
  config: KisConfig;
  /** Always used instead of the global fetch (the engine meters it). */
  fetch: FetchLike;
  tokenStore: TokenStore;
  clock?: Clock;
  logger?: Logger;
  /** Per request, real time. Default 30 s. */
  timeoutMs?: number;
  /** Refresh this long before a known expiry. Default 10 min (S5 uses 600 s). */
  refreshMarginMs?: number;
  retry?: KisRetryOptions;
  /** UNCERTAIN which answers mean "credentials expired"; see defaultKisAuthErrorMatcher. */
  authErrorMatcher?: KisAuthErrorMatcher;
  /** UNCERTAIN wording of "bill number exists"; see DEFAULT_DUPLICATE_BILL_PATTERNS. */
  duplicateBillPatterns?: RegExp[];
  /** UNCERTAIN: no documented limit; HTTP 429 and 503 by default. */
  throttleStatuses?: number[];
  /** UNCERTAIN spelling: S6 sends `AccountDb`, the doc `AccountDB`. Default "AccountDB". */
  accountDbField?: "AccountDB" | "AccountDb";
  tokenKey?: string;
}

export interface KisCallOptions {
  /** Safe to resend (reads): retried with backoff on retryable errors. Writes pass false and handle retries themselves. */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export class KisClient {
  readonly config: KisConfig;
  private readonly fetch: FetchLike;
  private readonly store: TokenStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly marginMs: number;
  private readonly retry: Required<KisRetryOptions>;
  private readonly policy: Omit<KoasPolicy, "redact">;
  private readonly accountDbField: string;
  private readonly tokenKey: string;
  private cached: TokenSet | null = null;
  private refreshing: Promise<TokenSet> | null = null;
  private refreshingFor: KisCredential = "unknown";
  private seed: Promise<string> | null = null;

  private readonly options: KisClientOptions;

  constructor(options: KisClientOptions) {
    this.options = options;
    this.config = options.config;
    this.fetch = options.fetch;
    this.store = options.tokenStore;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.marginMs = options.refreshMarginMs ?? 600_000;
    this.retry = { tries: 3, baseDelayMs: 1000, maxDelayMs: 15_000, ...options.retry };
    this.policy = {
      authErrorMatcher: options.authErrorMatcher ?? defaultKisAuthErrorMatcher,
      duplicatePatterns: options.duplicateBillPatterns ?? DEFAULT_DUPLICATE_BILL_PATTERNS,
      throttleStatuses: options.throttleStatuses ?? [429, 503],
    };
    this.accountDbField = options.accountDbField ?? "AccountDB";
    this.tokenKey = options.tokenKey ?? KIS_TOKEN_KEY;
  }

  /** The same client aimed at another 账套 (doctor: a deliberately wrong name must be refused). Shares the token store. */
  withAccountDb(accountDb: string): KisClient {
    return new KisClient({ ...this.options, config: { ...this.config, accountDb } });
  }

  get clockPort(): Clock {
    return this.clock;
  }

  get retryOptions(): Required<KisRetryOptions> {
    return this.retry;
  }

  /**
   * Calls `<appId>/api/<path>` (e.g. "app007104", "miscellaneousreceipt/create") and returns the envelope's data.
   * An auth error triggers one refresh and one resend: the gateway rejected the request before running it.
   */
  async call(appId: string, path: string, body: Record<string, unknown>, options: KisCallOptions = {}): Promise<unknown> {
    const once = () => this.callOnce(appId, path, body, options.signal);
    if (!options.idempotent) return once();
    return withRetry(once, {
      ...this.retry,
      clock: this.clock,
      minDelayFor: (e) => (e instanceof KisThrottledError ? e.retryAfterMs : undefined),
      onRetry: (e, attempt, delayMs) => this.logger.warn("KIS call failed, retrying", { path, attempt, delayMs, code: (e as { code?: string }).code }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** The credentials the next call will use (from the store, or seeded from the config). */
  async currentTokens(): Promise<TokenSet> {
    if (this.cached) return this.cached;
    const fingerprint = await this.seedFingerprint();
    const stored = await this.store.get(this.tokenKey);
    const usable = stored?.extra?.authData && stored.extra.gwRouterAddr && (stored.extra.seed === undefined || stored.extra.seed === fingerprint);
    if (stored && usable) {
      this.cached = stored;
    } else {
      const extra: Record<string, string> = { authData: this.config.authData, gwRouterAddr: this.config.gwRouterAddr, seed: fingerprint };
      if (this.config.sessionId) extra.sessionId = this.config.sessionId;
      if (this.config.refreshAuthDataToken) extra.refreshAuthDataToken = this.config.refreshAuthDataToken;
      this.cached = { accessToken: this.config.accessToken, extra };
    }
    return this.cached;
  }

  /**
   * Refreshes the credential an auth error named ("unknown": everything refreshable) and persists the result
   * before returning it. Concurrent callers share one refresh. When `used` is given and the store already holds
   * other credentials (another host rotated them), those are taken instead of refreshing again.
   */
  async refresh(credential: KisCredential = "unknown", used?: TokenSet): Promise<TokenSet> {
    const wanted: KisCredential = credential === "session" ? "access_token" : credential;
    const inflight = this.refreshing;
    if (inflight && (this.refreshingFor === wanted || this.refreshingFor === "unknown")) return inflight;
    if (inflight) {
      // A refresh of the other credential is running: let it finish, then refresh ours from its result.
      await inflight.catch(() => undefined);
      return this.refresh(credential, used);
    }
    this.refreshingFor = wanted;
    this.refreshing = this.doRefresh(credential, used).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(credential: KisCredential, used?: TokenSet): Promise<TokenSet> {
    if (used) {
      const stored = await this.store.get(this.tokenKey);
      const fingerprint = await this.seedFingerprint();
      if (
        stored?.extra?.authData &&
        stored.extra.gwRouterAddr &&
        (stored.extra.seed === undefined || stored.extra.seed === fingerprint) &&
        rotatedSince(stored, used, credential)
      ) {
        this.logger.info("KIS credentials were rotated elsewhere; using the stored ones");
        this.cached = stored;
        return stored;
      }
    }
    let tokens = structuredClone(await this.currentTokens());
    const canLogin = !!tokens.extra?.sessionId;
    const canGateway = !!tokens.extra?.refreshAuthDataToken;
    const doLogin = credential === "access_token" || credential === "session" || (credential === "unknown" && canLogin);
    const doGateway = credential === "auth_data" || (credential === "unknown" && canGateway);
    if ((doLogin && !canLogin) || (doGateway && !canGateway) || (!doLogin && !doGateway)) {
      const missing = [doLogin || !doGateway ? "KIS_SESSION_ID" : "", doGateway || !doLogin ? "KIS_REFRESH_AUTH_DATA_TOKEN" : ""].filter(Boolean);
      throw new KisAuthError(credential, `KIS rejected the ${credential === "unknown" ? "credentials" : credential} and they cannot be refreshed`, {
        hint: `Set ${missing.join(" and ")} (from the KIS authorization) so the bridge can renew credentials, or re-run the authorization (docs/targets-kis.md).`,
      });
    }
    if (doLogin) tokens = await this.refreshLogin(tokens);
    if (doGateway) {
      try {
        tokens = await this.refreshGateway(tokens);
      } catch (error) {
        if (!(error instanceof KisAuthError && error.credential === "access_token")) throw error;
        // refresh_auth_data needs a live access token: renew it once (unless that just happened) and try again.
        if (doLogin || !canLogin) throw this.refreshFailure(error, "auth_data", "refresh_auth_data");
        tokens = await this.refreshLogin(tokens);
        try {
          tokens = await this.refreshGateway(tokens);
        } catch (again) {
          throw this.refreshFailure(again, "auth_data", "refresh_auth_data");
        }
      }
    }
    return tokens;
  }

  private authTransport(): KisAuthTransport {
    return { baseUrl: this.config.baseUrl, fetch: this.fetch, clock: this.clock, timeoutMs: this.timeoutMs, policy: this.policy };
  }

  private async refreshLogin(tokens: TokenSet): Promise<TokenSet> {
    const sessionId = tokens.extra?.sessionId ?? "";
    let login;
    try {
      login = await refreshLoginAccessToken(this.authTransport(), { accessToken: tokens.accessToken, sessionId });
    } catch (error) {
      throw this.refreshFailure(error, "session", "refresh_login_access_token");
    }
    const next: TokenSet = { ...tokens, accessToken: login.accessToken, extra: { ...tokens.extra, sessionId: login.sessionId } };
    if (login.accessTokenExpiresAt) next.expiresAt = login.accessTokenExpiresAt;
    else delete next.expiresAt;
    if (login.sessionExpiresAt) next.refreshExpiresAt = login.sessionExpiresAt;
    else delete next.refreshExpiresAt;
    await this.persist(next);
    this.logger.info("KIS access token refreshed", { expiresAt: next.expiresAt });
    return next;
  }

  private async refreshGateway(tokens: TokenSet): Promise<TokenSet> {
    let gateway;
    try {
      gateway = await refreshAuthData(this.authTransport(), {
        clientId: this.config.clientId,
        clientSecret: this.config.clientSecret,
        refreshAuthDataToken: tokens.extra?.refreshAuthDataToken ?? "",
        accessToken: tokens.accessToken,
      });
    } catch (error) {
      if (error instanceof KisAuthError && error.credential === "access_token") throw error; // caller renews the token
      throw this.refreshFailure(error, "auth_data", "refresh_auth_data");
    }
    const extra: Record<string, string> = { ...tokens.extra, authData: gateway.authData, gwRouterAddr: gateway.gwRouterAddr };
    if (gateway.refreshAuthDataToken) extra.refreshAuthDataToken = gateway.refreshAuthDataToken;
    if (gateway.refreshAuthDataTokenExpiresAt) extra.refreshAuthDataTokenExpiresAt = String(gateway.refreshAuthDataTokenExpiresAt);
    if (gateway.authDataExpiresAt) extra.authDataExpiresAt = String(gateway.authDataExpiresAt);
    else delete extra.authDataExpiresAt;
    const next: TokenSet = { ...tokens, extra };
    if (gateway.accessToken) next.accessToken = gateway.accessToken;
    await this.persist(next);
    this.logger.info("KIS auth data refreshed");
    return next;
  }

  private refreshFailure(error: unknown, credential: KisCredential, route: string): unknown {
    if (error instanceof KisAuthError) {
      return new KisAuthError(credential, `KIS ${route} was refused: the ${credential === "session" ? "login session" : "refresh token"} is no longer valid`, {
        ...(error.errcode !== undefined ? { errcode: error.errcode } : {}),
        hint: "Re-run the KIS authorization (docs/targets-kis.md) and update the KIS_* values; they cannot be renewed automatically any more.",
      });
    }
    return error;
  }

  private async persist(tokens: TokenSet): Promise<void> {
    const fingerprint = await this.seedFingerprint();
    const stored: TokenSet = { ...tokens, extra: { ...tokens.extra, seed: fingerprint } };
    await this.store.put(this.tokenKey, stored); // before use: a rotated credential must never be lost
    this.cached = stored;
  }

  private seedFingerprint(): Promise<string> {
    const c = this.config;
    this.seed ??= sha256Hex([c.accessToken, c.authData, c.gwRouterAddr, c.sessionId ?? "", c.refreshAuthDataToken ?? ""].join("\n")).then((h) =>
      h.slice(0, 16),
    );
    return this.seed;
  }

  /** Proactive refresh when an expiry is known and near; a failure only matters once the credential has expired. */
  private async tokensForCall(): Promise<TokenSet> {
    const tokens = await this.currentTokens();
    const now = this.clock.now();
    const near = (at: number | string | undefined) => at !== undefined && Number(at) > 0 && now >= Number(at) - this.marginMs;
    const past = (at: number | string | undefined) => at !== undefined && Number(at) > 0 && now >= Number(at);
    const x = tokens.extra ?? {};
    const loginDue = !!x.sessionId && (near(tokens.expiresAt) || near(tokens.refreshExpiresAt));
    const gatewayDue = !!x.refreshAuthDataToken && (near(x.authDataExpiresAt) || near(x.refreshAuthDataTokenExpiresAt));
    if (!loginDue && !gatewayDue) return tokens;
    const credential: KisCredential = loginDue && gatewayDue ? "unknown" : loginDue ? "access_token" : "auth_data";
    try {
      return await this.refresh(credential);
    } catch (error) {
      const expired = past(tokens.expiresAt) || past(x.authDataExpiresAt);
      if (expired || !(error instanceof KisAuthError || (error as { retryable?: boolean }).retryable)) throw error;
      this.logger.warn("KIS proactive refresh failed; using the current credentials until they expire", { code: (error as { code?: string }).code });
      return tokens;
    }
  }

  private async callOnce(appId: string, path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    let tokens = await this.tokensForCall();
    // Each credential is refreshed at most once per call: an expired access token and expired auth data
    // can show up one after the other (the gateway checks the token first).
    const refreshed = new Set<KisCredential>();
    for (;;) {
      try {
        return await this.send(tokens, appId, path, body, signal);
      } catch (error) {
        if (!(error instanceof KisAuthError)) throw error;
        const credential: KisCredential = error.credential === "session" ? "access_token" : error.credential;
        const again = refreshed.has(credential) || refreshed.has("unknown") || (credential === "unknown" && refreshed.size > 0);
        if (again) {
          throw new KisAuthError(error.credential, `${error.message} (still rejected after refreshing)`, {
            ...(error.errcode !== undefined ? { errcode: error.errcode } : {}),
          });
        }
        this.logger.info("KIS rejected the credentials; refreshing", { path, credential: error.credential });
        tokens = await this.refresh(error.credential, tokens);
        refreshed.add(credential);
      }
    }
  }

  private send(tokens: TokenSet, appId: string, path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(`${this.config.baseUrl}/koas/${appId}/api/${path}`);
    url.searchParams.set("access_token", tokens.accessToken);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "KIS-AuthData": tokens.extra?.authData ?? "",
      "X-GW-Router-Addr": tokens.extra?.gwRouterAddr ?? "",
      ...kisHeaders(this.clock),
    };
    const payload = this.config.accountDb ? { ...body, [this.accountDbField]: this.config.accountDb } : body;
    const redact = redactor(() => [
      this.config.clientSecret,
      this.config.accessToken,
      this.config.authData,
      this.config.sessionId,
      this.config.refreshAuthDataToken,
      tokens.accessToken,
      tokens.extra?.authData,
      tokens.extra?.sessionId,
      tokens.extra?.sessionSecret,
      tokens.extra?.refreshAuthDataToken,
    ]);
    return postKoas(
      this.fetch,
      this.clock,
      { url: url.href, headers, body: JSON.stringify(payload), timeoutMs: this.timeoutMs, label: `${appId}/${path}`, ...(signal ? { signal } : {}) },
      { ...this.policy, redact },
    );
  }
}

/** True when `stored` holds a newer value of the credential that was rejected in `used`. */
function rotatedSince(stored: TokenSet, used: TokenSet, credential: KisCredential): boolean {
  const token = stored.accessToken !== used.accessToken;
  const authData = stored.extra?.authData !== used.extra?.authData;
  if (credential === "auth_data") return authData;
  if (credential === "unknown") return token || authData;
  return token;
}
