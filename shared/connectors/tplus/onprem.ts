/**
 * On-premises T+ OpenAPI: form posts `_args=<json>` with a signed `Authorization` header,
 * base64(JSON{appKey, authInfo, orgId}), where authInfo is a PS256 JWT made with the ISV private key.
 * A login (账套登录) yields the access_token the business calls carry inside the JWT; a rejected token
 * triggers one fresh login. The session is kept in the TokenStore so later runs skip the login.
 */
import { silentLogger } from "../../ports.ts";
import type { Clock, FetchLike, Logger, TokenSet, TokenStore } from "../../ports.ts";
import { md5Hex } from "../../util/md5.ts";
import { beforeSend, readAnswer, TPLUS_ERROR, TplusError } from "./errors.ts";
import type { DuplicateMatcher } from "./errors.ts";
import { importSigningKey, signJwt } from "./jwt.ts";
import type { JwtAlgorithm } from "./jwt.ts";
import { apiUrl, base64Utf8, DEFAULT_TIMEOUT_MS, exchange, normalizeBaseUrl } from "./transport.ts";
import type { TplusCallOptions, TplusTransport } from "./transport.ts";

export const LOGIN_PATH = "collaborationapp/GetRealNameTPlusToken";

export interface TplusOnpremOptions {
  /** http(s)://host:port of the T+ server. */
  baseUrl: string;
  appKey: string;
  appSecret: string;
  orgId: string;
  /** ISV private key (cjet_pri.pem), PKCS#8 or PKCS#1 PEM. */
  privateKey: string;
  user: string;
  password: string;
  /** 账套号 */
  account: string;
  fetch: FetchLike;
  clock: Clock;
  tokenStore: TokenStore;
  logger?: Logger;
  /** TokenStore key; default "tplus-onprem". */
  tokenKey?: string;
  timeoutMs?: number;
  algorithm?: JwtAlgorithm;
  /** JWT `sub` for the login: "tester" in Chanjet's C# SDK, "cjt" in a PHP client (UNCERTAIN which the server checks). */
  loginSubject?: string;
  /** JWT `sub` for business calls. */
  subject?: string;
  /** Lifetime of the signed authInfo; the servers expect `exp` in milliseconds, 30 s ahead. */
  jwtTtlMs?: number;
  /** Send `Cookie: sid=…` after login (UNCERTAIN whether needed; harmless). */
  sendSidCookie?: boolean;
  duplicate?: DuplicateMatcher;
  tokenErrorCodes?: string[];
}

/** `datas` claim: md5 of the credentials in the compact key order the .NET SDK serializes. */
export function credentialDigest(appKey: string, orgId: string, appSecret: string): string {
  return md5Hex(JSON.stringify({ appkey: appKey, orgid: orgId, appsecret: appSecret }));
}

export class TplusOnpremTransport implements TplusTransport {
  readonly mode = "onprem" as const;
  private readonly base: string;
  private readonly options: TplusOnpremOptions;
  private readonly logger: Logger;
  private readonly tokenKey: string;
  private key: Promise<CryptoKey> | null = null;
  private session: TokenSet | null = null;
  private loggingIn: Promise<TokenSet> | null = null;

  constructor(options: TplusOnpremOptions) {
    this.options = options;
    this.base = normalizeBaseUrl(options.baseUrl);
    this.logger = options.logger ?? silentLogger;
    this.tokenKey = options.tokenKey ?? "tplus-onprem";
  }

  private secrets(): string[] {
    const o = this.options;
    return [o.appSecret, o.password, md5Hex(o.password), this.session?.accessToken ?? "", this.session?.extra?.sid ?? ""];
  }

  private signingKey(): Promise<CryptoKey> {
    if (!this.key) {
      this.key = importSigningKey(this.options.privateKey, this.options.algorithm ?? "PS256");
      this.key.catch(() => {
        this.key = null;
      });
    }
    return this.key;
  }

  private async authorization(subject: string, accessToken?: string): Promise<string> {
    const o = this.options;
    const payload: Record<string, unknown> = {
      sub: subject,
      exp: o.clock.now() + (o.jwtTtlMs ?? 30_000),
      datas: credentialDigest(o.appKey, o.orgId, o.appSecret),
    };
    if (accessToken) payload.access_token = accessToken;
    const authInfo = await signJwt(payload, await this.signingKey(), o.algorithm ?? "PS256");
    return base64Utf8(JSON.stringify({ appKey: o.appKey, authInfo, orgId: o.orgId }));
  }

