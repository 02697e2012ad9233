import { afterEach, describe, expect, it } from "vitest";
import { isAccountError } from "../../shared/connectors/target.ts";
import { BridgeError } from "../../shared/errors.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";
import { actualTargets, E2E_START, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";

// Regression (found by the chaos suite): a target refusing the credentials twice in a row (the token rejected
// again right after the refresh) made the engine file the document as a dead letter (tplus_auth /
// kis_auth_failed are not retryable) and move the watermark past it. Credentials are not the document's fault:
// the run must stop and the next run write the document.
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("account-level failures stop the run instead of dead-lettering documents", () => {
  it("classifies credentials, quota and API permission as account errors, and document refusals not", () => {
    for (const code of ["tplus_auth", "tplus_token_invalid", "tplus_refresh_failed", "tplus_quota", "tplus_api_not_enabled", "kis_auth_failed"]) {
      expect(isAccountError(new BridgeError(code, "x")), code).toBe(true);
    }
    for (const code of ["tplus_business", "kis_business_error", "lookup_miss", "tplus_duplicate"]) {
      expect(isAccountError(new BridgeError(code, "x")), code).toBe(false);
    }
    expect(isAccountError(new Error("tplus_auth"))).toBe(false);
  });

  it("a token rejected again right after its refresh fails the run; the next run writes every document, no dead letter", async () => {
    e2e = await startE2E({ otherInOut: 200, salesOut: 160 });
    e2e.stack.tplus.addFaults([{ kind: "tokenExpired", path: "otherDispatch/Create", skip: 1, times: 2 }]);
    e2e.stack.kis.addFaults([{ kind: "authExpired", path: "miscellaneousreceipt/create", skip: 2, times: 2, credential: "access_token" }]);

    for (const [flow, code] of [
      [KIS, "kis_auth_failed"],
      [TPLUS, "tplus_auth"],
    ] as const) {
      const first = await e2e.run(flow);
      expect(first.summary.outcome, flow).toBe("failed");
      expect(first.summary.error?.code, flow).toBe(code);
      expect(first.summary.counts.deadLettered, flow).toBe(0);
      expect(first.summary.watermarkAfter, flow).toBeLessThan(E2E_START - 60 * 60_000);
      const after = await e2e.runToCompletion(flow);
      expect(after.at(-1)!.outcome, flow).toBe("success");
    }

    const store = new FlowStateStore(e2e.kv);
    expect(await store.listDeadLetters(KIS)).toEqual([]);
    expect(await store.listDeadLetters(TPLUS)).toEqual([]);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTargets(e2e, {
      kis: E2E_START - 5 * 60_000,
      tplusDayEnd: startOfDayInZone(E2E_START),
      tplusModifiedBefore: startOfDayInZone(E2E_START),
    });
    const actual = actualTargets(e2e);
    expect(expected.kis.size).toBeGreaterThan(3);
    expect(Object.fromEntries(actual.kis)).toEqual(Object.fromEntries(expected.kis));
    expect(Object.fromEntries(actual.tplus)).toEqual(Object.fromEntries(expected.tplus));
    expect(actual.kisCount).toBe(expected.kis.size);
    expect(actual.tplusCount).toBe(expected.tplus.size);
  });
});
