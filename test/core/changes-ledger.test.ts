/** Issue 16: the ledger's before-images round-trip through the store, and ledgers without them still load. */
import { describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { fromStoredEntry, toStoredEntry, type LedgerEntry } from "../../shared/state/records.ts";
import { ChangeBook } from "../../shared/engine/changes.ts";
import { kisCorrectionShape } from "../../shared/connectors/kis/reversal.ts";
import { tplusCorrectionShape } from "../../shared/connectors/tplus/reversal.ts";
import { loadFlow } from "../../shared/flow/index.ts";
import { seedFlow } from "../../shared/flows/index.ts";

const image: LedgerEntry = {
  externalKey: "img:2100019",
  contentHash: "h",
  before: {
    d: "2100019",
    l: [
      ["301", 5, 50, { FUnitID: 1 }],
      ["302", 2],
    ],
    n: 1,
    h: { Head: { FTranType: 10 } },
  },
  members: ["2100019"],
  writtenAt: 1,
  runId: "r",
};

describe("before-images in the ledger", () => {
  it("round-trip through the stored form and the store; entries without one decode as before", async () => {
    expect(fromStoredEntry(toStoredEntry(image))).toEqual(image);
    const old = fromStoredEntry({ k: "2100019", h: "x", w: 1, r: "r" });
    expect(old.before).toBeUndefined();
    const store = new FlowStateStore(new MemoryKeyValueStore());
    await store.ledgerAppend("jst-other-in-to-kis", [image, { externalKey: "2100019", contentHash: "x", writtenAt: 1, runId: "r" }]);
    const view = await store.ledgerView("jst-other-in-to-kis");
    expect(view("img:2100019")?.before).toEqual(image.before);
    expect(view("2100019")?.before).toBeUndefined();
  });
});

describe("change book (pure)", () => {
  const doc = (lines: Array<[string, number]>) => ({
    externalKey: "2100019",
    members: ["2100019"],
    contentHash: JSON.stringify(lines),
    payload: {
      Head: { FBillNo: "2100019", FROB: 1, Fnote: "" },
      Entry: lines.map(([item, qty]) => ({ FItemID: item, FUnitID: 1, FQty: qty, Fauxqty: qty, FAuxQtyMust: qty })),
    },
  });
  const ledgerWith = (entries: LedgerEntry[]) => (key: string) => entries.find((e) => e.externalKey === key);

  it("KIS reverse_repost: red bill of what was posted (negative FQty by default), then the blue bill", () => {
    const book = new ChangeBook({ policy: "compensate", shape: kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" }) }, () => undefined);
    const first = doc([["301", 5]]);
    const [img] = book.documentImage(first, 1, "r");
    const next = new ChangeBook(
      { policy: "compensate", shape: kisCorrectionShape({ redQtySign: "negative", changeMode: "reverse_repost" }) },
      ledgerWith([img!]),
    );
    const review = next.reviewDocument(doc([["301", 7]]), { externalKey: "2100019", contentHash: "old", writtenAt: 1, runId: "r" });
    expect(review.verdict).toBe("corrections");
    if (review.verdict !== "corrections") return;
    expect(
      review.corrections.map((c) => [
        c.doc.externalKey,
        (c.doc.payload.Head as { FROB: number }).FROB,
        (c.doc.payload.Entry as Array<{ FQty: number }>)[0]!.FQty,
      ]),
    ).toEqual([
      ["2100019-R1", -1, -5],
      ["2100019-B1", 1, 7],
    ]);
  });

  it("a head-only change (remark) is no correction", () => {
    const shape = tplusCorrectionShape({ redQtySign: "negative", changeMode: "difference" });
    const book = new ChangeBook({ policy: "compensate", shape }, () => undefined);
    const payload = { ExternalCode: "K", Memo: "a", RDRecordDetails: [{ Inventory: { Code: "A" }, BaseQuantity: 2 }] };
    const [img] = book.documentImage({ externalKey: "K", members: ["1"], contentHash: "a", payload }, 1, "r");
    const next = new ChangeBook({ policy: "compensate", shape }, ledgerWith([img!]));
    expect(next.reviewDocument({ externalKey: "K", members: ["1"], contentHash: "b", payload: { ...payload, Memo: "b" } }, undefined).verdict).toBe(
      "unchanged",
    );
  });

  it("onChange is validated with its JSON path", () => {
    const flow = structuredClone(seedFlow("jst-other-in-to-kis")) as unknown as { target: Record<string, unknown> };
    flow.target.onChange = "reverse";
    expect(() => loadFlow(flow)).toThrow(/target\.onChange/);
    flow.target.onChange = "compensate";
    flow.target.closedPeriod = "later";
    expect(() => loadFlow(flow)).toThrow(/target\.closedPeriod/);
  });
});
