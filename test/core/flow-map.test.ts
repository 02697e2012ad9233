import { describe, expect, it } from "vitest";
import { lookupTables } from "../../shared/flow/preview.ts";
import { compileMapping, MappingError, type MappingField } from "../../shared/transform/map.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };
const tables = lookupTables({
  materials: [
    { FItemID: 1001, FUnitID: 11, F_103: "TX100-11" },
    { FItemID: 1002, FUnitID: 11, F_103: "TX100-12" },
  ],
});

function mapper(fields: MappingField[], externalKey = "{io_id}") {
  return compileMapping({ target: { externalKey, fields, defaultLookupTable: "materials" } });
}

const record = {
  io_id: 42,
  io_date: "2024-03-01 10:00:00",
  remark: "",
  amount: "12.50",
  count: "3",
  flag: "1",
  wms_co_id: 10817,
  items: [
    { sku_id: "TX100-11", qty: 2 },
    { sku_id: "TX100-12", qty: "1" },
  ],
};

describe("mapping", () => {
  it("builds nested objects and arrays; children see the line as record and the header as parent", () => {
    const m = mapper([
      {
        field: "Head",
        type: "object",
        children: [
          { field: "No", type: "string", value: "{io_id}" },
          { field: "Day", type: "date", value: "{io_date}" },
        ],
      },
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [
          { field: "Sku", type: "string", value: "{sku_id}" },
          { field: "Qty", type: "float", value: "{qty}" },
          { field: "Wh", type: "int", value: "{parent.wms_co_id}" },
          { field: "Item", type: "int", value: '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}' },
        ],
      },
    ]);
    const { payload, externalKey } = m.map(record, { vars, lookups: tables });
    expect(externalKey).toBe("42");
    expect(payload).toEqual({
      Head: { No: "42", Day: "2024-03-01" },
      Entry: [
        { Sku: "TX100-11", Qty: 2, Wh: 10817, Item: 1001 },
        { Sku: "TX100-12", Qty: 1, Wh: 10817, Item: 1002 },
      ],
    });
  });

  it("converts types and names the payload path and value when it cannot", () => {
    const m = mapper([
      { field: "a", type: "float", value: "{amount}" },
      { field: "b", type: "int", value: "{count}" },
      { field: "c", type: "bool", value: "{flag}" },
      { field: "d", type: "datetime", value: "{io_date}" },
      { field: "e", type: "string", value: "{wms_co_id}" },
    ]);
    expect(m.map(record, { vars }).payload).toEqual({ a: 12.5, b: 3, c: true, d: "2024-03-01 10:00:00", e: "10817" });

    const bad = mapper([{ field: "Entry", type: "array", value: "items", children: [{ field: "Qty", type: "int", value: "{sku_id}" }] }]);
    let error: unknown;
    try {
      bad.map(record, { vars });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MappingError);
    expect((error as MappingError).code).toBe("mapping_type");
    expect((error as MappingError).message).toBe('Entry[0].Qty: expected a whole number for type "int", got "TX100-11"');
    expect((error as MappingError).details).toMatchObject({ path: "Entry[0].Qty", flowPath: "target.fields[0].children[0]", value: "TX100-11" });
  });

  it("uses default for empty values and lookup misses, and enforces required", () => {
    const m = mapper([
      { field: "Memo", type: "string", value: "{remark}", default: "(none)" },
      { field: "Kept", type: "string", value: "{remark}" },
      { field: "Gone", type: "string", value: "{missing}" },
      { field: "Fixed", type: "int", default: 7 },
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [{ field: "Item", type: "int", value: '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}', default: 0 }],
      },
    ]);
    const out = m.map({ ...record, items: [{ sku_id: "NOPE" }, { sku_id: "TX100-11" }] }, { vars, lookups: tables, trace: true });
    expect(out.payload).toEqual({ Memo: "(none)", Kept: "", Fixed: 7, Entry: [{ Item: 0 }, { Item: 1001 }] });
    expect(out.trace).toContainEqual({ path: "Entry[0].Item", source: "(default)", value: 0, defaulted: "lookup_miss" });
    expect(out.trace).toContainEqual({ path: "Memo", source: "(default)", value: "(none)", defaulted: "empty" });
    expect(out.trace).toContainEqual({
      path: "Entry[1].Item",
      source: '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}',
      value: 1001,
    });

    const required = mapper([{ field: "No", type: "string", value: "{remark}", required: true }]);
    expect(() => required.map(record, { vars })).toThrow("No: required value is empty ({remark})");
    const requiredLines = mapper([
      { field: "Entry", type: "array", value: "items", required: true, children: [{ field: "x", type: "string", value: "{sku_id}" }] },
    ]);
    expect(() => requiredLines.map({ ...record, items: [] }, { vars })).toThrow("Entry: required array is empty");
  });

  it("a lookup miss without default is an error with the lookup_miss code and the path", () => {
    const m = mapper([
      {
        field: "Entry",
        type: "array",
        value: "items",
        children: [{ field: "Item", type: "string", value: '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}' }],
      },
    ]);
    try {
      m.map({ ...record, items: [{ sku_id: "TX100-11" }, { sku_id: "ZZZ" }] }, { vars, lookups: tables });
      expect.unreachable();
    } catch (e) {
      expect((e as MappingError).code).toBe("lookup_miss");
      expect((e as MappingError).message).toMatch(/^Entry\[1\]\.Item: Lookup found no row in table "materials"/);
      expect((e as MappingError).hint).toContain("materials");
    }
  });

  it("applies a field format before converting", () => {
    const m = mapper([
      { field: "Ids", type: "array", value: "{so_ids}", format: "StringToArray" },
      { field: "Price", type: "float", value: "{amount}", format: "round(0)" },
    ]);
    expect(m.map({ ...record, so_ids: "A,B" }, { vars }).payload).toEqual({ Ids: ["A", "B"], Price: 13 });
  });

  it("rejects an empty external key", () => {
    const m = mapper([{ field: "x", type: "string", value: "1" }], "{nothing}");
    expect(() => m.map(record, { vars })).toThrow(/external key is empty/);
  });

  it("omits trace unless asked and never mutates the record", () => {
    const m = mapper([{ field: "x", type: "string", value: "{io_id}" }]);
    const copy = structuredClone(record);
    const out = m.map(record, { vars });
    expect(out.trace).toBeUndefined();
    expect(record).toEqual(copy);
  });
});
