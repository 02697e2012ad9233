/**
 * KIS connection settings from the environment (the `KIS_*` names in the README are a contract).
 * Validation names the variables that are missing or malformed and never echoes a value: most are secrets.
 */
import * as z from "zod/mini";
import { ConfigError } from "../../errors.ts";

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

const required = z.string().check(z.trim(), z.minLength(1));
const optional = z.optional(z.string().check(z.trim(), z.minLength(1)));

const schema = z.object({
  KIS_BASE_URL: z._default(
    z.string().check(
      z.trim(),
      z.refine((v) => {
        try {
          const u = new URL(v);
          return u.protocol === "https:" || u.protocol === "http:";
        } catch {
          return false;
        }
      }, "must be an http(s) URL such as https://api.kingdee.com"),
    ),
    KIS_DEFAULT_BASE_URL,
  ),
  KIS_CLIENT_ID: required,
  KIS_CLIENT_SECRET: required,
  KIS_ACCESS_TOKEN: required,
  KIS_AUTH_DATA: required,
  KIS_GW_ROUTER_ADDR: required,
  KIS_ACCOUNT_DB: optional,
  KIS_SESSION_ID: optional,
  KIS_REFRESH_AUTH_DATA_TOKEN: optional,
  KIS_MATERIAL_DETAIL_BATCH: z.optional(
    z.string().check(
      z.trim(),
      z.regex(/^\d+$/),
      z.refine((v) => Number(v) >= 1 && Number(v) <= 200),
    ),
  ),
});

type EnvName = keyof z.infer<typeof schema>;

/** Builds a KisConfig from env-like values; empty strings count as unset. Throws ConfigError naming the variables. */
export function kisConfigFromEnv(env: Record<string, string | undefined>): KisConfig {
  const input: Record<string, string> = {};
  for (const name of Object.keys(schema.shape) as EnvName[]) {
    const value = env[name];
    if (typeof value === "string" && value.trim() !== "") input[name] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const missing: string[] = [];
    const invalid: string[] = [];
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "");
      if (!(name in input)) missing.push(name);
      // Only the variable name and our own rule text: zod messages could quote the input.
      else
        invalid.push(
          name === "KIS_BASE_URL"
            ? `${name} (must be an http(s) URL)`
            : name === "KIS_MATERIAL_DETAIL_BATCH"
              ? `${name} (must be a whole number from 1 to 200)`
              : name,
        );
    }
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${[...new Set(missing)].join(", ")}`);
    if (invalid.length) parts.push(`invalid ${[...new Set(invalid)].join(", ")}`);
    throw new ConfigError(`KIS configuration: ${parts.join("; ")}`, {
      hint:
        "Set the KIS_* variables (Worker secrets, the Action's env or the CLI's .env). KIS_ACCESS_TOKEN, KIS_AUTH_DATA and " +
        "KIS_GW_ROUTER_ADDR come from the KIS authorization (see docs/targets-kis.md); KIS_CLIENT_ID/KIS_CLIENT_SECRET from the open-platform app.",
      details: { missing: [...new Set(missing)], invalid: [...new Set(invalid)] },
    });
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
