/**
 * Older item-keyed before-images (legacy-images.ts) are trusted only in flows whose mapping places lines from the
 * head (adv6-older-image-*): the mapping test (line-placement-mapping.ts) and the ChangeBook rules on it.
 * Pure units; the e2e findings and the head-only control are in adv6-older-image-split.test.ts.
 */
import { describe, expect, it } from "vitest";
import { kisCorrectionShape } from "../../shared/connectors/kis/reversal.ts";
import { changeSettingsFor } from "../../shared/engine/change-settings.ts";
import { ChangeBook, imageKey } from "../../shared/engine/changes.ts";
import { mapsPlacementPerLine } from "../../shared/engine/line-placement-mapping.ts";
import { SEED_FLOW_IDS, seedFlow } from "../../shared/flows/index.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import type { MappingField } from "../../shared/transform/map.ts";

const kis = kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" });
type Row = Record<string, unknown>;
const clock = { now: () => Date.UTC(2024, 5, 15), sleep: async () => {} };

/** A KIS bill's line stock mapped from `value`. */
const entry = (value: string, extra: MappingField[] = []): MappingField[] => [
  { field: "Head", type: "object", children: [{ field: "FDCStockID", type: "string", value: "{wms_co_id}" }] },
  {
    field: "Entry",
    type: "array",
    value: "items",
    children: [{ field: "FQty", type: "float", value: "{qty}" }, { field: "FDCStockID", type: "string", value }, ...extra],
  },
];

describe("mapsPlacementPerLine: does the mapping derive a line's warehouse from the line?", () => {
  it("both seed flows are head-only, so their older images stay trusted (no new letters)", () => {
    for (const id of SEED_FLOW_IDS) {
      const flow = seedFlow(id);
      expect([id, mapsPlacementPerLine(flow.target.fields as MappingField[])]).toEqual([id, false]);
      expect(changeSettingsFor(flow, {}, clock).changes?.linePlacement).toBe(false);
    }
  });
  it("a line field from the parent, a constant or a variable is head-only; anything read from the line is per line", () => {
    expect(mapsPlacementPerLine(entry("_findCollection find kis_stock_id from warehouses where wms_co_id={parent.wms_co_id} _endFind"))).toBe(false);
    expect(mapsPlacementPerLine(entry("{../wms_co_id}"))).toBe(false);
    expect(mapsPlacementPerLine(entry("301"))).toBe(false);
    expect(mapsPlacementPerLine(entry("_findCollection find kis_stock_id from warehouses where wms_co_id={line_wms} _endFind"))).toBe(true);
    // A plain name reads the line first (the head only as a fallback): per line.
    expect(mapsPlacementPerLine(entry("{wms_co_id}"))).toBe(true);
    expect(mapsPlacementPerLine(entry("{{items.wms}}"))).toBe(true);
    // A T+ line Warehouse {Code} object, and a value that does not compile (counted per line: never a silent guess).
    const tplusLine: MappingField = { field: "Warehouse", type: "object", children: [{ field: "Code", type: "string", value: "{line_wh}" }] };
    expect(mapsPlacementPerLine(entry("{../wms_co_id}", [tplusLine]))).toBe(true);
    expect(mapsPlacementPerLine(entry("_function ROUND("))).toBe(true);
    // Head stock fields alone never count.
    expect(mapsPlacementPerLine([{ field: "Warehouse", type: "string", value: "{wms}" }])).toBe(false);
  });
});

describe("ChangeBook with linePlacement: an older image is not trusted for a change or a cancellation", () => {
  const at = (wh: string, qty: number) => ({ FItemID: "A", FQty: qty, Famount: qty * 10, FDCStockID: wh });
  const bill = (...lines: Row[]) => ({ Head: { FBillNo: "K", Fdate: "2024-06-15T00:00:00", FROB: 1, FDCStockID: "301" }, Entry: lines });
  const olderImage: LedgerEntry = {
    externalKey: imageKey("1"),
    contentHash: "img",
    before: { d: "K", l: [["A", 8, 80, { FDCStockID: "301" }]], h: { Head: { FBillNo: "K", Fdate: "2024-06-15T00:00:00", FROB: 1, FDCStockID: "301" } } },
    members: ["1"],
    writtenAt: 1,
    runId: "old",
  };
  const known: LedgerEntry = { externalKey: "K", contentHash: "posted", writtenAt: 1, runId: "old" };
  const ledger = (key: string) => (key === imageKey("1") ? olderImage : undefined);
  const doc = (payload: Row, contentHash: string) => ({ externalKey: "K", members: ["1"], contentHash, payload });
  const perLine = new ChangeBook({ policy: "compensate", shape: kis, linePlacement: true }, ledger);
  const headOnly = new ChangeBook({ policy: "compensate", shape: kis, linePlacement: false }, ledger);

  it("changed (one line, not split now: adv6-older-image-unsplit) → change_unknown naming the older image; head-only → corrected as before", () => {
    const review = perLine.reviewDocument(doc(bill(at("301", 5)), "edited"), known);
    expect(review.verdict === "unknown" && [review.error.code, review.error.message]).toEqual([
      "change_unknown",
      expect.stringMatching(/document K changed .*maps each line's own warehouse.*older image: A 8 @\{"FDCStockID":"\\"301\\""\}/),
    ]);
    expect(headOnly.reviewDocument(doc(bill(at("301", 5)), "edited"), known).verdict).toBe("corrections");
  });
  it("provably as posted (same hash, no correction since) → the exact image adopted, no letter", () => {
    const review = perLine.reviewDocument(doc(bill(at("301", 5), at("302", 3)), "posted"), known);
    expect(review.verdict === "unchanged" && review.adopt?.map((e) => [e.before?.p, e.before?.l.map((l) => [l[1], (l[3] as Row).FDCStockID])])).toEqual([
      [
        1,
        [
          [5, "301"],
          [3, "302"],
        ],
      ],
    ]);
  });
  it("cancelled (adv6-older-image-cancel) → change_unknown, nothing reversed; head-only → reversed as before", () => {
    const review = perLine.reviewDropped("1");
    expect(review.verdict === "unknown" && review.error.message).toMatch(/no longer passes the flow's condition .*older version.*older image: A 8/);
    expect(headOnly.reviewDropped("1").verdict).toBe("corrections");
    // The other policies keep their own answers.
    expect(new ChangeBook({ policy: "deadLetter", shape: kis, linePlacement: true }, ledger).reviewDropped("1").verdict).toBe("report");
    expect(new ChangeBook({ policy: "ignore", shape: kis, linePlacement: true }, ledger).reviewDropped("1").verdict).toBe("ignore");
  });
});
