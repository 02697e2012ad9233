/**
 * QEasy scope rules (issue 14 item 1): inside a children mapping whose value is an array name, QEasy writes
 * the current line's fields with the array prefix (`{{items.qty}}`) and header fields by their plain name
 * (`{{remark}}`). Line first, then header; `{parent.x}` and `{../x}` keep working.
 */
import { describe, expect, it } from "vitest";
import { lookupTables } from "../../shared/flow/preview.ts";
import { compileMapping, type MappingField } from "../../shared/transform/map.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };
const tables = lookupTables({
  materials: [{ content: { FItemID: 1001, F_103: "TX100-11" } }, { content: { FItemID: 1002, F_103: "TX100-12" } }],
});

const doc = {
  io_id: 42,
  remark: "header remark",
  wms_co_id: 10817,
  created: "2024-03-01 10:11:12",
  items: [
    { sku_id: "TX100-11", qty: 2, sale_price: 9.9, is_gift: "false" },
    { sku_id: "TX100-12", qty: 1, sale_price: 5, is_gift: "true", remark: "line remark" },
  ],
};

function lines(arrayName: string, children: MappingField[], record: Record<string, unknown>) {
  const m = compileMapping({
    target: { externalKey: "{io_id}", fields: [{ field: "Entry", type: "array", value: arrayName, children }], defaultLookupTable: "materials" },
  });
  return m.map(record, { vars, lookups: tables }).payload.Entry as Record<string, unknown>[];
}

describe("QEasy line scope", () => {
  it("{{items.qty}} in a children mapping of items reads the current line (was silently dropped)", () => {
    const out = lines("items", [{ field: "Qty", type: "float", value: "{{items.qty}}" }], doc);
    expect(out).toEqual([{ Qty: 2 }, { Qty: 1 }]);
  });

  it("prefixed names work in _function, CASE and lookups", () => {
    const out = lines(
      "items",
      [
        { field: "Sku", type: "string", value: "{{items.sku_id}}" },
        { field: "Amount", type: "float", value: "_function {{items.sale_price}} * {{items.qty}}" },
        { field: "Gift", type: "int", value: "_function CASE '{{items.is_gift}}' WHEN 'true' THEN 1 ELSE 0 END" },
        { field: "Item", type: "int", value: "_findCollection find FItemID from materials where F_103={{items.sku_id}}" },
        { field: "Item2", type: "int", value: '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{{items.sku_id}}"}}' },
      ],
      doc,
    );
    expect(out).toEqual([
      { Sku: "TX100-11", Amount: 19.8, Gift: 0, Item: 1001, Item2: 1001 },
      { Sku: "TX100-12", Amount: 5, Gift: 1, Item: 1002, Item2: 1002 },
    ]);
  });

  it("any array name: details, details_list, batchs", () => {
    for (const name of ["details", "details_list", "batchs"]) {
      const out = lines(name, [{ field: "Qty", type: "float", value: `{{${name}.qty}}` }], { io_id: 1, [name]: [{ qty: 3 }] });
      expect(out).toEqual([{ Qty: 3 }]);
    }
  });

  it("plain header names resolve to the header when the line has no such field (line first)", () => {
    const out = lines(
      "items",
      [
        { field: "Memo", type: "string", value: "{{remark}}" },
        { field: "Wh", type: "int", value: "{{wms_co_id}}" },
        { field: "Day", type: "string", value: "{{created|date}}" },
        { field: "Up", type: "int", value: "{parent.wms_co_id}" },
        { field: "Up2", type: "int", value: "{../wms_co_id}" },
        { field: "Sku", type: "string", value: "{sku_id}" },
      ],
      doc,
    );
    expect(out).toEqual([
      { Memo: "header remark", Wh: 10817, Day: "2024-03-01", Up: 10817, Up2: 10817, Sku: "TX100-11" },
      { Memo: "line remark", Wh: 10817, Day: "2024-03-01", Up: 10817, Up2: 10817, Sku: "TX100-12" },
    ]);
  });

  it("lookups keyed by a header field inside a line mapping", () => {
    const out = lines("items", [{ field: "Item", type: "int", value: "_findCollection find FItemID from materials where F_103={{code}}" }], {
      io_id: 1,
      code: "TX100-12",
      items: [{ qty: 1 }],
    });
    expect(out).toEqual([{ Item: 1002 }]);
  });

  it("nested arrays: batchs inside items see the batch, then the line, then the header", () => {
    const m = compileMapping({
      target: {
        externalKey: "{io_id}",
        fields: [
          {
            field: "Entry",
            type: "array",
            value: "items",
            children: [
              { field: "Sku", type: "string", value: "{{items.sku_id}}" },
              {
                field: "Batches",
                type: "array",
                value: "batchs",
                children: [
                  { field: "No", type: "string", value: "{{batchs.batch_no}}" },
                  { field: "Sku", type: "string", value: "{{items.sku_id}}" },
                  { field: "Memo", type: "string", value: "{{remark}}" },
                ],
              },
            ],
          },
        ],
      },
    });
    const out = m.map({ io_id: 1, remark: "h", items: [{ sku_id: "A", batchs: [{ batch_no: "B1" }] }] }, { vars }).payload;
    expect(out).toEqual({ Entry: [{ Sku: "A", Batches: [{ No: "B1", Sku: "A", Memo: "h" }] }] });
  });

  it("after beatFlat + merge the merged lines keep their flattened names: {{items.items_qty}} and {{items.qty}}", () => {
    const merged = { io_id: 1, items: [{ items_qty: 4, items_sku_id: "A" }] };
    const out = lines(
      "items",
      [
        { field: "Qty", type: "float", value: "{{items.items_qty}}" },
        { field: "Qty2", type: "float", value: "{{items.qty}}" },
        { field: "Sku", type: "string", value: "{items_sku_id}" },
      ],
      merged,
    );
    expect(out).toEqual([{ Qty: 4, Qty2: 4, Sku: "A" }]);
  });
});
