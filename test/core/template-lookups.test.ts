import { describe, expect, it } from "vitest";
import { SKUS, KIS_UNITS } from "../emulators/catalog.ts";
import {
  compileValue,
  LookupMissError,
  TemplateEvalError,
  TemplateSyntaxError,
  type EvalScope,
  type LookupTables,
  type TemplateVars,
} from "../../shared/template/index.ts";

const vars: TemplateVars = { lastSyncTime: 0, currentTime: Date.UTC(2024, 0, 1) };

// A material table as an upload or a KIS master-data flow would store it: flat rows, one legacy row
// still shaped like QEasy's Mongo documents (`content.*`).
const materials: Record<string, unknown>[] = [
  { F_103: "SKU-A", FItemID: 1001, FUnitID: 11, FNumber: "M.001" },
  { content: { F_103: "SKU-B", FItemID: 1002, FUnitID: 12 } },
  { F_103: "SKU-C", FItemID: 1003, FUnitID: 11, FNumber: "M.003", FStock: "W1" },
  { F_103: "SKU-C", FItemID: 1033, FUnitID: 11, FNumber: "M.003b", FStock: "W2" },
  { F_103: 777, FItemID: 1777 },
];

function tablesOf(map: Record<string, Record<string, unknown>[]>): LookupTables {
  return { get: (name) => (Object.hasOwn(map, name) ? map[name] : undefined) };
}

const lookups = tablesOf({ materials, units: KIS_UNITS as unknown as Record<string, unknown>[] });

function scope(record: Record<string, unknown>, extra: Partial<EvalScope> = {}): EvalScope {
  return { record, vars, lookups, defaultLookupTable: "materials", ...extra };
}

