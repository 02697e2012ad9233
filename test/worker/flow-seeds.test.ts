import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { SEED_FLOW_IDS, seedFlow } from "../../shared/flows/index.ts";

// The seed flows (JSON modules) load, validate and run inside workerd exactly as in Node.
describe("seed flows inside workerd", () => {
  it("loads both seed flows from their JSON modules", () => {
    expect(SEED_FLOW_IDS).toEqual(["jst-other-in-to-kis", "jst-sales-out-to-tplus"]);
    expect(seedFlow("jst-other-in-to-kis").target.operation).toBe("app007104/miscellaneousreceipt/create");
  });

  it("previews a merged sales-out day", () => {
    const docs = [
      // The seed reads every status and posts what passes its condition status = Confirmed (issue 16).
      {
        io_id: 2,
        status: "Confirmed",
        io_date: "2024-03-01 10:00:00.120",
        wms_co_id: 10817,
        remark: "门店零售",
        items: [{ sku_id: "TX100-11", qty: 2, sale_amount: 118 }],
      },
      {
        io_id: 1,
        status: "Confirmed",
        io_date: "2024-03-01 23:59:59",
        wms_co_id: 10817,
        remark: "会员日活动",
        items: [{ sku_id: "TX100-11", qty: 1, sale_amount: 53.1 }],
      },
    ];
    const result = preview(seedFlow("jst-sales-out-to-tplus"), docs, {
      tables: { warehouses: [{ wms_co_id: 10817, tplus_code: "01" }] },
      closedBefore: Date.UTC(2024, 2, 1, 16),
    });
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(1);
    expect(result.documents[0]!.externalKey).toBe("SO-2024-03-01-10817");
    expect(result.documents[0]!.payload).toMatchObject({
      ExternalCode: "SO-2024-03-01-10817",
      Memo: "会员日活动",
      Warehouse: { Code: "01" },
      RDRecordDetails: [{ Inventory: { Code: "TX100-11" }, BaseQuantity: 3, Amount: 171.1, Price: 57.033333 }],
    });
  });
});
