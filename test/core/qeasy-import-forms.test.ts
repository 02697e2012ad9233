/**
 * Issue 14 items 2–4 on the importer: paths checked against the documented fields (and a sample), fragments
 * and QEasy's own wrapping and keys, QEasy's connector API names.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveJstApi, QEASY_API_NAMES } from "../../shared/flow/jst-catalog.ts";
import { importQeasyDetailed, QeasyImportError } from "../../shared/flow/qeasy-import.ts";
import { importQeasyPart } from "../../shared/flow/qeasy-parts.ts";

const seed = (): any => JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/qeasy/seed-000-other-in-to-kis.json"), "utf8"));
const entryOf = (scheme: any) => scheme.target.request.find((f: any) => f.field === "Entry");

function importError(fn: () => unknown): QeasyImportError {
  try {
    fn();
  } catch (e) {
    if (e instanceof QeasyImportError) return e;
    throw e;
  }
  throw new Error("expected a QeasyImportError");
}

describe("import-qeasy checks every path", () => {
  it("against the source endpoint's documented fields: {{items.qty}} resolves, a typo is listed with its path and suggestion", () => {
    const s = seed();
    entryOf(s).children.push({ field: "FNote", type: "string", value: "{{items.remark}}" }, { field: "FX", type: "string", value: "{{items.qtty}}" });
    const result = importQeasyPart(s, { mongoQueryTable: "kis_materials" });
    expect(result.unresolved.map((u) => [u.flowPath, u.path, u.suggestions[0]])).toEqual([["target.fields[1].children[10].value", "items.qtty", "items.qty"]]);
  });

  it("the reconstructed seed schemes resolve every path (no false warnings through formatResponse, beatFlat, merge)", () => {
    for (const name of ["seed-000-other-in-to-kis.json", "seed-003-group-calculate.json", "seed-003-sales-out-to-tplus.json"]) {
      const scheme = JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/qeasy", name), "utf8"));
      expect(importQeasyPart(scheme, { mongoQueryTable: "kis_materials" }).unresolved, name).toEqual([]);
    }
  });

  it("against a sample when given", () => {
    const s = seed();
    const sample = [{ io_id: 1, io_date: "2024-03-01 10:00:00", wms_co_id: 1, modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 1 }] }];
    const result = importQeasyPart(s, { mongoQueryTable: "kis_materials", sample });
    expect(result.unresolved.map((u) => u.path).sort()).toEqual(["cost_amount", "cost_price", "remark"]);
  });

  it("fields QEasy's response list declares count as documented", () => {
    const s = seed();
    s.source.response = [{ field: "items", type: "array", children: [{ field: "custom_line_note", type: "string" }] }];
    entryOf(s).children.push({ field: "FNote", type: "string", value: "{{items.custom_line_note}}" });
    const result = importQeasyPart(s, { mongoQueryTable: "kis_materials" });
    expect(result.unresolved).toEqual([]);
    expect(result.notes.join("\n")).toMatch(/response/);
  });
});

describe("fragments and QEasy's wrapping", () => {
  it("a lone source config with type QUERY", () => {
    const r = importQeasyPart({ ...seed().source, effect: undefined, type: "QUERY" });
    expect(r.part).toBe("source");
    expect((r.result as any).source.endpoint).toBe("/open/other/inout/query");
  });

  it("a lone target config with type EXECUTE", () => {
    const t = seed().target;
    delete t.effect;
    t.type = "EXECUTE";
    const r = importQeasyPart(t, { mongoQueryTable: "kis_materials" });
    expect(r.part).toBe("target");
    expect((r.result as any).target.type).toBe("kis");
    expect((r.result as any).target.fields[0].children[0].field).toBe("FBillNo");
  });

  it("a single field list, with its paths checked when the source is named", () => {
    const r = importQeasyPart([{ field: "FQty", type: "float", value: "{{items.qty}}" }], { part: "fields", endpoint: "/open/other/inout/query" });
    expect(r.part).toBe("fields");
    expect((r.result as any).fields).toEqual([{ field: "FQty", type: "float", value: "{{items.qty}}" }]);
  });

  it("formatResponse, condition and operation blocks (detected and by --part)", () => {
    expect(importQeasyPart({ formatResponse: [{ old: "io_date", new: "io_date_new", format: "date" }] }).part).toBe("formatResponse");
    expect(importQeasyPart([{ old: "io_date", new: "io_date_new", format: "date" }], { part: "formatResponse" }).part).toBe("formatResponse");
    expect(importQeasyPart({ condition: [[{ field: "status", logic: "eq", value: "Confirmed" }]] }).part).toBe("condition");
    const op = importQeasyPart({ operation: { method: "merge", field: "io_date_new", bodyName: "items", bodySum: ["qty"] } });
    expect(op.part).toBe("operation");
    expect((op.result as any).operation.groupBy).toEqual(["io_date_new"]);
  });

  it("a malformed template in a fragment is refused with its column", () => {
    const e = (() => {
      try {
        importQeasyPart([{ field: "A", type: "string", value: "_function CONCT(a, b)" }], { part: "fields" });
      } catch (error) {
        return error as Error;
      }
    })();
    expect(e?.message).toMatch(/column 11/);
  });
});

describe("QEasy's own keys", () => {
  it("is_required → required, id/parent_id trees, idCheck, autoFillResponse, targetBodyName and operation.method none are used or noted", () => {
    const s = seed();
    s.source.autoFillResponse = true;
    s.target.request = [
      { id: "1", field: "Head", type: "object" },
      { id: "2", parent_id: "1", field: "FBillNo", type: "string", value: "{io_id}", is_required: true },
      { id: "3", field: "Entry", type: "array", value: "items" },
      { id: "4", parent_id: "3", field: "FQty", type: "float", value: "{{items.qty}}", is_required: "true" },
    ];
    s.target.operation = { method: "none" };
    s.target.targetBodyName = "Entry";
    const { flow, notes } = importQeasyDetailed(s, { mongoQueryTable: "kis_materials" });
    expect(flow.target.fields).toEqual([
      { field: "Head", type: "object", children: [{ field: "FBillNo", type: "string", value: "{io_id}", required: true }] },
      { field: "Entry", type: "array", value: "items", children: [{ field: "FQty", type: "float", value: "{{items.qty}}", required: true }] },
    ]);
    expect(flow.operation).toBeUndefined();
    const text = notes.join("\n");
    expect(text).toMatch(/autoFillResponse/);
    expect(text).toMatch(/operation\.method "none"/);
    expect(text).toMatch(/targetBodyName/);
    expect(text).toMatch(/idCheck/);
  });

  it("a non-Jushuitan source gets one clear sentence", () => {
    const s = seed();
    s.source = {
      api: "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc",
      type: "QUERY",
      method: "POST",
      request: [{ field: "FormId", value: "STK_InStock" }],
      otherRequest: [{ field: "x", parser: { name: "Weird" } }],
      weird: 1,
    };
    const e = importError(() => importQeasyDetailed(s));
    expect(e.unsupported).toHaveLength(1);
    expect(e.unsupported[0]!.path).toBe("source.api");
    expect(e.unsupported[0]!.construct).toMatch(/not a Jushuitan/);
  });
});

describe("QEasy connector API names", () => {
  it("maps method and 奇门 names to /open/ endpoints", () => {
    expect(resolveJstApi("purchasein.query")).toEqual({ path: "/open/purchasein/query", from: "purchasein.query" });
    expect(resolveJstApi("purchaseout.query").path).toBe("/open/purchaseout/query");
    expect(resolveJstApi("inventory.count.query").path).toBe("/open/inventory/count/query");
    expect(resolveJstApi("orders.out.simple.query").path).toBe("/open/orders/out/simple/query");
    expect(resolveJstApi("jushuitan.saleout.list.query").path).toBe("/open/orders/out/simple/query");
    expect(resolveJstApi("/open/other/inout/query").path).toBe("/open/other/inout/query");
    expect(resolveJstApi("orders.query").path).toBe("/open/orders/single/query");
    // Another system's name is not steered to a Jushuitan one.
    expect(resolveJstApi("oms.order.query")).toEqual({ path: null, suggestion: null });
    expect(resolveJstApi("wdt.stockin.order.query")).toEqual({ path: null, suggestion: null });
    for (const path of Object.values(QEASY_API_NAMES)) expect(path).toMatch(/^\/open\/[a-z/]+\/query$/);
  });

  it("imports a scheme whose api is a QEasy name, and names the right endpoint for an unknown one", () => {
    const s = seed();
    s.source.api = "other.inout.query";
    const { flow, notes } = importQeasyDetailed(s, { mongoQueryTable: "kis_materials" });
    expect(flow.source.endpoint).toBe("/open/other/inout/query");
    expect(notes.join("\n")).toMatch(/other\.inout\.query.*\/open\/other\/inout\/query/);
    s.source.api = "purchasin.query";
    const e = importError(() => importQeasyDetailed(s));
    expect(e.unsupported[0]!.hint).toMatch(/purchasein\.query.*\/open\/purchasein\/query/);
  });
});