describe("_mongoQuery (seed 000)", () => {
  const seedLine = '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}';

  it("the seed line finds the material of a SKU through the default table", () => {
    const v = compileValue(seedLine, { path: "target.fields[5].children[0].value" });
    expect(v.kind).toBe("lookup");
    expect(v.fields).toEqual(["sku_id"]);
    expect(v.tables).toEqual([]);
    expect(v.usesDefaultTable).toBe(true);
    expect(v.evaluate(scope({ sku_id: "SKU-A" }))).toBe(1001);
    // content.X reads row.content.X when the row has it
    expect(v.evaluate(scope({ sku_id: "SKU-B" }))).toBe(1002);
    // the first matching row wins
    expect(v.evaluate(scope({ sku_id: "SKU-C" }))).toBe(1003);
  });

  it("equality compares text forms, so numbers match numeric text", () => {
    const v = compileValue(seedLine);
    expect(v.evaluate(scope({ sku_id: "777" }))).toBe(1777);
    expect(v.evaluate(scope({ sku_id: 777 }))).toBe(1777);
  });

  it("a miss throws LookupMissError with table, where and path", () => {
    const v = compileValue(seedLine, { path: "target.fields[5].children[0].value" });
    try {
      v.evaluate(scope({ sku_id: "NOPE" }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LookupMissError);
      const err = e as LookupMissError;
      expect(err.code).toBe("lookup_miss");
      expect(err.details).toEqual({ table: "materials", where: { "content.F_103": "NOPE" }, path: "target.fields[5].children[0].value" });
      expect(err.hint).toMatch(/default/);
    }
    expect(() => v.evaluate(scope({}))).toThrow(LookupMissError);
  });

  it("table=, several conditions, $ne, $in and the plain-value shorthand", () => {
    const stock = compileValue('_mongoQuery table=materials findField=FNumber where={"F_103":"{sku}","FStock":{"$ne":"W1"}}');
    expect(stock.tables).toEqual(["materials"]);
    expect(stock.usesDefaultTable).toBe(false);
    expect(stock.evaluate(scope({ sku: "SKU-C" }, { defaultLookupTable: undefined }))).toBe("M.003b");
    const any = compileValue('_mongoQuery table=materials findField=FItemID where={"F_103":{"$in":["{a}","{b}"]}}');
    expect(any.evaluate(scope({ a: "X", b: "SKU-A" }))).toBe(1001);
    const list = compileValue('_mongoQuery table=materials findField=FItemID where={"F_103":{"$in":["{skus}"]}}');
    expect(list.evaluate(scope({ skus: ["Z", "SKU-C"] }))).toBe(1003);
    const numeric = compileValue('_mongoQuery table=units findField=FName where={"FItemID":{"$eq":' + String(KIS_UNITS[0]!.FItemID) + "}}");
    expect(numeric.evaluate(scope({}))).toBe(KIS_UNITS[0]!.FName);
  });

  it("a found row without the field gives undefined", () => {
    const v = compileValue('_mongoQuery findField=FNumber where={"content.F_103":"{sku}"}');
    expect(v.evaluate(scope({ sku: "SKU-B" }))).toBeUndefined();
  });

  it("a missing table or default table is an evaluation error with a hint", () => {
    const v = compileValue('_mongoQuery table=prices findField=x where={"a":"{b}"}');
    expect(() => v.evaluate(scope({ b: 1 }))).toThrow(TemplateEvalError);
    expect(() => v.evaluate(scope({ b: 1 }))).toThrow(/"prices" is not loaded/);
    const noDefault = compileValue('_mongoQuery findField=x where={"a":"{b}"}');
    expect(() => noDefault.evaluate(scope({ b: 1 }, { defaultLookupTable: undefined }))).toThrow(/no default lookup table/);
    expect(() => noDefault.evaluate({ record: {}, vars })).toThrow(TemplateEvalError);
  });

  it("syntax problems are compile errors", () => {
    const bad = [
      "_mongoQuery where={}",
      '_mongoQuery findField=x where={"a":{"$gt":1}}',
      '_mongoQuery findField=x where={"$or":[]}',
      "_mongoQuery findField=x where={not json}",
      '_mongoQuery findField=x where={"a":1',
      '_mongoQuery findField=x colour=red where={"a":1}',
      '_mongoQuery findField=x where={"a":"{{NOPE_VAR}}"}',
      "_mongoQuery findField=x",
      '_mongoQuery findField=x where={"a":["{b}"]}',
    ];
    for (const source of bad) expect(() => compileValue(source), source).toThrow(TemplateSyntaxError);
  });

  it("prototype keys in where= cannot reach prototypes", () => {
    const v = compileValue('_mongoQuery table=materials findField=FItemID where={"__proto__":{"$eq":"{x}"}}');
    // No row can have a __proto__ key: reported as a where key no row has (issue 14), never read through a prototype.
    expect(() => v.evaluate(scope({ x: "y" }))).toThrow(/no row of lookup table "materials" has the field __proto__/);
    expect(({} as Record<string, unknown>).$eq).toBeUndefined();
  });
});

describe("_findCollection (QEasy)", () => {
  it("standalone, with and without _endFind, space- or and-separated conditions", () => {
    for (const source of [
      "_findCollection find FItemID from materials where F_103={{sku_id}}",
      "_findCollection find FItemID from materials where F_103={{sku_id}} _endFind",
      "_findCollection find FItemID from materials where F_103={sku_id} FUnitID=11",
      "_findCollection find FItemID from materials where F_103='{sku_id}' and FUnitID=11",
    ]) {
      const v = compileValue(source);
      expect(v.kind, source).toBe("lookup");
      expect(v.tables, source).toEqual(["materials"]);
      expect(v.evaluate(scope({ sku_id: "SKU-A" })), source).toBe(1001);
    }
    const two = compileValue("_findCollection find FNumber from materials where F_103={{sku}} FStock={{stock}}");
    expect(two.evaluate(scope({ sku: "SKU-C", stock: "W2" }))).toBe("M.003b");
    expect(() => two.evaluate(scope({ sku: "SKU-C", stock: "W9" }))).toThrow(LookupMissError);
  });

  it("nested in _function, closed by _endFind (QEasy CASE example)", () => {
    const v = compileValue(
      "_function case _findCollection find FStock from materials where F_103={{sku}} _endFind when 'W1' then '{{batch_date}}' else '' end",
    );
    expect(v.kind).toBe("function");
    expect(v.tables).toEqual(["materials"]);
    expect(v.fields).toEqual(["sku", "batch_date"]);
    expect(v.evaluate(scope({ sku: "SKU-C", batch_date: "2024-01-01" }))).toBe("2024-01-01");
    expect(v.evaluate(scope({ sku: "SKU-A", batch_date: "2024-01-01" }))).toBe("");
  });

  it("inside an expression a miss is NULL, so IFNULL/CASE can handle it", () => {
    const v = compileValue("_function IFNULL(_findCollection find FItemID from materials where F_103={{sku}} _endFind, 0)");
    expect(v.evaluate(scope({ sku: "SKU-A" }))).toBe(1001);
    expect(v.evaluate(scope({ sku: "NOPE" }))).toBe(0);
  });

  it("per-line lookups inside an aggregate", () => {
    const v = compileValue("_function SUM(items, qty * _findCollection find content.FUnitID from materials where content.F_103={sku_id} _endFind)");
    expect(
      v.evaluate(
        scope({
          items: [
            { sku_id: "SKU-A", qty: 2 },
            { sku_id: "SKU-B", qty: 1 },
          ],
        }),
      ),
    ).toBe(34);
  });

  it("syntax errors point at the problem", () => {
    const cases: [string, RegExp][] = [
      ["_findCollection FItemID from materials where F_103={{sku}}", /expected "find"/],
      ["_findCollection find FItemID materials where F_103={{sku}}", /expected "from"/],
      ["_findCollection find FItemID from materials F_103={{sku}}", /expected "where"/],
      ["_findCollection find FItemID from materials where", /expected something after "where"/],
      ["_findCollection find FItemID from materials where state in (1,2)", /expected a condition/],
      ["_findCollection find FItemID from materials where a={{sku}} _endFind extra", /after _endFind/],
      // QEasy's documented IFNULL(_findCollection … where FBillNo={{order_no}}, '0') ends at the `,` (issue 14); with nothing after it, _endFind is required.
      ["_function _findCollection find FID from xxx where FBillNo={{order_no}}", /_endFind/],
    ];
    for (const [source, message] of cases) {
      expect(() => compileValue(source, { path: "p" }), source).toThrow(message);
    }
  });
});

describe("lookup performance shape", () => {
  it("indexes a large table once and stays correct when the table grows", () => {
    const rows = SKUS.map((s, i) => ({ F_103: s.skuId, FItemID: 10_000 + i }));
    const big = Array.from({ length: 20 }, (_, k) => rows.map((r) => ({ ...r, F_103: `${r.F_103}#${k}` }))).flat();
    const tables = tablesOf({ big });
    const v = compileValue('_mongoQuery table=big findField=FItemID where={"F_103":"{sku}"}');
    const last = big[big.length - 1]!;
    for (let i = 0; i < 2000; i++) expect(v.evaluate({ record: { sku: last.F_103 }, vars, lookups: tables })).toBe(last.FItemID);
    big.push({ F_103: "NEW", FItemID: 1 });
    expect(v.evaluate({ record: { sku: "NEW" }, vars, lookups: tables })).toBe(1);
  });
});
