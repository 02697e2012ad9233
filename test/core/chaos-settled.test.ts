/**
 * The chaos driver's "settled" rule against real run records (real engine, real clients, KIS emulator over HTTP).
 * Seed 20261368 (long): a KIS bill set aside after a transient 5xx left a "partial" run that did not continue; the
 * driver took the flow for settled, stopped invoking it, and the verdict found the bill missing (never written,
 * never dead-lettered). The engine was right (watermark held, the next run writes it); the driver was not.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { flowSettled } from "../chaos/settled.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { firstKisBill } from "../helpers/first-bill.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("chaos driver: a flow with a document set aside is not settled", () => {
  it("a partial run that set a bill aside is not settled; the next run writes the bill and then the flow is settled", async () => {
    const { billNo, target } = await firstKisBill();

    // Answers 500 for this bill until the list is emptied (a transient fault that outlasts one run's retries).
    const failing = [billNo];
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: failing } });
    const store = new FlowStateStore(e2e.kv);
    const first = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(first.outcome).toBe("partial");
    expect(first.continues).toBe(false);
    expect(first.setAside?.map((s) => s.externalKey)).toEqual([billNo]);
    expect((await store.getWatermark<{ watermark: number }>(KIS))!.watermark).toBeLessThanOrEqual(parseInZone(String(target.modified))!);
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(false);
    // Not written, not dead-lettered: the driver must invoke the flow again.
    expect(flowSettled(first)).toBe(false);

    failing.length = 0; // the fault is over
    e2e.clock.advance(30 * 60_000);
    const second = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(true);
    expect(second.setAside ?? []).toEqual([]);
    expect(flowSettled(second)).toBe(true);
  });

  it("a run that ends with its watermark held for a document an earlier invocation set aside is not settled (seed 9054)", async () => {
    const { billNo } = await firstKisBill();
    const failing = [billNo];
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: failing } });
    // A small budget: the invocation that sets the bill aside continues, and a later one finishes the chain.
    const chain = await e2e.runToCompletion(KIS, { budget: { maxSubrequests: 14 } });
    const setAsideIn = chain.findIndex((s) => s.setAside?.some((x) => x.externalKey === billNo));
    expect(setAsideIn).toBeGreaterThanOrEqual(0);
    expect(chain[setAsideIn]!.continues).toBe(true);
    const last = chain.at(-1)!;
    expect(last.continues).toBe(false);
    expect(last.setAside ?? []).toEqual([]); // the last invocation set nothing aside itself …
    expect(last.watermarkHeld).toBe("documents"); // … but its watermark waits for the bill
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(false);
    expect(flowSettled(last)).toBe(false);

    failing.length = 0;
    e2e.clock.advance(30 * 60_000);
    const next = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(e2e.stack.kis.bills().some((b) => b.FBillNo === billNo)).toBe(true);
    expect(next.watermarkHeld).toBeUndefined();
    expect(flowSettled(next)).toBe(true);
  });
});
