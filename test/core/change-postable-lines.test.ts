/**
 * Issue 16 (adv16-zero-line-repost, adv16-amount-only-zero-qty-line) in every change mode: a correction never
 * carries a quantity-0 line (KIS "数量FQty必须大于0", T+ "数量不能为0"). Real ChangeBook and correction shapes.
 */
import { describe, expect, it } from "vitest";
import { correctionShape } from "../../shared/engine/change-settings.ts";
import { ChangeBook } from "../../shared/engine/changes.ts";
import { contentHash } from "../../shared/engine/hash.ts";
import type { BuiltDocument } from "../../shared/engine/types.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";

type Line = [item: string, qty: number, amount: number];
const kisBill = (lines: Line[]): Record<string, unknown> => ({
  Head: { FBillNo: "D1", Fdate: "2024-06-19T00:00:00", FROB: 1 },
  Entry: lines.map(([i, q, a]) => ({ FItemID: i, FQty: q, Fauxqty: q, FAuxQtyMust: q, Famount: a })),
});
const tplusVoucher = (lines: Line[]): Record<string, unknown> => ({
  ExternalCode: "D1",
  VoucherDate: "2024-06-19",
  RDRecordDetails: lines.map(([i, q, a]) => ({ Inventory: { Code: i }, BaseQuantity: q, Amount: a })),
});
const built = (payload: Record<string, unknown>): BuiltDocument => ({ externalKey: "D1", payload, members: ["1"], contentHash: contentHash(payload) });

function corrected(system: "kis" | "tplus", env: Record<string, string>, first: Line[], then: Line[]) {
  const make = system === "kis" ? kisBill : tplusVoucher;
  const ledger = new Map<string, LedgerEntry>();
  const book = new ChangeBook({ policy: "compensate", shape: correctionShape(system, env) }, (k) => ledger.get(k));
  const doc = built(make(first));
  ledger.set("D1", { externalKey: "D1", contentHash: doc.contentHash, members: ["1"], writtenAt: 1, runId: "r1" });
  for (const e of book.documentImage(doc, 1, "r1")) ledger.set(e.externalKey, e);
  const review = book.reviewDocument(built(make(then)), ledger.get("D1"));
  if (review.verdict !== "corrections") throw new Error(`expected corrections, got ${review.verdict}`);
  return review.corrections;
}

const kisQty = (p: Record<string, unknown>) => (p.Entry as Array<Record<string, unknown>>).map((l) => Math.abs(Number(l.FQty)));
const tplusQty = (p: Record<string, unknown>) => (p.RDRecordDetails as Array<Record<string, unknown>>).map((l) => Number(l.BaseQuantity));

describe("corrections never carry a quantity-0 line", () => {
  it("KIS reverse_repost: a line edited to 0 is left out of the repost", () => {
    const c = corrected(
      "kis",
      {},
      [
        ["A", 5, 50],
        ["B", 3, 30],
      ],
      [
        ["A", 0, 50],
        ["B", 3, 30],
      ],
    );
    expect(c.map((x) => [x.doc.externalKey, x.kind, kisQty(x.doc.payload)])).toEqual([
      ["D1-R1", "red", [5, 3]],
      ["D1-B1", "blue", [3]],
    ]);
  });

  it("KIS reverse_repost: every line edited to 0 is a reversal only", () => {
    const c = corrected("kis", {}, [["A", 5, 50]], [["A", 0, 50]]);
    expect(c.map((x) => [x.doc.externalKey, x.kind])).toEqual([["D1-R1", "red"]]);
  });

  it("KIS difference: a line edited to 0 (its amount kept) is a red of its posted quantity", () => {
    const c = corrected(
      "kis",
      { KIS_CHANGE_MODE: "difference" },
      [
        ["A", 5, 50],
        ["B", 3, 30],
      ],
      [
        ["A", 0, 50],
        ["B", 3, 30],
      ],
    );
    expect(c.map((x) => [x.kind, kisQty(x.doc.payload)])).toEqual([["red", [5]]]);
  });

  it("KIS difference: a price-only edit is the item reversed and posted again, both with its quantity", () => {
    const c = corrected(
      "kis",
      { KIS_CHANGE_MODE: "difference" },
      [
        ["A", 5, 50],
        ["B", 3, 30],
      ],
      [
        ["A", 5, 60],
        ["B", 3, 30],
      ],
    );
    expect(
      c.map((x) => [x.kind, kisQty(x.doc.payload), (x.doc.payload.Entry as Array<Record<string, unknown>>).map((l) => Math.abs(Number(l.Famount)))]),
    ).toEqual([
      ["red", [5], [50]],
      ["blue", [5], [60]],
    ]);
  });

  it("T+ difference (signed): a price-only edit is one voucher −old +new, no quantity 0", () => {
    const c = corrected("tplus", {}, [["A", 5, 50]], [["A", 5, 60]]);
    expect(c.map((x) => [x.kind, tplusQty(x.doc.payload)])).toEqual([["signed", [-5, 5]]]);
  });

  it("T+ difference (signed): a line edited to 0 is its posted quantity negated", () => {
    const c = corrected(
      "tplus",
      {},
      [
        ["A", 5, 50],
        ["B", 2, 20],
      ],
      [
        ["A", 0, 50],
        ["B", 2, 20],
      ],
    );
    expect(c.map((x) => [x.kind, tplusQty(x.doc.payload)])).toEqual([["red", [-5]]]);
  });
});
