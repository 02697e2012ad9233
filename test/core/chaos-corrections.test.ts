/** The chaos verdict's signed sums (test/chaos/corrections.ts): corrections are part of their key, not duplicates. */
import { describe, expect, it } from "vitest";
import { baseKey, isCorrectionKey, signedKis, signedTplus } from "../chaos/corrections.ts";
import { SKUS } from "../emulators/catalog.ts";

const sku = SKUS[0]!;

describe("chaos verdict: corrections", () => {
  it("a KIS bill, its reversal and its re-booked blue sum to the edited quantity; a cancelled one to nothing", () => {
    const line = (qty: number) => [{ FItemID: sku.kisItemId, FQty: qty }];
    const sums = signedKis([
      { FBillNo: "101", Head: { FROB: 1 }, Entry: line(3) },
      { FBillNo: "101-R1", Head: { FROB: -1 }, Entry: line(-3) },
      { FBillNo: "101-B1", Head: { FROB: 1 }, Entry: line(4) },
      { FBillNo: "102", Head: { FROB: 1 }, Entry: line(2) },
      { FBillNo: "102-R1", Head: { FROB: -1 }, Entry: line(2) }, // positive FQty under KIS_RED_QTY_SIGN=positive
    ]);
    expect(sums.get("101")).toEqual({ [sku.skuId]: 4 });
    expect(sums.get("102")).toEqual({});
    expect([...sums.keys()]).toEqual(["101", "102"]);
  });

  it("a T+ group's supplements and signed corrections add to the group", () => {
    const v = (code: string, qty: number) => ({ ExternalCode: code, payload: { RDRecordDetails: [{ Inventory: { Code: "A" }, BaseQuantity: qty }] } });
    const sums = signedTplus([v("SO-2026-12-04-1", 5), v("SO-2026-12-04-1-S1", 2), v("SO-2026-12-04-1-C1", -1)]);
    expect(sums).toEqual(new Map([["SO-2026-12-04-1", { A: 6 }]]));
    expect(isCorrectionKey("SO-2026-12-04-1-C1")).toBe(true);
    expect(isCorrectionKey("SO-2026-12-04-1-S1")).toBe(false);
    expect(baseKey("101-B2")).toBe("101");
  });
});
