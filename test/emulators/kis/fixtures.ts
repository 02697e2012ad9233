/** Helpers shared by the KIS tests in Node and in workerd (web standards only). */
import type { Clock } from "../../../shared/ports.ts";
import type { KisConfig } from "../../../shared/connectors/kis/config.ts";
import type { KisEmulator } from "./index.ts";

/** A clock the test moves; `sleep` advances it instead of waiting (backoff costs no wall time). */
export function manualClock(start = Date.UTC(2024, 2, 1, 2, 0, 0)) {
  let t = start;
  const clock: Clock & { advance(ms: number): void; set(ms: number): void } = {
    now: () => t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
  return clock;
}

/** A KisConfig pointing at an emulator with its current credentials. */
export function kisConfigFor(emulator: KisEmulator, baseUrl: string, overrides: Partial<KisConfig> = {}): KisConfig {
  const c = emulator.credentials();
  return {
    baseUrl,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    accessToken: c.accessToken,
    authData: c.authData,
    gwRouterAddr: c.gwRouterAddr,
    sessionId: c.sessionId,
    refreshAuthDataToken: c.refreshAuthDataToken,
    ...overrides,
  };
}

/** A fetch port that hands requests to the emulator's Hono app in-process (workerd tests). */
export function inProcessFetch(emulator: KisEmulator) {
  return (input: Request | string | URL, init?: RequestInit) => Promise.resolve(emulator.app.fetch(new Request(input, init)));
}

/** A 其他入库单 payload that passes the emulator's validation, built from the shared catalog ids. */
export function receiptObject(opts: { fdate?: string; lines?: Array<{ itemId: number; unitId: number; qty: number; stockId: number }> } = {}) {
  const lines = opts.lines ?? [
    { itemId: 1001, unitId: 11, qty: 3, stockId: 301 },
    { itemId: 1017, unitId: 11, qty: 5, stockId: 301 },
  ];
  return {
    Head: { FTranType: 10, Fdate: opts.fdate ?? "2024-03-01 10:00:00", FROB: 1, Fnote: "jst-bridge test" },
    Entry: lines.map((l) => ({
      FItemID: l.itemId,
      FUnitID: l.unitId,
      FQty: l.qty,
      Fauxqty: l.qty,
      FAuxQtyMust: l.qty,
      FDCStockID: l.stockId,
      FPlanMode: 14036,
    })),
  };
}
