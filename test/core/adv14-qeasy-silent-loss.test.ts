/**
 * Adversarial review of issue 14 ("never drops a field silently"). Each test asserts the promised behaviour and
 * FAILS on the code as merged (c9eea85): these are reproductions, not regressions of fixed bugs.
 */
import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { importQeasyPart } from "../../shared/flow/qeasy-parts.ts";
import { importQeasyDetailed } from "../../shared/flow/qeasy-import.ts";
import { loadFlow } from "../../shared/flow/schema.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };

function flowWith(fields: unknown[], source: Record<string, unknown> = {}) {
  return loadFlow({
    id: "t-adv14",
    name: "t",
    version: 1,
    source: { type: "jushuitan", endpoint: "/open/other/inout/query", params: {}, ...source },
    incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
    target: {
      type: "kis",
      operation: "APP006992/api/OtherInStock/Save",
      externalKey: "{io_id}",
      fields: [{ field: "FBillNo", type: "string", value: "{io_id}" }, ...fields],
    },
  });
}

const docs = [
  {
    io_id: 1,
    remark: "r",
    freight: 10,
    modified: "2024-03-01 10:00:00",
    items: [
      { sku_id: "A", qty: 1, batchs: [{ batch_no: "B1", qty: 1 }] },
      { sku_id: "B", qty: 3, batchs: [] },
    ],
  },
];

const jstScheme = (request: unknown[], source: Record<string, unknown> = {}) => ({
  source: { api: "/open/orders/out/simple/query", type: "QUERY", method: "POST", ...source },
  target: {
    api: "/tplus/api/v2/otherDispatch/Create",
    type: "EXECUTE",
    method: "POST",
    request: [{ field: "ExternalCode", type: "string", value: "{io_id}" }, ...request],
  },
});

describe("adv14: children arrays whose source array resolves to nothing", () => {
  it("adv14 F1a: a children mapping over a misspelt array (item for items) is reported, not an empty Entry with no warning", () => {
    const flow = flowWith([{ field: "Entry", type: "array", value: "item", children: [{ field: "FQty", type: "float", value: "{{item.qty}}" }] }]);
    const r = preview(flow, docs, { vars });
    // Today: payload {FBillNo:"1", Entry: []}, warnings [] — every line of the document silently gone.
    expect(r.warnings.map((w) => [w.flowPath, w.path])).toContainEqual(["target.fields[1].value", "item"]);
  });

  it("adv14 F1b: a nested children array (items.batch for batchs) that resolves to nothing is reported", () => {
    const flow = flowWith([
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [{ field: "Batches", type: "array", value: "items.batch", children: [{ field: "FBatchNo", type: "string", value: "{{batch.batch_no}}" }] }],
      },
    ]);
    const r = preview(flow, docs, { vars });
    expect(r.documents[0]!.payload.Entry).toEqual([{ Batches: [] }, { Batches: [] }]);
    expect(r.warnings.map((w) => w.flowPath)).toContain("target.fields[1].children[0].value");
  });

  it("adv14 F1c: import-qeasy lists a children array name the endpoint does not document", () => {
    const { unresolved } = importQeasyPart(
      jstScheme([{ field: "RDRecordDetails", type: "array", value: "itemz", children: [{ field: "Quantity", type: "float", value: "{{itemz.qty}}" }] }]),
    );
    expect(unresolved.map((u) => u.flowPath)).toContain("target.fields[1].value");
  });
});

describe("adv14: children arrays named with braces", () => {
  for (const value of ["{items}", "{{items}}"]) {
    it(`adv14 F11 (${value}): {{items.qty}} inside a children mapping whose array is written ${value} produces the quantity (or is reported)`, () => {
      const flow = flowWith([
        {
          field: "Entry",
          type: "array",
          value,
          children: [
            { field: "FQty", type: "float", value: "{{items.qty}}" },
            { field: "FSku", type: "string", value: "{sku_id}" },
          ],
        },
      ]);
      const r = preview(flow, docs, { vars });
      // Today: Entry [{FSku:"A"},{FSku:"B"}] — FQty vanishes from every line and warnings is [] (a computed array is skipped by the tracker).
      const entry = r.documents[0]!.payload.Entry as Record<string, unknown>[];
      const ok = entry.every((l) => typeof l.FQty === "number") || r.warnings.some((w) => w.flowPath === "target.fields[1].children[0].value");
      expect({ entry, ok }).toMatchObject({ ok: true });
    });
  }
});

describe("adv14: header names inside line mappings when the line carries the same key empty", () => {
  it("adv14 F12: {{remark}} in a line whose own remark is null reads the header remark (JSON null = no such value)", () => {
    // /open/other/inout/query documents `remark` on the header AND on items (jst-catalog.ts); Jushuitan sends null for
    // an empty line remark. QEasy metadata writes the header remark inside Entry as {{remark}}.
    const flow = flowWith([{ field: "Entry", type: "array", value: "items", children: [{ field: "FNote", type: "string", value: "{{remark}}" }] }]);
    const r = preview(flow, [{ io_id: 5, remark: "header note", modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 1, remark: null }] }], { vars });
    // Today: Entry [{}] — the header remark is lost and no warning (the line "has" remark).
    expect(r.documents[0]!.payload.Entry).toEqual([{ FNote: "header note" }]);
  });
});

