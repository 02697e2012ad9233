/**
 * All three emulators wired to one clock and one master-data catalog, plus the env-var contract that
 * points the bridge at them. Used by the end-to-end tests (in-process or over loopback HTTP), the
 * workerd global setup, `npm run emulators` and `npm start`.
 */
import { WAREHOUSES } from "./catalog.ts";
import { createJushuitanEmulator, type JushuitanEmulatorOptions } from "./jushuitan/index.ts";
import { createKisEmulator, type KisEmulatorOptions } from "./kis/index.ts";
import { createTplusEmulator, type TplusEmulatorOptions } from "./tplus/index.ts";

export interface EmulatorStackOptions {
  now?: () => number;
  jushuitan?: JushuitanEmulatorOptions;
  tplus?: TplusEmulatorOptions;
  kis?: KisEmulatorOptions;
}

export const TPLUS_STACK_TOKENS = { accessToken: "tplus-emulator-open-token", refreshToken: "tplus-emulator-refresh-token" };

export function createEmulatorStack(options: EmulatorStackOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const jushuitan = createJushuitanEmulator({ now, ...options.jushuitan });
  const tplus = createTplusEmulator({ now, initialTokens: TPLUS_STACK_TOKENS, ...options.tplus });
  const kis = createKisEmulator({ now, ...options.kis });
  return {
    jushuitan,
    tplus,
    kis,
    /** The configuration contract (what `.dev.vars` / the environment holds) for emulators at these URLs. */
    env(urls: { jushuitan: string; tplus: string; kis: string }): Record<string, string> {
      const k = kis.credentials();
      const j = jushuitan.credentials;
      const env: Record<string, string> = {
        JST_BASE_URL: urls.jushuitan,
        JST_APP_KEY: j.appKey,
        JST_APP_SECRET: j.appSecret,
        JST_ACCESS_TOKEN: j.accessToken,
        JST_REFRESH_TOKEN: j.refreshToken,
        TPLUS_MODE: "cloud",
        TPLUS_BASE_URL: urls.tplus,
        TPLUS_APP_KEY: options.tplus?.appKey ?? "tplus-app-key",
        TPLUS_APP_SECRET: options.tplus?.appSecret ?? "tplus-app-secret",
        TPLUS_OPEN_TOKEN: TPLUS_STACK_TOKENS.accessToken,
        TPLUS_REFRESH_TOKEN: TPLUS_STACK_TOKENS.refreshToken,
        KIS_BASE_URL: urls.kis,
        KIS_CLIENT_ID: k.clientId,
        KIS_CLIENT_SECRET: k.clientSecret,
        KIS_ACCESS_TOKEN: k.accessToken,
        KIS_AUTH_DATA: k.authData,
        KIS_GW_ROUTER_ADDR: k.gwRouterAddr,
      };
      if (k.sessionId) env.KIS_SESSION_ID = k.sessionId;
      if (k.refreshAuthDataToken) env.KIS_REFRESH_AUTH_DATA_TOKEN = k.refreshAuthDataToken;
      if (options.kis?.accountDb) env.KIS_ACCOUNT_DB = options.kis.accountDb;
      return env;
    },
  };
}

export type EmulatorStack = ReturnType<typeof createEmulatorStack>;

/** The warehouse mapping table users upload (Jushuitan wms_co_id → T+ code, KIS stock id). */
export function warehouseReferenceRows(): Record<string, unknown>[] {
  return WAREHOUSES.map((w) => ({ wms_co_id: w.jstWmsCoId, name: w.jstName, tplus_code: w.tplusCode, kis_stock_id: w.kisStockId }));
}