  async call(path: string, body: unknown, options: TplusCallOptions = {}): Promise<unknown> {
    let session = await this.currentSession(options.signal).catch((e: unknown) => Promise.reject(beforeSend(e)));
    try {
      return await this.send(path, body, session, options);
    } catch (error) {
      if (!(error instanceof TplusError && error.code === TPLUS_ERROR.tokenInvalid)) throw error;
      this.logger.info("tplus: on-prem token rejected, logging in again", { path, code: error.tplusCode });
      session = await this.relogin(session.accessToken, options.signal).catch((e: unknown) => Promise.reject(beforeSend(e)));
      return await this.send(path, body, session, options);
    }
  }

  private async send(path: string, body: unknown, session: TokenSet | null, options: TplusCallOptions, query = ""): Promise<unknown> {
    const headers: Record<string, string> = {
      Authorization: await this.authorization(session ? (this.options.subject ?? "chanjet") : (this.options.loginSubject ?? "tester"), session?.accessToken),
      "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    };
    const sid = session?.extra?.sid;
    if (sid && this.options.sendSidCookie !== false) headers.Cookie = `sid=${sid}`;
    const res = await exchange(
      this.options.fetch,
      apiUrl(this.base, path) + query,
      { method: "POST", headers, body: new URLSearchParams({ _args: JSON.stringify(body ?? {}) }).toString() },
      { timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: options.signal, label: path },
    );
    const answer = readAnswer({
      path,
      httpStatus: res.status,
      bodyText: res.text,
      duplicate: this.options.duplicate,
      tokenErrorCodes: this.options.tokenErrorCodes,
      secrets: this.secrets(),
    });
    if (!answer.ok) throw answer.error;
    return answer.value;
  }

  private async currentSession(signal?: AbortSignal): Promise<TokenSet> {
    if (this.session) return this.session;
    const stored = await this.options.tokenStore.get(this.tokenKey);
    if (stored?.accessToken && stored.extra?.account === this.options.account && stored.extra?.user === this.options.user) {
      this.session = stored;
      return stored;
    }
    return this.relogin("", signal);
  }

  /** One login at a time; a caller whose token was already replaced takes the new one. */
  private async relogin(staleToken: string, signal?: AbortSignal): Promise<TokenSet> {
    if (this.session && this.session.accessToken !== staleToken) return this.session;
    if (this.loggingIn) return this.loggingIn;
    this.loggingIn = this.login(signal);
    try {
      return await this.loggingIn;
    } finally {
      this.loggingIn = null;
    }
  }

  private async login(signal?: AbortSignal): Promise<TokenSet> {
    const o = this.options;
    const args = { userName: o.user, password: md5Hex(o.password), accNum: o.account };
    let value: unknown;
    try {
      value = await this.send(LOGIN_PATH, args, null, { signal }, "?IsFree=1");
    } catch (error) {
      // EXSM0004 ("already logged in", token in `data`) is a v1 behaviour; v2 is not known to send it (UNCERTAIN), so it fails here with its message.
      if (error instanceof TplusError && !error.retryable) {
        throw new TplusError(TPLUS_ERROR.loginFailed, `T+ login failed: ${error.message}`, {
          httpStatus: error.httpStatus,
          tplusCode: error.tplusCode,
          cause: error,
          hint:
            "Check TPLUS_USER, TPLUS_PASSWORD and TPLUS_ACCOUNT (账套号), that TPLUS_APP_KEY / TPLUS_APP_SECRET / TPLUS_ORG_ID / TPLUS_PRIVATE_KEY " +
            "belong to the same ISV app, and that this machine's clock is right (the signed authInfo is valid for 30 s).",
        });
      } else {
        throw error;
      }
    }
    const answer = (value ?? {}) as { access_token?: unknown; sid?: unknown; result?: unknown };
    if (typeof answer.access_token !== "string" || answer.access_token === "" || answer.result === false) {
      throw new TplusError(TPLUS_ERROR.loginFailed, "T+ login answered without an access_token", {
        hint: "Check TPLUS_USER, TPLUS_PASSWORD and TPLUS_ACCOUNT (账套号); the user must be allowed to log into that 账套.",
      });
    }
    const session: TokenSet = {
      accessToken: answer.access_token,
      extra: { user: o.user, account: o.account, ...(typeof answer.sid === "string" && answer.sid ? { sid: answer.sid } : {}) },
    };
    this.session = session;
    await this.options.tokenStore.put(this.tokenKey, session);
    this.logger.info("tplus: on-prem login succeeded", { account: o.account });
    return session;
  }
}
