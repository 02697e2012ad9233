/**
 * Issue 16, adv16b-kis-head-move: a posted document whose date or warehouse is edited, its lines unchanged, is
 * reversed where it was booked and posted again where it belongs — under `difference` too (a difference cannot
 * move stock). A remark is still no correction. Pure change book over the real correction shapes.
 */
import { describe, expect, it } from "vitest";
import { kisCorrectionShape } from "../../shared/connectors/kis/reversal.ts";
import { tplusCorrectionShape } from "../../shared/connectors/tplus/reversal.ts";
import type { CorrectionShape } from "../../shared/connectors/correction.ts";
import { ChangeBook } from "../../shared/engine/changes.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";

type Payload = Record<string, unknown>;

function review(shape: CorrectionShape, posted: Payload, current: Payload) {
  const first = new ChangeBook({ policy: "compensate", shape }, () => undefined);
  const images = first.documentImage({ externalKey: "K", members: ["1"], contentHash: "a", payload: posted }, 1, "r");
  const ledger = new Map<string, LedgerEntry>(images.map((e) => [e.externalKey, e]));
  const book = new ChangeBook({ policy: "compensate", shape }, (k) => ledger.get(k));
  return book.reviewDocument({ externalKey: "K", members: ["1"], contentHash: "b", payload: current }, undefined);
}

const kisBill = (date: string, stock: number, note = "") => ({
  Head: { FBillNo: "K", Fdate: `${date}T10:00:00`, FROB: 1, FDCStockID: stock, Fnote: note },
  Entry: [{ FItemID: 301, FUnitID: 1, FDCStockID: stock, FQty: 5, Fauxqty: 5, FAuxQtyMust: 5, Famount: 50 }],
});
const tplusVoucher = (date: string, warehouse: string, memo = "") => ({
  ExternalCode: "K",
  VoucherDate: date,
  Warehouse: { Code: warehouse },
  Memo: memo,
  RDRecordDetails: [{ Inventory: { Code: "A" }, BaseQuantity: 2, Amount: 20 }],
});

describe("a posted document moved to another day or warehouse (lines unchanged)", () => {
  for (const changeMode of ["reverse_repost", "difference"] as const) {
    it(`KIS (${changeMode}): a warehouse edit reverses in the old stock and posts in the new one`, () => {
      const r = review(kisCorrectionShape({ redQtySign: "negative", changeMode }), kisBill("2024-06-15", 1), kisBill("2024-06-15", 2));
      expect(r.verdict).toBe("corrections");
      if (r.verdict !== "corrections") return;
      expect(r.corrections.map((c) => [c.doc.externalKey, c.kind, c.cause])).toEqual([
        ["K-R1", "red", "moved"],
        ["K-B1", "blue", "moved"],
      ]);
      const stocks = r.corrections.map((c) => [(c.doc.payload.Head as Payload).FDCStockID, (c.doc.payload.Entry as Payload[])[0]!.FDCStockID]);
      expect(stocks).toEqual([
        [1, 1],
        [2, 2],
      ]);
    });
  }

  it("T+ (difference): a date edit reverses on the posted day and posts on the new one", () => {
    const shape = tplusCorrectionShape({ redQtySign: "negative", changeMode: "difference" });
    const r = review(shape, tplusVoucher("2024-06-15", "W1"), tplusVoucher("2024-06-14", "W1"));
    expect(r.verdict).toBe("corrections");
    if (r.verdict !== "corrections") return;
    expect(r.corrections.map((c) => [c.doc.externalKey, c.doc.payload.VoucherDate, (c.doc.payload.RDRecordDetails as Payload[])[0]!.BaseQuantity])).toEqual([
      ["K-R1", "2024-06-15", -2],
      ["K-B1", "2024-06-14", 2],
    ]);
  });

  it("a remark (memo) edit is still no correction", () => {
    const kis = kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" });
    expect(review(kis, kisBill("2024-06-15", 1), kisBill("2024-06-15", 1, "changed")).verdict).toBe("unchanged");
    const tplus = tplusCorrectionShape({ redQtySign: "negative", changeMode: "difference" });
    expect(review(tplus, tplusVoucher("2024-06-15", "W1"), tplusVoucher("2024-06-15", "W1", "changed")).verdict).toBe("unchanged");
  });

  it("KIS: a date and quantity edit reverses on the posted day (the posted head), reposts on the current one", () => {
    const shape = kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" });
    const current = kisBill("2024-06-14", 1);
    (current.Entry[0] as Payload).FQty = 7;
    const r = review(shape, kisBill("2024-06-15", 1), current);
    expect(r.verdict).toBe("corrections");
    if (r.verdict !== "corrections") return;
    expect(r.corrections.map((c) => [c.doc.externalKey, (c.doc.payload.Head as Payload).Fdate])).toEqual([
      ["K-R1", "2024-06-15T10:00:00"],
      ["K-B1", "2024-06-14T10:00:00"],
    ]);
  });
});
