/**
 * The only place the three vendors' clients are built from the environment (Airbyte's one-factory rule:
 * model_to_component_factory.py). Every host — cron, queue, HTTP, CLI, Action — and every feature — run,
 * replay, reference refresh, reconcile, doctor, auth — gets its clients here, so base URLs, credentials,
 * REQUEST_TIMEOUT_MS, the rate budget and paging limits are read the same way everywhere.
 */
import { JushuitanClient, tokensFromEnv } from "../connectors/jushuitan/index.ts";
import { KisClient, kisConfigFromEnv, KisOperations, KisTarget } from "../connectors/kis/index.ts";
import type { TargetConnector } from "../connectors/target.ts";
import { createTplusClient, tplusConfigFromEnv, type TplusClient, type TplusClientOptions } from "../connectors/tplus/operations.ts";
import type { Flow } from "../flow/schema.ts";
import { jstRateFromEnv, type RateBudget } from "../http/rate-budget.ts";
import type { Clock, FetchLike, Logger, TokenStore } from "../ports.ts";
import { type EnvVars, kisPrecheck, maxPagesPerWindow, requestTimeoutMs, requiredEnv } from "./env.ts";

/** What a client needs besides the environment: the (metered) fetch, where tokens live, the clock and the logger. */
export interface ClientDeps {
  fetch: FetchLike;
  tokenStore: TokenStore;
  clock: Clock;
  logger: Logger;
}

export const JST_DEFAULT_BASE_URL = "https://openapi.jushuitan.com";

export interface JushuitanClientChoices {
  /** The app's shared rate budget (http/rate-budget.ts); default: the client's own limiter at JST_RATE_* . */
  rateBudget?: RateBudget;
  /** Seed the token store from JST_ACCESS_TOKEN / JST_REFRESH_TOKEN (default true; `auth` obtains new tokens instead). */
  envTokens?: boolean;
}

/** The Jushuitan client: JST_BASE_URL, JST_APP_KEY/SECRET, tokens, rate limits, paging cap and timeout from the environment. */
export function jushuitanClient(env: EnvVars, deps: ClientDeps, choices: JushuitanClientChoices = {}): JushuitanClient {
  const timeoutMs = requestTimeoutMs(env);
  const maxPages = maxPagesPerWindow(env);
  const initialTokens = choices.envTokens === false ? undefined : tokensFromEnv(env);
  return new JushuitanClient({
    baseUrl: env.JST_BASE_URL ?? JST_DEFAULT_BASE_URL,
    appKey: requiredEnv(env, "JST_APP_KEY"),
    appSecret: requiredEnv(env, "JST_APP_SECRET"),
    tokenStore: deps.tokenStore,
    fetch: deps.fetch,
    clock: deps.clock,
    logger: deps.logger,
    ...(initialTokens ? { initialTokens } : {}),
    // One Jushuitan budget per app across every run of the host (http/rate-budget.ts); else this client's own limiter.
    ...(choices.rateBudget ? { rateLimiter: choices.rateBudget } : { limits: jstRateFromEnv(env) }),
    ...(maxPages ? { maxPagesPerWindow: maxPages } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

/** KIS bill operations over a client configured from KIS_* and REQUEST_TIMEOUT_MS. */
export function kisOperations(env: EnvVars, deps: ClientDeps): KisOperations {
  const timeoutMs = requestTimeoutMs(env);
  return new KisOperations(new KisClient({ config: kisConfigFromEnv(env), ...deps, ...(timeoutMs ? { timeoutMs } : {}) }));
}

/** The T+ client (cloud or on-prem by TPLUS_MODE) configured from TPLUS_* and REQUEST_TIMEOUT_MS. */
export function tplusClient(env: EnvVars, deps: ClientDeps, options: Omit<TplusClientOptions, "timeoutMs"> = {}): TplusClient {
  const timeoutMs = requestTimeoutMs(env);
  return createTplusClient(tplusConfigFromEnv(env), deps, { ...options, ...(timeoutMs ? { timeoutMs } : {}) });
}

/** A flow's target connector: T+ or KIS (KIS with its precheck policy: the caller's choice, else KIS_PRECHECK). */
export function targetClient(flow: Flow, env: EnvVars, deps: ClientDeps, options: { kisPrecheck?: "always" | "after_unknown_outcome" } = {}): TargetConnector {
  if (flow.target.type === "tplus") return tplusClient(env, deps);
  return new KisTarget({ operations: kisOperations(env, deps), precheck: options.kisPrecheck ?? kisPrecheck(env) });
}
