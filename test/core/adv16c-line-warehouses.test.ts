/**
 * Adversary 16c: a KIS flow whose lines carry their own warehouse (Entry.FDCStockID per line), one sku on two lines in
 * two warehouses; the bill is cancelled after posting. Real engine, real clients, emulators over loopback HTTP;
 * explicit clocks; signed totals per (day, warehouse, sku) from the bills' own fields.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisTotals, signedDifferences } from "../helpers/signed-invariant.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;
type Field = { field: string; value?: unknown; children?: Field[] };

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16c: line-level warehouses", () => {
  // FINDING adv16c-line-warehouses (KIS flow whose Entry.FDCStockID comes from the line — docs/changes.md says any
  // head or LINE field naming a stock/warehouse counts as placement). Bill D: sku NZK30-44 × 5 in 10817 (KIS stock
  // 301) and × 3 in 10818 (302) on two lines. D is cancelled: R1 carries one line, −8 in 301.
  // Expected: every (day, warehouse, sku) of D nets to 0 (R1: −5 in 301, −3 in 302).
  // Actual: 2024-06-15|10817|NZK30-44 −3, 2024-06-15|10818|NZK30-44 +3; no letter.
  // Fault: connectors/kis/reversal.ts kisCorrectionShape.lines sums lines by FItemID alone (sumLines keeps one line's
  // `rest`, so the second line's FDCStockID is lost from the before-image); placement.ts compares stock fields per
  // item key too, so a per-line warehouse move of one of two same-sku lines is not seen either.
  it("FINDING adv16c-line-warehouses: a bill with one sku in two warehouses, cancelled: every (day, warehouse, sku) nets to 0", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    // The lines' warehouse from the line's own field (falls back to the head's warehouse when the line has none).
    const entry = (e2e.flows[KIS]!.target.fields as Field[]).find((f) => f.field === "Entry")!;
    entry.children!.find((c) => c.field === "FDCStockID")!.value = "_findCollection find kis_stock_id from warehouses where wms_co_id={line_wms} _endFind";
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(template);
    const item = structuredClone((template.items as Row[])[0]!);
    for (const d of jst.documents(JST_PATHS.otherInOut))
      jst.upsertDocument(JST_PATHS.otherInOut, { io_id: d.io_id, items: (d.items as Row[]).map((i) => ({ ...i, line_wms: d.wms_co_id })) });
    const doc = jst.upsertDocument(JST_PATHS.otherInOut, {
      ...copy,
      wms_co_id: 10817,
      items: [
        { ...item, qty: 5, line_wms: 10817 },
        { ...item, qty: 3, line_wms: 10818 },
      ],
    });
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    const id = String(doc.io_id);
    const mine = () => e2e!.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    expect(mine().map((b) => String(b.FBillNo))).toEqual([id]);
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(15 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    expect(signedDifferences(new Map(), kisTotals(mine()))).toEqual([]);
  });
});
