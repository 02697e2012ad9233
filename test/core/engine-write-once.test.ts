/**
 * Write side of "nothing doubled / nothing lost" (issue 12): real engine, real clients, emulators over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { kisPrecheck } from "../../shared/engine/runner.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function resetLedger(e: E2E, flowId: string) {
  for (const key of await e.kv.list(`ledger:${flowId}:`)) await e.kv.delete(key);
}

describe("KIS duplicates (engine-review finding 6)", () => {
  it("a KIS account that accepts a repeated FBillNo: a range backfill after a ledger reset books no bill twice (default settings)", async () => {
    e2e = await startE2E({ kis: { enforceUniqueBillNo: false }, salesOut: 0, otherInOut: 120 });
    const range = { from: E2E_START - 6 * DAY_MS, to: E2E_START - 60_000 };
    const first = await e2e.run(KIS, { range });
    expect(first.summary.outcome).toBe("success");
    const bills = e2e.stack.kis.bills().length;
    expect(bills).toBeGreaterThan(0);

    await resetLedger(e2e, KIS);
    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS, { range });
    expect(again.summary.outcome).toBe("success");
    const stored = e2e.stack.kis.bills();
    expect(stored.length).toBe(bills);
    expect(new Set(stored.map((b) => b.FBillNo)).size).toBe(stored.length);
    expect(again.summary.counts.written).toBe(0);
    expect(again.summary.counts.alreadyExisted).toBe(bills);
  });

  it("KIS_PRECHECK: default always; after_unknown_outcome only when asked; anything else is a configuration error", () => {
    expect(kisPrecheck({})).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "" })).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "always" })).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "after_unknown_outcome" })).toBe("after_unknown_outcome");
    expect(() => kisPrecheck({ KIS_PRECHECK: "sometimes" })).toThrow(/KIS_PRECHECK/);
  });
});
