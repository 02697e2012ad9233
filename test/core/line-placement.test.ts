/**
 * adv16c-line-warehouses, pure: lines are kept per item AND placement (connectors/line-placement.ts) by both targets'
 * correction shapes, and images written by the older version (per item alone, no `p`) compare sanely.
 */
import { describe, expect, it } from "vitest";
import { kisCorrectionShape } from "../../shared/connectors/kis/reversal.ts";
import { tplusCorrectionShape } from "../../shared/connectors/tplus/reversal.ts";
import { ChangeBook, imageKey } from "../../shared/engine/changes.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";

const ledgerWith = (entries: LedgerEntry[]) => (key: string) => entries.find((e) => e.externalKey === key);
const tplus = tplusCorrectionShape({ redQtySign: "negative", changeMode: "difference" });
const kis = kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" });
type Row = Record<string, unknown>;

/** A T+ 其他出库 whose lines carry their own Warehouse (a flow may map one per line: not settled publicly). */
const voucher = (lines: Array<[string, string, number]>) => ({
  ExternalCode: "K",
  VoucherDate: "2024-06-15",
  Warehouse: { Code: "W1" },
  RDRecordDetails: lines.map(([item, wh, qty]) => ({ Inventory: { Code: item }, Warehouse: { Code: wh }, BaseQuantity: qty, Amount: qty * 10 })),
});

describe("line placement in correction shapes", () => {
  it("T+: one inventory on two lines in two warehouses is two image lines, and its reversal keeps both warehouses", () => {
    const payload = voucher([
      ["A", "W1", 5],
      ["A", "W2", 3],
    ]);
    expect(tplus.lines(payload).map((l) => [l.key, l.qty, (l.rest?.Warehouse as Row).Code])).toEqual([
      ["A", 5, "W1"],
      ["A", 3, "W2"],
    ]);
    const book = new ChangeBook({ policy: "compensate", shape: tplus }, () => undefined);
    const [img] = book.documentImage({ externalKey: "K", members: ["1"], contentHash: "a", payload }, 1, "r");
    const review = new ChangeBook({ policy: "compensate", shape: tplus }, ledgerWith([img!])).reviewDropped("1");
    expect(review.verdict).toBe("corrections");
    if (review.verdict !== "corrections") return;
    const details = review.corrections[0]!.doc.payload.RDRecordDetails as Row[];
    expect(details.map((d) => [(d.Warehouse as Row).Code, d.BaseQuantity])).toEqual([
      ["W1", -5],
      ["W2", -3],
    ]);
  });

  it("KIS: the same sku in two stocks is two lines; in one stock, one summed line", () => {
    const bill = (lines: Array<[string, number]>) => ({
      Head: { FBillNo: "B", FROB: 1, Fdate: "2024-06-15T00:00:00" },
      Entry: lines.map(([stock, qty]) => ({ FItemID: "I", FDCStockID: stock, FQty: qty })),
    });
    expect(
      kis
        .lines(
          bill([
            ["301", 5],
            ["302", 3],
          ]),
        )
        .map((l) => [l.qty, l.rest?.FDCStockID]),
    ).toEqual([
      [5, "301"],
      [3, "302"],
    ]);
    expect(
      kis
        .lines(
          bill([
            ["301", 5],
            ["301", 3],
          ]),
        )
        .map((l) => [l.qty, l.rest?.FDCStockID]),
    ).toEqual([[8, "301"]]);
  });
});

