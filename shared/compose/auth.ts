/**
 * The bootstraps `jst-bridge auth` runs (T+ cloud's code exchange, KIS's authorization code), built from the
 * environment like every other client (shared/compose/connectors.ts). Kept apart so the Worker's bundle,
 * which never bootstraps, does not carry them.
 */
import { bootstrapWithCode, KIS_DEFAULT_BASE_URL } from "../connectors/kis/index.ts";
import { TplusCloudTransport } from "../connectors/tplus/cloud.ts";
import type { ClientDeps } from "./connectors.ts";
import { type EnvVars, requestTimeoutMs, requiredEnv } from "./env.ts";

/** T+ cloud's token endpoints for `auth tplus` (the code exchange): TPLUS_BASE_URL, TPLUS_APP_KEY/SECRET, REQUEST_TIMEOUT_MS. */
export function tplusCloudAuth(env: EnvVars, deps: ClientDeps): TplusCloudTransport {
  const timeoutMs = requestTimeoutMs(env);
  return new TplusCloudTransport({
    ...(env.TPLUS_BASE_URL ? { baseUrl: env.TPLUS_BASE_URL } : {}),
    appKey: requiredEnv(env, "TPLUS_APP_KEY"),
    appSecret: requiredEnv(env, "TPLUS_APP_SECRET"),
    ...deps,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

/** KIS's authorization-code bootstrap for `auth kis`: KIS_BASE_URL, KIS_CLIENT_ID/SECRET, REQUEST_TIMEOUT_MS. */
export function kisBootstrap(
  env: EnvVars,
  deps: Pick<ClientDeps, "fetch" | "clock">,
  choice: Omit<Parameters<typeof bootstrapWithCode>[1], "clientId" | "clientSecret">,
) {
  const timeoutMs = requestTimeoutMs(env);
  return bootstrapWithCode(
    { baseUrl: env.KIS_BASE_URL ?? KIS_DEFAULT_BASE_URL, fetch: deps.fetch, clock: deps.clock, ...(timeoutMs ? { timeoutMs } : {}) },
    { clientId: requiredEnv(env, "KIS_CLIENT_ID"), clientSecret: requiredEnv(env, "KIS_CLIENT_SECRET"), ...choice },
  );
}
