/**
 * KIS connection settings from the environment (the `KIS_*` names in the README are a contract).
 * Validation names the variables that are missing or malformed and never echoes a value: most are secrets.
 */
import * as z from "zod/mini";
import { envConfigError, httpUrlVar, missingAndInvalid, optionalVar, presentVars, requiredVar } from "../env-config.ts";

export const KIS_DEFAULT_BASE_URL = "https://api.kingdee.com";

export interface KisConfig {
  /** Gateway origin, no trailing slash (default https://api.kingdee.com). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Seed credentials; once rotated, the TokenStore ("kis") holds the current ones. */
  accessToken: string;
  authData: string;
  gwRouterAddr: string;
  /** 私有云 账套 database; when set it goes into every business body as `AccountDB`. */
  accountDb?: string;
  /** Needed to refresh the access token (refresh_login_access_token). */
  sessionId?: string;
  /** Needed to refresh the auth data (refresh_auth_data). */
  refreshAuthDataToken?: string;
  /** ItemIds per Material/GetListDetails call (KIS_MATERIAL_DETAIL_BATCH, default 20; the server's limit is not public). */
  materialDetailBatch?: number;
}

/** Env variable name for each config field. */
export const KIS_ENV_NAMES = {
  baseUrl: "KIS_BASE_URL",
  clientId: "KIS_CLIENT_ID",
  clientSecret: "KIS_CLIENT_SECRET",
  accessToken: "KIS_ACCESS_TOKEN",
  authData: "KIS_AUTH_DATA",
  gwRouterAddr: "KIS_GW_ROUTER_ADDR",
  accountDb: "KIS_ACCOUNT_DB",
  sessionId: "KIS_SESSION_ID",
  refreshAuthDataToken: "KIS_REFRESH_AUTH_DATA_TOKEN",
  materialDetailBatch: "KIS_MATERIAL_DETAIL_BATCH",
} as const satisfies Record<keyof KisConfig, string>;

const schema = z.object({
  KIS_BASE_URL: z._default(httpUrlVar, KIS_DEFAULT_BASE_URL),
  KIS_CLIENT_ID: requiredVar,
  KIS_CLIENT_SECRET: requiredVar,
  KIS_ACCESS_TOKEN: requiredVar,
  KIS_AUTH_DATA: requiredVar,
  KIS_GW_ROUTER_ADDR: requiredVar,
  KIS_ACCOUNT_DB: optionalVar,
  KIS_SESSION_ID: optionalVar,
  KIS_REFRESH_AUTH_DATA_TOKEN: optionalVar,
  KIS_MATERIAL_DETAIL_BATCH: z.optional(
    z.string().check(
      z.trim(),
      z.regex(/^\d+$/),
      z.refine((v) => Number(v) >= 1 && Number(v) <= 200),
    ),
  ),
});

/** Our own words for a malformed value (the error never quotes it). */
const RULES = { KIS_BASE_URL: "must be an http(s) URL", KIS_MATERIAL_DETAIL_BATCH: "must be a whole number from 1 to 200" };

const HINT =
  "Set the KIS_* variables (Worker secrets, the Action's env or the CLI's .env). KIS_ACCESS_TOKEN, KIS_AUTH_DATA and " +
  "KIS_GW_ROUTER_ADDR come from the KIS authorization (see docs/targets-kis.md); KIS_CLIENT_ID/KIS_CLIENT_SECRET from the open-platform app.";

/** Builds a KisConfig from env-like values; empty strings count as unset. Throws ConfigError naming the variables. */
export function kisConfigFromEnv(env: Record<string, string | undefined>): KisConfig {
  const input = presentVars(env, Object.keys(schema.shape));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const { missing, invalid } = missingAndInvalid(parsed.error.issues, input, RULES);
    throw envConfigError("KIS configuration", missing, invalid, HINT);
  }
  const v = parsed.data;
  return {
    baseUrl: v.KIS_BASE_URL.replace(/\/+$/, ""),
    clientId: v.KIS_CLIENT_ID,
    clientSecret: v.KIS_CLIENT_SECRET,
    accessToken: v.KIS_ACCESS_TOKEN,
    authData: v.KIS_AUTH_DATA,
    gwRouterAddr: v.KIS_GW_ROUTER_ADDR,
    ...(v.KIS_ACCOUNT_DB ? { accountDb: v.KIS_ACCOUNT_DB } : {}),
    ...(v.KIS_SESSION_ID ? { sessionId: v.KIS_SESSION_ID } : {}),
    ...(v.KIS_REFRESH_AUTH_DATA_TOKEN ? { refreshAuthDataToken: v.KIS_REFRESH_AUTH_DATA_TOKEN } : {}),
    ...(v.KIS_MATERIAL_DETAIL_BATCH ? { materialDetailBatch: Number(v.KIS_MATERIAL_DETAIL_BATCH) } : {}),
  };
}
