/**
 * Adversarial review of issue 14 (numbers vs text). QEasy documents formatResponse round(2) as text ("20.00");
 * QEasy's _function substitutes an unquoted {{x}} into the expression as written, so `{{a}} > {{b}}` compares the
 * numbers. These assert that and FAIL on the code as merged (c9eea85): reproductions, not regressions.
 */
import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { loadFlow } from "../../shared/flow/schema.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };

const flow = loadFlow({
  id: "t-adv14-numtext",
  name: "t",
  version: 1,
  source: {
    type: "jushuitan",
    endpoint: "/open/orders/out/simple/query",
    params: {},
    formatResponse: [
      { old: "items.sale_price", new: "items.sale_price", format: "round(2)" },
      { old: "items.cost_price", new: "items.cost_price", format: "round(2)" },
    ],
  },
  incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
  target: {
    type: "tplus",
    operation: "otherDispatch/Create",
    externalKey: "{io_id}",
    fields: [
      { field: "ExternalCode", type: "string", value: "{io_id}" },
      { field: "MaxPrice", type: "float", value: "_function MAX({{items.sale_price}})" },
      {
        field: "RDRecordDetails",
        type: "array",
        value: "items",
        children: [
          { field: "Flag", type: "string", value: "_function IF({{items.sale_price}} >= {{items.cost_price}}, 'ok', 'below cost')" },
          { field: "Best", type: "float", value: "_function GREATEST({{items.sale_price}}, {{items.cost_price}})" },
        ],
      },
    ],
  },
});

const docs = [
  {
    io_id: 1,
    modified: "2024-03-01 10:00:00",
    items: [
      { sku_id: "A", sale_price: 9, cost_price: 10 },
      { sku_id: "B", sale_price: 10, cost_price: 9 },
    ],
  },
];

describe("adv14: round(2) text compared in _function", () => {
  it("adv14 F13: comparisons, GREATEST and MAX over round(2) text compare numbers (9.00 < 10.00), not text", () => {
    const r = preview(flow, docs, { vars });
    expect(r.errors).toEqual([]);
    const p = r.documents[0]!.payload;
    // Today: MaxPrice 9, line A Flag "ok" and Best 9 — "9.00" > "10.00" as text.
    expect(p.MaxPrice).toBe(10);
    expect(p.RDRecordDetails).toEqual([
      { Flag: "below cost", Best: 10 },
      { Flag: "ok", Best: 10 },
    ]);
  });
});
