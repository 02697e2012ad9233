/**
 * Credentials the KIS emulator has issued: access tokens, login sessions, auth data and refresh tokens, each with
 * an expiry on the injected clock. Rotation revokes the previous value, so old credentials stop working.
 */

export interface KisEmulatorTtls {
  /** Access token lifetime. Default 30 days (S6 sample). */
  accessTokenMs: number;
  /** Login session lifetime. Default 3 h (S6 sample: 10800 s). */
  sessionMs: number;
  /** Auth data lifetime (not documented). Default 7 days. */
  authDataMs: number;
  /** refresh_auth_data_token lifetime. Default 30 days. */
  refreshAuthDataTokenMs: number;
}

export const DEFAULT_TTLS: KisEmulatorTtls = {
  accessTokenMs: 30 * 86_400_000,
  sessionMs: 3 * 3_600_000,
  authDataMs: 7 * 86_400_000,
  refreshAuthDataTokenMs: 30 * 86_400_000,
};

interface Issued {
  expiresAt: number;
  revoked: boolean;
}

export type CredentialCheck = "ok" | "missing" | "invalid" | "expired";

export interface CurrentCredentials {
  clientId: string;
  clientSecret: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  sessionId: string;
  sessionExpiresAt: number;
  sessionSecret: string;
  authData: string;
  authDataExpiresAt: number;
  gwRouterAddr: string;
  refreshAuthDataToken: string;
  refreshAuthDataTokenExpiresAt: number;
}

export class KisAuthState {
  private readonly now: () => number;
  private readonly ttl: KisEmulatorTtls;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly gwRouterAddr: string;
  private counter = 0;
  private readonly accessTokens = new Map<string, Issued & { sessionId: string }>();
  private readonly sessions = new Map<string, Issued & { secret: string }>();
  private readonly authData = new Map<string, Issued & { gwRouterAddr: string }>();
  private readonly refreshTokens = new Map<string, Issued>();
  private readonly usedCodes = new Set<string>();
  current!: CurrentCredentials;

  constructor(now: () => number, ttl: KisEmulatorTtls, clientId: string, clientSecret: string, gwRouterAddr: string) {
    this.now = now;
    this.ttl = ttl;
    this.clientId = clientId;
    this.clientSecret = clientSecret;
    this.gwRouterAddr = gwRouterAddr;
    const login = this.login();
    this.current = { clientId, clientSecret, gwRouterAddr, ...login, ...this.issueGateway() };
  }

