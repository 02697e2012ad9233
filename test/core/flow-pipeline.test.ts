import { describe, expect, it } from "vitest";
import { createDocumentBuilder } from "../../shared/flow/builder.ts";
import { compileFlow } from "../../shared/flow/pipeline.ts";
import { lookupTables } from "../../shared/flow/preview.ts";
import { loadFlow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS, seedFlow } from "../../shared/flows/index.ts";

const warehouses = lookupTables({ warehouses: [{ wms_co_id: 10817, tplus_code: "01", kis_stock_id: 301 }] });
const vars = { lastSyncTime: Date.UTC(2024, 2, 1, 2, 5), currentTime: Date.UTC(2024, 2, 1, 3, 0) };

const sale = (io_id: number, io_date: string, items: { sku_id: string; qty: unknown; sale_amount: number }[], wms_co_id = 10817) => ({
  io_id,
  io_date,
  wms_co_id,
  remark: `r${io_id}`,
  // The seed flows read every status and post what passes their condition status = Confirmed (issue 16).
  status: "Confirmed",
  items,
});

describe("compiled pipeline", () => {
  it("evaluates request params per window with the run variables", () => {
    const compiled = compileFlow(seedFlow("jst-sales-out-to-tplus"));
    expect(compiled.requestParams(vars)).toEqual({
      shop_id: 0,
      is_offline_shop: true,
      modified_begin: "2024-03-01 10:05:00",
      modified_end: "2024-03-01 11:00:00",
      date_type: 0, // by modified (issue 11 item 4)
    });
    expect(compileFlow(seedFlow("jst-other-in-to-kis")).requestParams(vars).types).toEqual(["其它退货"]);
  });

  it("isolates failures per document: one bad document never stops the page", () => {
    const compiled = compileFlow(seedFlow("jst-sales-out-to-tplus"));
    const result = compiled.run(
      [
        sale(1, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }]),
        sale(2, "not a date", [{ sku_id: "A", qty: 1, sale_amount: 5 }]),
        { io_date: "2024-03-01 10:00:00", items: [] },
        sale(3, "2024-03-01 11:00:00", [{ sku_id: "A", qty: 2, sale_amount: 10 }]),
      ],
      { vars, lookups: warehouses },
    );
    expect(result.documents.map((d) => [d.externalKey, d.members])).toEqual([["SO-2024-03-01-10817", ["1", "3"]]]);
    expect(result.errors.map((e) => [e.id, e.error.code])).toEqual([
      ["2", "format_failed"],
      ["#2", "source_id_missing"],
    ]);
    expect(result.documents[0]!.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it("a non-merge flow with flatten writes one document per line", () => {
    const doc = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as any;
    doc.source.flatten = { path: "items" };
    doc.target.externalKey = "{io_id}-{items_ioi_id}";
    doc.target.fields = [
      { field: "FBillNo", type: "string", value: "{io_id}-{items_ioi_id}" },
      { field: "FQty", type: "float", value: "{items_qty}" },
    ];
    const compiled = compileFlow(loadFlow(doc));
    const result = compiled.run(
      [
        {
          io_id: 9,
          status: "Confirmed",
          items: [
            { ioi_id: 91, qty: 1 },
            { ioi_id: 92, qty: 4 },
          ],
        },
        { io_id: 10, status: "Confirmed", items: [] },
      ],
      { vars },
    );
    expect(result.documents.map((d) => [d.externalKey, d.members, d.payload])).toEqual([
      ["9-91", ["9"], { FBillNo: "9-91", FQty: 1 }],
      ["9-92", ["9"], { FBillNo: "9-92", FQty: 4 }],
    ]);
    expect(result.dropped).toEqual([{ id: "10", reason: "no items lines to flatten" }]);
  });

  it("merge flows can be prepared page by page and assembled once per window", () => {
    const compiled = compileFlow(seedFlow("jst-sales-out-to-tplus"));
    const page1 = compiled.prepare([sale(5, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }])]);
    const page2 = compiled.prepare([sale(4, "2024-03-01 12:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }])]);
    const assembled = compiled.assemble([...page1.records, ...page2.records], { vars });
    const all = compiled.assemble([...page2.records, ...page1.records], { vars });
    expect(assembled).toEqual(all);
    const mapped = compiled.mapDocuments(assembled.documents, { vars, lookups: warehouses });
    expect(mapped.documents[0]!.payload.RDRecordDetails).toEqual([{ Inventory: { Code: "A" }, BaseQuantity: 2, Price: 5, Amount: 10 }]);
    expect(mapped.documents[0]!.members).toEqual(["4", "5"]);
  });
});

describe("document builder (engine adapter)", () => {
  it("builds documents, failures with their source rows, and drops", () => {
    const builder = createDocumentBuilder(seedFlow("jst-sales-out-to-tplus"), { lookups: warehouses });
    expect(builder.merges).toBe(true);
    const rows = [
      sale(1, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }]),
      sale(2, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }], 99999),
      sale(3, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }], 99999),
    ];
    const result = builder.build(rows, { ...vars, closedBefore: Date.UTC(2024, 2, 1, 16) });
    expect(result.documents.map((d) => [d.externalKey, d.groupKey, d.supplement, d.members])).toEqual([
      ["SO-2024-03-01-10817", "SO-2024-03-01-10817", 0, ["1"]],
    ]);
    // The unknown warehouse fails its merged document: one failure per member, with the source row.
    expect(result.failures.map((f) => [f.sourceId, f.error.code, f.source])).toEqual([
      ["2", "lookup_miss", rows[1]],
      ["3", "lookup_miss", rows[2]],
    ]);
  });

  it("withExternalKey re-maps a merged document under a supplement key", () => {
    const builder = createDocumentBuilder(seedFlow("jst-sales-out-to-tplus"), { lookups: warehouses });
    const [doc] = builder.build([sale(1, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }])], vars).documents;
    const supplement = builder.withExternalKey(doc!, "SO-2024-03-01-10817-S2");
    expect(supplement.externalKey).toBe("SO-2024-03-01-10817-S2");
    expect(supplement.payload.ExternalCode).toBe("SO-2024-03-01-10817-S2");
    expect(supplement.supplement).toBe(2);
    expect(supplement.contentHash).not.toBe(doc!.contentHash);
    expect(doc!.payload.ExternalCode).toBe("SO-2024-03-01-10817");
    expect(() => builder.withExternalKey({ ...doc! }, "X")).toThrow(/was not built by this builder/);
  });

  it("passes the written registry through: late members become supplements", () => {
    const builder = createDocumentBuilder(seedFlow("jst-sales-out-to-tplus"), { lookups: warehouses });
    const result = builder.build(
      [sale(1, "2024-03-01 10:00:00", [{ sku_id: "A", qty: 1, sale_amount: 5 }]), sale(7, "2024-03-01 22:00:00", [{ sku_id: "B", qty: 1, sale_amount: 9 }])],
      { ...vars, written: { "SO-2024-03-01-10817": { members: ["1"], supplements: 0 } } },
    );
    expect(result.documents.map((d) => [d.externalKey, d.members, d.supplement])).toEqual([["SO-2024-03-01-10817-S1", ["7"], 1]]);
    expect(result.skipped.map((s) => s.id)).toEqual(["1"]);
  });
});
