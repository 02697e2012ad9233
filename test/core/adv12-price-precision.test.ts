/**
 * Adversarial review of issue 12 item 11 (Price × Qty = Amount): the T+ seed derives Price at 6 decimals from the
 * merged sums. A merged day line with a large quantity (30,000 cheap units for 10,000.00) gets Price 0.333333 and
 * Price × Qty = 9,999.99 ≠ 10,000.00; a line whose quantities net to 0 with an amount left gets Price 0.
 * Real engine, real T+ client, emulators.
 */
import { afterEach, describe, expect, it } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv12: Price × Qty = Amount on large merged quantities", () => {
  it("a day line of 30,000 units for 10,000.00 carries a Price whose product with the quantity rounds to the amount", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed")!;
    const { io_id: _i, ts: _t, modified: _m, ...rest } = template;
    const item = (template.items as Array<Record<string, unknown>>)[0]!;
    // A day with no other sales (before the generated history), so this is the whole merged line.
    jst.upsertDocument(JST_PATHS.salesOut, {
      ...rest,
      io_date: "2024-06-13 10:00:00",
      items: [{ ...item, qty: 30000, sale_price: 0.333333, sale_amount: 10000 }],
    });
    // The seed reads by `modified` up to the start of today: the document saved now is read on tomorrow's run.
    e2e.clock.advance(86_400_000);
    await e2e.runToCompletion(TPLUS);
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch").filter((v) => v.ExternalCode.startsWith("SO-2024-06-13"));
    expect(vouchers).toHaveLength(1);
    const line = (vouchers[0]!.payload.RDRecordDetails as Array<Record<string, number>>)[0]!;
    expect(line.BaseQuantity).toBe(30000);
    expect(line.Amount).toBe(10000);
    expect(Math.round(line.Price! * line.BaseQuantity! * 100)).toBe(Math.round(line.Amount! * 100));
  }, 120_000);
});