describe("adv14: aggregates inside a children mapping", () => {
  it("adv14 F2: SUM({{items.qty}}) inside the items children mapping reads the header's items (line first, then header)", () => {
    // Freight allocated by quantity share, written the way QEasy writes line and header fields.
    const flow = flowWith([
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [{ field: "FFreight", type: "float", value: "_function ROUND({{freight}} * {{items.qty}} / SUM({{items.qty}}), 2)" }],
      },
    ]);
    const r = preview(flow, docs, { vars });
    expect(r.errors).toEqual([]);
    // Today: Entry [{}, {}] — FFreight vanishes from every line AND no warning (the tracker reads items.qty as the line's qty).
    const warned = r.warnings.some((w) => w.flowPath === "target.fields[1].children[0].value");
    expect({ entry: r.documents[0]!.payload.Entry, warned }).toEqual({ entry: [{ FFreight: 2.5 }, { FFreight: 7.5 }], warned: false });
  });

  it("adv14 F3a: SUM({{items.qty}}) at the header produces the total and is not reported as resolving to nothing", () => {
    const flow = flowWith([{ field: "FTotalQty", type: "float", value: "_function SUM({{items.qty}})" }]);
    const r = preview(flow, docs, { vars });
    expect(r.documents[0]!.payload.FTotalQty).toBe(4);
    // Today: warning 'did you mean items.qty → items[].qty? … aggregate it with SUM(items.qty)' — for SUM(items.qty) itself;
    // validate --strict refuses the flow.
    expect(r.warnings).toEqual([]);
  });

  it("adv14 F3b: SUM({{../items.qty}}) inside a line resolves and is not reported", () => {
    const flow = flowWith([
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [{ field: "FShare", type: "float", value: "_function ROUND({{qty}} / SUM({{../items.qty}}), 2)" }],
      },
    ]);
    const r = preview(flow, docs, { vars });
    expect(r.documents[0]!.payload.Entry).toEqual([{ FShare: 0.25 }, { FShare: 0.75 }]);
    expect(r.warnings).toEqual([]);
  });
});

describe("adv14: required target fields", () => {
  it("adv14 F4: a required object whose children map to nothing is a per-document error, not {}", () => {
    const flow = flowWith([{ field: "FDeptID", type: "object", required: true, children: [{ field: "FNumber", type: "string", value: "{{dept_code}}" }] }]);
    const r = preview(flow, docs, { vars });
    // Today: document written with FDeptID: {} and no error.
    expect(r.documents).toEqual([]);
    expect(r.errors.map((e) => e.error.code)).toEqual(["mapping_required"]);
  });

  it("adv14 F4b: QEasy is_required on an object field imports as required and is enforced", () => {
    const { flow } = importQeasyDetailed(
      jstScheme([{ field: "Warehouse", type: "object", is_required: true, children: [{ field: "Code", type: "string", value: "{{warehouse_code}}" }] }]),
    );
    const r = preview(flow, [{ io_id: 7, modified: "2024-03-01 10:00:00", io_date: "2024-03-01 10:00:00", items: [] }], { vars });
    expect(r.documents.map((d) => d.payload)).toEqual([]);
    expect(r.errors.length).toBe(1);
  });
});

describe("adv14: conditions and formatResponse paths", () => {
  it("adv14 F5a: a condition field that exists in no record is warned about (today every document is dropped with no warning)", () => {
    const flow = flowWith([], { condition: [[{ field: "statuss", logic: "eq", value: "Confirmed" }]] });
    const r = preview(flow, [{ ...docs[0], status: "Confirmed" }], { vars });
    expect(r.documents.length).toBe(0);
    expect(r.warnings.map((w) => w.path)).toContain("statuss");
  });

  it("adv14 F5b: import-qeasy checks condition fields against the endpoint's documented fields", () => {
    const { unresolved } = importQeasyPart(jstScheme([], { condition: [[{ field: "statuss", logic: "eq", value: "Confirmed" }]] }));
    expect(unresolved.map((u) => u.path)).toContain("statuss");
  });

  it("adv14 F6: import-qeasy checks formatResponse old paths (a typo makes the new field always empty)", () => {
    const { unresolved } = importQeasyPart(
      jstScheme([{ field: "VoucherDate", type: "string", value: "{io_date_new}" }], {
        formatResponse: [{ old: "io_datee", new: "io_date_new", format: "date" }],
      }),
    );
    expect(unresolved.map((u) => u.path).some((p) => p === "io_datee" || p === "io_date_new")).toBe(true);
  });
});

describe("adv14: QEasy's own keys in source.request", () => {
  it("adv14 F7: source.request entries carrying QEasy's id / parent_id / is_required import (as target fields do)", () => {
    const scheme = jstScheme([], {
      request: [
        { id: "1", parent_id: "", field: "status", label: "单据状态", type: "string", value: "Confirmed", is_required: false },
        { id: "2", parent_id: "", field: "shop_id", label: "店铺编码", type: "int", value: "0", is_required: true },
      ],
    });
    const { flow } = importQeasyDetailed(scheme);
    expect(flow.source.params).toMatchObject({ status: "Confirmed", shop_id: 0 });
  });
});
