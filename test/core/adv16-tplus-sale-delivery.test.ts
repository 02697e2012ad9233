/**
 * Adversary of issue 16 (session 4): a T+ flow writing 销货单 (saleDelivery/Create, a supported operation:
 * connectors/tplus/operations.ts; lines under SaleDeliveryDetails, business type under BusinessType) with
 * onChange "compensate". The correction shape is chosen per target system only (engine/change-settings.ts
 * correctionShape), and the T+ shape reads and writes RDRecordDetails alone (connectors/tplus/reversal.ts).
 * Real ChangeBook and correction shape, the ledger entries it produces.
 */
import { describe, expect, it } from "vitest";
import { changeSettingsFor } from "../../shared/engine/change-settings.ts";
import { loadFlow } from "../../shared/flow/schema.ts";
import tplusFlow from "../../shared/flows/jst-sales-out-to-tplus.json" with { type: "json" };
import { ChangeBook } from "../../shared/engine/changes.ts";
import { contentHash } from "../../shared/engine/hash.ts";
import type { BuiltDocument } from "../../shared/engine/types.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";

const saleDelivery = (qty: number): Record<string, unknown> => ({
  ExternalCode: "SO-900001",
  VoucherDate: "2024-06-19",
  BusinessType: { Code: "15" },
  Customer: { Code: "C001" },
  Warehouse: { Code: "01" },
  SaleDeliveryDetails: [
    { Inventory: { Code: "NZK30-21" }, Quantity: qty, OrigTaxPrice: 10, OrigTaxAmount: 10 * qty },
    { Inventory: { Code: "BXW40-22" }, Quantity: 3, OrigTaxPrice: 5, OrigTaxAmount: 15 },
  ],
});
/** The shipped T+ flow writing 销货单 instead, onChange "compensate": its correction settings as the engine makes them. */
const saleDeliveryFlow = () => loadFlow({ ...structuredClone(tplusFlow), target: { ...structuredClone(tplusFlow.target), operation: "saleDelivery/Create" } });
const built = (payload: Record<string, unknown>): BuiltDocument => ({
  externalKey: "SO-900001",
  payload,
  members: ["900001"],
  contentHash: contentHash(payload),
});

function posted() {
  const settings = changeSettingsFor(saleDeliveryFlow(), {}, { now: () => 0, sleep: async () => {} }).changes!;
  const first = built(saleDelivery(5));
  const ledger = new Map<string, LedgerEntry>();
  const book = new ChangeBook(settings, (k) => ledger.get(k));
  expect(book.reviewDocument(first, undefined).verdict).toBe("new");
  ledger.set(first.externalKey, { externalKey: first.externalKey, contentHash: first.contentHash, members: first.members, writtenAt: 1, runId: "r1" });
  for (const e of book.documentImage(first, 1, "r1")) ledger.set(e.externalKey, e);
  return { settings, ledger };
}

describe("adversary 16: corrections of a T+ 销货单 flow", () => {
  it("a correction of a 销货单 is written in its own fields (SaleDeliveryDetails, Quantity, OrigTaxAmount)", () => {
    const { settings, ledger } = posted();
    const book = new ChangeBook(settings, (k) => ledger.get(k));
    const review = book.reviewDocument(built(saleDelivery(9)), ledger.get("SO-900001"));
    if (review.verdict !== "corrections") throw new Error(review.verdict);
    const payload = review.corrections[0]!.doc.payload;
    expect(payload.RDRecordDetails).toBeUndefined();
    expect(payload.SaleDeliveryDetails).toEqual([{ Inventory: { Code: "NZK30-21" }, Quantity: 4, OrigTaxAmount: 40, OrigTaxPrice: 10 }]);
  });

  it("onChange on a T+ operation whose lines are not known is refused at flow load, with its JSON path", () => {
    const flow = { ...structuredClone(tplusFlow), target: { ...structuredClone(tplusFlow.target), operation: "saleDispatch/Create" } };
    expect(() => loadFlow(flow)).toThrow(/at target\.onChange: onChange "compensate" needs the line shape of the T\+ voucher kind/);
    expect(() => loadFlow({ ...flow, target: { ...flow.target, onChange: "ignore" } })).not.toThrow();
  });

  // FINDING adv16-tplus-saledelivery-blind: the before-image of a posted 销货单 holds no lines (the shape reads only
  // RDRecordDetails), so an edited quantity compares [] with [] ("unchanged") and a cancellation finds an image
  // without lines ("nothing was posted"): every edit and cancellation of a posted 销货单 is dropped silently — no
  // correction, no dead letter, no alert — while doctor shows the flow's corrections as configured.
  it("FINDING adv16-tplus-saledelivery-blind: a 销货单 whose quantity changed after posting gets a correction (or a letter)", () => {
    const { settings, ledger } = posted();
    const book = new ChangeBook(settings, (k) => ledger.get(k));
    const edited = built(saleDelivery(9));
    expect(book.reviewDocument(edited, ledger.get("SO-900001")).verdict).not.toBe("unchanged");
  });

  it("FINDING adv16-tplus-saledelivery-blind: a 销货单 cancelled after posting gets a reversal (or a letter)", () => {
    const { settings, ledger } = posted();
    const book = new ChangeBook(settings, (k) => ledger.get(k));
    expect(book.reviewDropped("900001").verdict).not.toBe("new");
  });
});
