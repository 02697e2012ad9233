/**
 * A document found after our own lost attempt is verified too (chaos seeds 20261205 / 20261260, long profile). After
 * a timeout or 5xx the connectors look the key up before resending and, on a hit, assume the lost attempt stored it
 * ("created"). After a ledger loss the key may instead hold the group built from fewer members: without reading it
 * back, a late member was recorded as written and lost (no target line, no dead letter). Real engine, real clients,
 * emulators over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("a document found after a lost answer is read back like 'already exists'", () => {
  it("ledger reset, late member, every T+ create answers 5xx once: the old voucher found by the lookup is a conflict holding the late member, not 'created'", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    // Whole written days rebuilt after a ledger reset: the io_date window option (the seed reads by modified and
    // would re-read only part of a day; engine-verify-existing.test.ts says more).
    const flow = e2e.flows[TPLUS]!;
    flow.source.params.date_type = 2;
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback
    await e2e.runToCompletion(TPLUS);
    const written = e2e.stack.tplus.vouchers("otherDispatch");
    expect(written.length).toBeGreaterThan(0);
    const docs = e2e.stack.jushuitan.documents(JST_PATHS.salesOut).filter((d) => d.status === "Confirmed" && Number(d.shop_id) === 0);
    const keyOf = (d: Row) => `SO-${String(d.io_date).slice(0, 10)}-${String(d.wms_co_id)}`;
    const target = [...written].sort((a, b) => b.ExternalCode.localeCompare(a.ExternalCode))[0]!;
    const sibling = docs.find((d) => keyOf(d) === target.ExternalCode)!;
    expect(sibling).toBeDefined();

    for (const key of await e2e.kv.list(`ledger:${TPLUS}:`)) await e2e.kv.delete(key);
    e2e.clock.advance(60 * 60_000);
    const late = e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, {
      ...structuredClone(sibling),
      io_id: undefined,
      o_id: Number(sibling.o_id ?? 0) + 900_000,
      items: [{ ...(sibling.items as Row[])[0]!, qty: 7 }],
    });
    const lateId = String(late.io_id);
    // Every create's answer is lost once (nothing stored): the retry looks the key up first and finds the old voucher.
    e2e.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", times: 50 }]);
    const summaries = await e2e.runToCompletion(TPLUS);
    expect(summaries.at(-1)!.outcome).not.toBe("failed");
    expect(e2e.stack.tplus.requests().some((r) => r.fault === "http5xx")).toBe(true);

    const after = e2e.stack.tplus.vouchers("otherDispatch");
    expect(after.length).toBe(written.length);
    // Nothing lost: the late member is in a conflict dead letter (it is not in the target).
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS);
    const conflict = letters.find((l) => l.error.code === "conflict" && l.externalKey === target.ExternalCode);
    expect(conflict, JSON.stringify(letters.map((l) => [l.externalKey, l.error.code]))).toBeDefined();
    const rows = (Array.isArray(conflict!.source) ? conflict!.source : [conflict!.source]) as Row[];
    expect(rows.map((r) => String(r.io_id))).toContain(lateId);
    // The unchanged days found after a lost answer match what we would write: written, no letter.
    expect(letters.filter((l) => l.error.code === "conflict")).toHaveLength(1);
  });
});
