import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { importQeasy, importQeasyDetailed, QeasyImportError } from "../../shared/flow/qeasy-import.ts";
import { loadFlow } from "../../shared/flow/schema.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { sourceDocuments } from "./flow-fixture-input.ts";

const QEASY = join(import.meta.dirname, "../fixtures/qeasy");
const FLOWS = join(import.meta.dirname, "../fixtures/flows");
const read = (path: string): any => JSON.parse(readFileSync(path, "utf8"));
const scheme = (name: string) => read(join(QEASY, name));
const fixture = (flow: string, c: string) => {
  const meta = read(join(FLOWS, flow, c, "case.json"));
  return {
    docs: sourceDocuments(read(join(FLOWS, flow, c, "input.json"))),
    tables: read(join(FLOWS, flow, c, "tables.json")),
    closedBefore: typeof meta.closedBefore === "string" ? parseInZone(meta.closedBefore)! : undefined,
  };
};

describe("QEasy import", () => {
  const files = readdirSync(QEASY)
    .filter((f) => f.endsWith(".json"))
    .sort();

  it("has a reconstructed scheme for each seed", () => {
    expect(files).toEqual(["seed-000-other-in-to-kis.json", "seed-003-group-calculate.json", "seed-003-sales-out-to-tplus.json"]);
  });

  for (const file of files) {
    it(`imports ${file} into a flow that validates`, () => {
      const { flow, notes } = importQeasyDetailed(scheme(file), { mongoQueryTable: "kis_materials" });
      // Valid by construction (importQeasy runs loadFlow) and stable when loaded again from its JSON.
      expect(loadFlow(JSON.parse(JSON.stringify(flow)))).toEqual(flow);
      expect(flow.source.type).toBe("jushuitan");
      expect(notes.length).toBeGreaterThan(0);
    });
  }

  it("seed 000: the imported scheme writes exactly what the native seed flow writes", () => {
    const { flow, notes } = importQeasyDetailed(scheme("seed-000-other-in-to-kis.json"), { id: "jst-other-in-to-kis", mongoQueryTable: "kis_materials" });
    expect(flow.source).toMatchObject({
      endpoint: "/open/other/inout/query",
      params: {
        modified_begin: "{{LAST_SYNC_TIME|datetime}}",
        modified_end: "{{CURRENT_TIME|datetime}}",
        status: "Confirmed",
        date_type: 0,
        types: ["其它退货"],
      },
      paging: { type: "window", pageSize: 30 },
      timeField: "modified",
      idField: "io_id",
    });
    expect(flow.source.params).not.toHaveProperty("page_index");
    expect(flow.target).toMatchObject({
      type: "kis",
      operation: "app007104/miscellaneousreceipt/create",
      externalKey: "{io_id}",
      defaultLookupTable: "kis_materials",
    });
    expect(flow.references.map((r) => [r.name, r.keyField])).toEqual([
      ["warehouses", "wms_co_id"],
      ["kis_materials", "F_103"],
    ]);
    expect(flow.schedule).toEqual({ cron: "*/30 * * * *" });
    expect(notes.join("\n")).toContain("AccountDB: connection setting");

    for (const c of ["plain", "two-pages", "lookup-miss"]) {
      const { docs, tables } = fixture("jst-other-in-to-kis", c);
      const vars = { currentTime: Date.UTC(2024, 2, 10), lastSyncTime: Date.UTC(2024, 2, 1) };
      const imported = preview(flow, docs, { tables, vars, trace: false });
      const native = preview(seedFlow("jst-other-in-to-kis"), docs, { tables, vars, trace: false });
      expect(imported.documents.length).toBeGreaterThan(0);
      expect(imported.documents).toEqual(native.documents);
      expect(imported.errors.map((e) => [e.id, e.error.code])).toEqual(native.errors.map((e) => [e.id, e.error.code]));
    }
  });

  it("seed 003 (operation merge + beatFlat): merged payloads equal the native flow's", () => {
    const { flow, notes } = importQeasyDetailed(scheme("seed-003-sales-out-to-tplus.json"), { mergeKeyPrefix: "SO" });
    expect(flow.source).toMatchObject({
      endpoint: "/open/orders/out/simple/query",
      params: { shop_id: 0, is_offline_shop: true, status: "Confirmed", date_type: 2 },
      timeField: "io_date",
      flatten: { path: "items" },
      formatResponse: [{ old: "io_date", new: "io_date_new", format: "date" }],
    });
    expect(flow.source.params).not.toHaveProperty("so_ids");
    expect(flow.operation).toMatchObject({
      type: "merge",
      groupBy: ["io_date_new", "wms_co_id"],
      lines: "items",
      lineGroupBy: ["items_sku_id"],
      calculate: { items_qty: "$sum", items_sale_amount: "$sum" },
      headerCalculate: { remark: "$first" },
      keyTemplate: "SO-{io_date_new}-{wms_co_id}",
      period: { field: "io_date_new", unit: "day" },
    });
    expect(flow.target.fields[0]).toMatchObject({ field: "ExternalCode", value: "{_merge_key}" });
    expect(flow.target.fields.find((f) => f.field === "Warehouse")).toMatchObject({ type: "object", children: [{ field: "Code", type: "string" }] });
    expect(flow.schedule).toEqual({ cron: "10 1 * * *" });
    expect(notes.join("\n")).toContain('ExternalCode: was "{io_id}"');
    expect(notes.join("\n")).toContain("has a seconds field");

    for (const c of ["plain", "multi-day-merge", "lookup-miss"]) {
      const { docs, tables, closedBefore } = fixture("jst-sales-out-to-tplus", c);
      const options = { tables, closedBefore, trace: false };
      const imported = preview(flow, docs, options);
      const native = preview(seedFlow("jst-sales-out-to-tplus"), docs, options);
      expect(imported.documents.length).toBeGreaterThan(0);
      expect(imported.documents.map((d) => [d.externalKey, d.members, d.payload])).toEqual(native.documents.map((d) => [d.externalKey, d.members, d.payload]));
      expect(imported.held).toEqual(native.held);
      expect(imported.errors.map((e) => [e.id, e.members, e.error.code])).toEqual(native.errors.map((e) => [e.id, e.members, e.error.code]));
    }
  });

  it("seed 003 (groupCalculate + dto wrapper + strictMode condition)", () => {
    const { flow, notes } = importQeasyDetailed(scheme("seed-003-group-calculate.json"));
    expect(flow.id).toBe("jst-orders-out-simple-to-tplus");
    expect(flow.target.fields.map((f) => f.field)).toEqual(["ExternalCode", "VoucherDate", "VoucherType", "BusiType", "Warehouse", "RDRecordDetails"]);
    expect(flow.operation).toMatchObject({
      groupBy: ["io_date_new", "wms_co_id"],
      lineGroupBy: ["items_sku_id"],
      maxLines: 200,
      keyTemplate: "JST-{io_date_new}-{wms_co_id}",
    });
    expect(flow.source.paging).toEqual({ type: "window", pageSize: 50 });
    expect(flow.source.condition).toEqual([[{ field: "items.qty", logic: "gt", value: "0" }]]);
    expect(flow.source.conditionMode).toBe("line");
    expect(notes.join("\n")).toContain('the "dto" wrapper was removed');
    const { docs, tables } = fixture("jst-sales-out-to-tplus", "multi-day-merge");
    const result = preview(flow, docs, { tables, closedBefore: Date.UTC(2024, 2, 2, 16), trace: false });
    expect(result.errors).toEqual([]);
    expect(result.documents.map((d) => d.externalKey)).toEqual([
      "JST-2024-03-01-10817",
      "JST-2024-03-01-10818",
      "JST-2024-03-02-10817",
      "JST-2024-03-02-10818",
    ]);
  });

  it("lists every unsupported construct with its path and a hint", () => {
    const bad = scheme("seed-003-sales-out-to-tplus.json");
    bad.source.idCheck = false;
    bad.source.omissionRemedy = { crontab: "0 3 * * *" };
    bad.source.beatFlat = ["items", "batchs"];
    bad.target.operation.method = "batchArraySave";
    bad.target.request[4].parser = { name: "ConvertTwoStageObjectParser", params: "Code" };
    bad.target.request[6].children[1].type = "decimal(18,2)";
    bad.target.otherRequest = [{ field: "callBack", value: "x" }];
    bad.crontab = "every day";
    try {
      importQeasy(bad);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(QeasyImportError);
      const e = error as QeasyImportError;
      expect(e.unsupported.map((u) => u.path)).toEqual([
        "source.omissionRemedy",
        "source.idCheck",
        "source.beatFlat",
        "target.request[4].parser",
        "target.request[6].children[1].type",
        "target.otherRequest[0]",
        "target.operation.method",
        "crontab",
      ]);
      expect(e.message).toContain('at source.omissionRemedy: unknown source key "omissionRemedy" — remove it; supported here:');
      expect(e.message).toContain('at target.operation.method: operation method "batchArraySave" — only "merge" is supported');
      expect(e.message).toContain('at target.request[4].parser: parser "ConvertTwoStageObjectParser" — supported parsers: ConvertObjectParser, StringToArray');
      expect(e.message.split("\n")[0]).toBe("QEasy scheme cannot be imported (8 unsupported constructs):");
    }
  });

  it("refuses a scheme without a deterministic key or a recognisable target", () => {
    const noKey = scheme("seed-000-other-in-to-kis.json");
    noKey.target.request[0].children.shift(); // drop FBillNo
    expect(() => importQeasy(noKey)).toThrow(/at target\.request: no FBillNo field with a value/);
    const unknownTarget = scheme("seed-000-other-in-to-kis.json");
    unknownTarget.target.api = "https://example.com/save";
    expect(() => importQeasy(unknownTarget)).toThrow(/at target\.api: target api "https:\/\/example\.com\/save"/);
    expect(() => importQeasy([])).toThrow(/scheme of kind array/);
  });
});