describe("images written by the older version (lines per item alone, no p)", () => {
  const older = (l: LedgerEntry["before"] extends infer B ? (B extends { l: infer L } ? L : never) : never, extra: Row = {}): LedgerEntry => ({
    externalKey: imageKey("1"),
    contentHash: "img",
    before: { d: "K", l, h: { ExternalCode: "K", VoucherDate: "2024-06-15", Warehouse: { Code: "W1" } }, ...extra },
    members: ["1"],
    writtenAt: 1,
    runId: "old",
  });
  const doc = (payload: Row, contentHash: string) => ({ externalKey: "K", members: ["1"], contentHash, payload });
  const known: LedgerEntry = { externalKey: "K", contentHash: "posted", writtenAt: 1, runId: "old" };

  it("one place per item (every seed-flow document): compared as before, an edit corrected", () => {
    const book = new ChangeBook({ policy: "compensate", shape: tplus }, ledgerWith([older([["A", 5, 50, { Warehouse: { Code: "W1" } }]])]));
    expect(book.reviewDocument(doc(voucher([["A", "W1", 5]]), "other"), known).verdict).toBe("unchanged");
    const review = book.reviewDocument(doc(voucher([["A", "W1", 7]]), "other"), known);
    expect(review.verdict).toBe("corrections");
    if (review.verdict !== "corrections") return;
    expect((review.corrections[0]!.doc.payload.RDRecordDetails as Row[]).map((d) => [(d.Warehouse as Row).Code, d.BaseQuantity])).toEqual([["W1", 2]]);
  });

  it("an item now split over warehouses: provably as posted → the exact image adopted; changed (even with the same totals per item: adv6-older-image-split) → change_unknown", () => {
    const book = new ChangeBook({ policy: "compensate", shape: tplus }, ledgerWith([older([["A", 8, 80, { Warehouse: { Code: "W1" } }]])]));
    const split = voucher([
      ["A", "W1", 5],
      ["A", "W2", 3],
    ]);
    // Same totals per item, but the hash says it changed: where each line stood when posted is not known.
    const moved = book.reviewDocument(doc(split, "edited since"), known);
    expect(moved.verdict === "unknown" && [moved.error.code, moved.error.message]).toEqual([
      "change_unknown",
      expect.stringMatching(/item A .*older version.*older image: A 8 @/),
    ]);
    const adopted = book.reviewDocument(doc(split, "posted"), known);
    expect(adopted.verdict).toBe("unchanged");
    expect(adopted.verdict === "unchanged" && adopted.adopt?.map((e) => [e.before?.p, e.before?.l.map((l) => l[1])])).toEqual([[1, [5, 3]]]);
    const changed = book.reviewDocument(
      doc(
        voucher([
          ["A", "W1", 5],
          ["A", "W2", 4],
        ]),
        "edited",
      ),
      known,
    );
    expect(changed.verdict === "unknown" && [changed.error.code, changed.error.message]).toEqual([
      "change_unknown",
      expect.stringMatching(/item A .*older version/),
    ]);
    // The same per item but dated elsewhere: the older image cannot be reversed exactly, so no guess either.
    const redated = book.reviewDocument(doc({ ...split, VoucherDate: "2024-06-16" }, "redated"), known);
    expect(redated.verdict === "unknown" && redated.error.code).toBe("change_unknown");
    // An image corrected since (n > 0) is not what was first posted: never adopted from the document's hash.
    const corrected = new ChangeBook({ policy: "compensate", shape: tplus }, ledgerWith([older([["A", 8, 80, { Warehouse: { Code: "W1" } }]], { n: 1 })]));
    expect(corrected.reviewDocument(doc(split, "posted"), known)).toEqual({ verdict: "unchanged" });
  });

  it("a merged member now split over warehouses: no hash proves it unchanged → change_unknown", () => {
    const member: LedgerEntry = {
      ...older([["A", 8, 80, { Warehouse: { Code: "W1" } }]]),
      before: { d: "G", g: 1, l: [["A", 8, 80, { Warehouse: { Code: "W1" } }]] },
    };
    const group: LedgerEntry = {
      externalKey: "img-group:G",
      contentHash: "g",
      before: { d: "G", l: [], n: 0, h: { ExternalCode: "G" } },
      writtenAt: 1,
      runId: "old",
    };
    const book = new ChangeBook({ policy: "compensate", shape: tplus }, ledgerWith([member, group]));
    const lines = (q: number) =>
      tplus.lines(
        voucher([
          ["A", "W1", 5],
          ["A", "W2", q],
        ]),
      );
    expect(book.reviewMember("1", "G", lines(3), undefined).verdict).toBe("unknown");
    expect(book.reviewMember("1", "G", lines(4), undefined).verdict).toBe("unknown");
  });
});