  private mint(prefix: string): string {
    this.counter++;
    return `${prefix}${this.counter}-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  }

  /** A fresh access token + session (the code login). Earlier logins stay valid, as separate sessions would. */
  login(): { accessToken: string; accessTokenExpiresAt: number; sessionId: string; sessionExpiresAt: number; sessionSecret: string } {
    const now = this.now();
    const sessionId = this.mint("sid-");
    const sessionSecret = this.mint("ss-");
    const accessToken = this.mint("at-");
    this.sessions.set(sessionId, { expiresAt: now + this.ttl.sessionMs, revoked: false, secret: sessionSecret });
    this.accessTokens.set(accessToken, { expiresAt: now + this.ttl.accessTokenMs, revoked: false, sessionId });
    const out = {
      accessToken,
      accessTokenExpiresAt: now + this.ttl.accessTokenMs,
      sessionId,
      sessionExpiresAt: now + this.ttl.sessionMs,
      sessionSecret,
    };
    if (this.current) this.current = { ...this.current, ...out };
    return out;
  }

  /** New auth data + refresh token; the previous current ones are revoked. */
  issueGateway(): { authData: string; authDataExpiresAt: number; refreshAuthDataToken: string; refreshAuthDataTokenExpiresAt: number } {
    const now = this.now();
    if (this.current) {
      this.revoke(this.authData, this.current.authData);
      this.revoke(this.refreshTokens, this.current.refreshAuthDataToken);
    }
    const authData = this.mint("ad-");
    const refreshAuthDataToken = this.mint("rt-");
    this.authData.set(authData, { expiresAt: now + this.ttl.authDataMs, revoked: false, gwRouterAddr: this.gwRouterAddr });
    this.refreshTokens.set(refreshAuthDataToken, { expiresAt: now + this.ttl.refreshAuthDataTokenMs, revoked: false });
    const out = {
      authData,
      authDataExpiresAt: now + this.ttl.authDataMs,
      refreshAuthDataToken,
      refreshAuthDataTokenExpiresAt: now + this.ttl.refreshAuthDataTokenMs,
    };
    if (this.current) this.current = { ...this.current, ...out };
    return out;
  }

  /** refresh_login_access_token: new token and session; the old ones are revoked. */
  rotateLogin(oldAccessToken: string, oldSessionId: string) {
    const old = this.accessTokens.get(oldAccessToken);
    const secret = this.sessions.get(oldSessionId)?.secret;
    this.revoke(this.accessTokens, oldAccessToken);
    this.revoke(this.sessions, oldSessionId);
    const now = this.now();
    const sessionId = this.mint("sid-");
    const accessToken = this.mint("at-");
    const sessionSecret = secret ?? this.mint("ss-");
    this.sessions.set(sessionId, { expiresAt: now + this.ttl.sessionMs, revoked: false, secret: sessionSecret });
    this.accessTokens.set(accessToken, { expiresAt: now + this.ttl.accessTokenMs, revoked: false, sessionId });
    const out = { accessToken, accessTokenExpiresAt: now + this.ttl.accessTokenMs, sessionId, sessionExpiresAt: now + this.ttl.sessionMs, sessionSecret };
    if (old && this.current.accessToken === oldAccessToken) this.current = { ...this.current, ...out };
    return out;
  }

  private revoke<T extends Issued>(map: Map<string, T>, key: string | undefined) {
    const item = key === undefined ? undefined : map.get(key);
    if (item) item.revoked = true;
  }

  private check<T extends Issued>(map: Map<string, T>, key: string | null | undefined, allowExpired = false): CredentialCheck {
    if (!key) return "missing";
    const item = map.get(key);
    if (!item || item.revoked) return "invalid";
    if (!allowExpired && this.now() >= item.expiresAt) return "expired";
    return "ok";
  }

  checkAccessToken(token: string | null | undefined, allowExpired = false): CredentialCheck {
    return this.check(this.accessTokens, token, allowExpired);
  }
  checkSession(sessionId: unknown): CredentialCheck {
    return this.check(this.sessions, typeof sessionId === "string" ? sessionId : undefined);
  }
  checkAuthData(authData: string | null | undefined): CredentialCheck {
    return this.check(this.authData, authData);
  }
  checkRefreshToken(token: unknown): CredentialCheck {
    return this.check(this.refreshTokens, typeof token === "string" ? token : undefined);
  }
  routerOf(authData: string): string | undefined {
    return this.authData.get(authData)?.gwRouterAddr;
  }
  sessionSecret(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.secret;
  }

  /** Single-use authorization codes. */
  useCode(code: unknown, valid: readonly string[]): boolean {
    if (typeof code !== "string" || !valid.includes(code) || this.usedCodes.has(code)) return false;
    this.usedCodes.add(code);
    return true;
  }

  /** Makes a credential expire now (fault injection and tests). */
  expire(which: "access_token" | "session" | "auth_data" | "refresh_auth_data_token") {
    const now = this.now();
    const c = this.current;
    const map = { access_token: this.accessTokens, session: this.sessions, auth_data: this.authData, refresh_auth_data_token: this.refreshTokens }[which];
    const key = { access_token: c.accessToken, session: c.sessionId, auth_data: c.authData, refresh_auth_data_token: c.refreshAuthDataToken }[which];
    const item = map.get(key);
    if (item) item.expiresAt = Math.min(item.expiresAt, now);
  }
}
