/**
 * T+ connection settings from the environment (the `TPLUS_*` names in the README are a contract).
 * TPLUS_MODE picks the variables that are required; validation names missing or malformed variables
 * and never echoes a value: most of them are secrets.
 */
import * as z from "zod/mini";
import { envConfigError, httpUrlVar, missingAndInvalid, optionalVar, presentVars, requiredVar } from "../env-config.ts";
import { DEFAULT_CLOUD_BASE_URL } from "./cloud.ts";

export interface TplusCloudConfig {
  mode: "cloud";
  /** Gateway origin (default https://openapi.chanjet.com). */
  baseUrl: string;
  appKey: string;
  appSecret: string;
  /** Bootstrap tokens; once rotated, the TokenStore ("tplus-cloud") holds the current pair. */
  openToken?: string;
  refreshToken?: string;
  orgId?: string;
}

export interface TplusOnpremConfig {
  mode: "onprem";
  /** http(s)://host:port of the T+ server. */
  baseUrl: string;
  appKey: string;
  appSecret: string;
  /**
   * "" for user/password (账套) login, as Chanjet's demo sends it in authInfo `datas` and the header
   * (yeongjet/chanjie.tp.openapi Form1.cs btnV2LoginWithUserPwd_Click; wire-evidence.md §2b). TPLUS_ORG_ID is
   * sent when set. The enterprise-cloud-ID login (GetAnonymousTPlusToken, real org id) is NOT implemented.
   */
  orgId: string;
  /** ISV private key PEM (PKCS#8 or PKCS#1). */
  privateKey: string;
  user: string;
  password: string;
  /** 账套号 */
  account: string;
}

export type TplusConfig = TplusCloudConfig | TplusOnpremConfig;

/** Env variable name for each config field. */
export const TPLUS_ENV_NAMES = {
  mode: "TPLUS_MODE",
  baseUrl: "TPLUS_BASE_URL",
  appKey: "TPLUS_APP_KEY",
  appSecret: "TPLUS_APP_SECRET",
  openToken: "TPLUS_OPEN_TOKEN",
  refreshToken: "TPLUS_REFRESH_TOKEN",
  orgId: "TPLUS_ORG_ID",
  privateKey: "TPLUS_PRIVATE_KEY",
  user: "TPLUS_USER",
  password: "TPLUS_PASSWORD",
  account: "TPLUS_ACCOUNT",
} as const;

const ALL_NAMES = Object.values(TPLUS_ENV_NAMES);
/** Our own words for a malformed value (the error never quotes it). */
const RULES = { TPLUS_BASE_URL: "must be an http(s) URL" };

const cloudSchema = z.object({
  TPLUS_MODE: z.literal("cloud"),
  TPLUS_BASE_URL: z._default(httpUrlVar, DEFAULT_CLOUD_BASE_URL),
  TPLUS_APP_KEY: requiredVar,
  TPLUS_APP_SECRET: requiredVar,
  TPLUS_OPEN_TOKEN: optionalVar,
  TPLUS_REFRESH_TOKEN: optionalVar,
  TPLUS_ORG_ID: optionalVar,
});

const onpremSchema = z.object({
  TPLUS_MODE: z.literal("onprem"),
  TPLUS_BASE_URL: httpUrlVar,
  TPLUS_APP_KEY: requiredVar,
  TPLUS_APP_SECRET: requiredVar,
  TPLUS_ORG_ID: optionalVar,
  TPLUS_PRIVATE_KEY: requiredVar,
  TPLUS_USER: requiredVar,
  // Not trimmed: a password may end in a space.
  TPLUS_PASSWORD: z.string().check(z.minLength(1)),
  TPLUS_ACCOUNT: requiredVar,
});

const HINTS = {
  cloud:
    "TPLUS_MODE=cloud needs TPLUS_APP_KEY and TPLUS_APP_SECRET (your app in the Chanjet open platform) and a token: " +
    "TPLUS_REFRESH_TOKEN (and TPLUS_OPEN_TOKEN) from authorizing the app for your T+ organisation. See docs/targets-tplus.md.",
  onprem:
    "TPLUS_MODE=onprem needs TPLUS_BASE_URL (http(s)://T+ server:port), TPLUS_APP_KEY, TPLUS_APP_SECRET and " +
    "TPLUS_PRIVATE_KEY (the ISV key cjet_pri.pem), plus the T+ login TPLUS_USER, TPLUS_PASSWORD and TPLUS_ACCOUNT (账套号). See docs/targets-tplus.md.",
};

function fail(mode: "cloud" | "onprem" | undefined, missing: string[], invalid: string[]): never {
  throw envConfigError(
    `T+ configuration${mode ? ` (TPLUS_MODE=${mode})` : ""}`,
    missing,
    invalid,
    mode ? HINTS[mode] : "Set TPLUS_MODE to cloud (T+Cloud through openapi.chanjet.com) or onprem (a T+ server with the OpenAPI enabled).",
  );
}

/** Builds a TplusConfig from env-like values; empty strings count as unset. Throws ConfigError naming the variables. */
export function tplusConfigFromEnv(env: Record<string, string | undefined>): TplusConfig {
  const input = presentVars(env, ALL_NAMES);
  const rawMode = input.TPLUS_MODE?.trim().toLowerCase();
  if (rawMode === undefined) fail(undefined, ["TPLUS_MODE"], []);
  if (rawMode !== "cloud" && rawMode !== "onprem") fail(undefined, [], ["TPLUS_MODE (must be cloud or onprem)"]);
  input.TPLUS_MODE = rawMode;

  const schema = rawMode === "cloud" ? cloudSchema : onpremSchema;
  const parsed = schema.safeParse(input);
  const { missing, invalid } = parsed.success ? { missing: [], invalid: [] } : missingAndInvalid(parsed.error.issues, input, RULES);
  if (rawMode === "cloud" && !input.TPLUS_OPEN_TOKEN && !input.TPLUS_REFRESH_TOKEN) missing.push("TPLUS_REFRESH_TOKEN (or TPLUS_OPEN_TOKEN)");
  if (missing.length || invalid.length || !parsed.success) fail(rawMode, missing, invalid);

  if (rawMode === "cloud") {
    const v = cloudSchema.parse(input);
    return {
      mode: "cloud",
      baseUrl: v.TPLUS_BASE_URL.replace(/\/+$/, ""),
      appKey: v.TPLUS_APP_KEY,
      appSecret: v.TPLUS_APP_SECRET,
      ...(v.TPLUS_OPEN_TOKEN ? { openToken: v.TPLUS_OPEN_TOKEN } : {}),
      ...(v.TPLUS_REFRESH_TOKEN ? { refreshToken: v.TPLUS_REFRESH_TOKEN } : {}),
      ...(v.TPLUS_ORG_ID ? { orgId: v.TPLUS_ORG_ID } : {}),
    };
  }
  const v = onpremSchema.parse(input);
  return {
    mode: "onprem",
    baseUrl: v.TPLUS_BASE_URL.replace(/\/+$/, ""),
    appKey: v.TPLUS_APP_KEY,
    appSecret: v.TPLUS_APP_SECRET,
    orgId: v.TPLUS_ORG_ID ?? "",
    privateKey: v.TPLUS_PRIVATE_KEY,
    user: v.TPLUS_USER,
    password: v.TPLUS_PASSWORD,
    account: v.TPLUS_ACCOUNT,
  };
}
