import { describe, expect, it } from "vitest";
import { compileValue, readPath, TemplateEvalError, TemplateSyntaxError, type EvalScope, type TemplateVars } from "../../shared/template/index.ts";

const LAST = Date.UTC(2024, 0, 1, 0, 0, 0); // 2024-01-01 08:00:00 Shanghai
const NOW = Date.UTC(2024, 0, 2, 4, 5, 6, 789); // 2024-01-02 12:05:06.789 Shanghai
const vars: TemplateVars = { lastSyncTime: LAST, currentTime: NOW, pageIndex: 3, pageSize: 50 };

function scope(record: Record<string, unknown>, extra: Partial<EvalScope> = {}): EvalScope {
  return { record, vars, ...extra };
}

function value(source: string, record: Record<string, unknown> = {}, extra: Partial<EvalScope> = {}) {
  return compileValue(source).evaluate(scope(record, extra));
}

// A Jushuitan other-in/out document shaped like the seeds.
const doc = {
  io_id: 1001,
  so_id: "SO-7",
  io_date: "2023-01-03 09:43:26",
  remark: "到货",
  modified: "2023-01-03 09:43:26.487",
  items: [
    { sku_id: "SKU-A", qty: 2, sale_price: 19.9 },
    { sku_id: "SKU-B", qty: 1, sale_price: 0.1 },
  ],
};

describe("seed fragments", () => {
  it("{io_id} returns the raw field (numbers stay numbers)", () => {
    const v = compileValue("{io_id}");
    expect(v.kind).toBe("field");
    expect(v.fields).toEqual(["io_id"]);
    expect(v.evaluate(scope(doc))).toBe(1001);
  });

  it("_function REPLACE ('{{io_date|datetime}}',' ','T') reformats the field date (seed 000)", () => {
    const v = compileValue("_function REPLACE ('{{io_date|datetime}}',' ','T')");
    expect(v.kind).toBe("function");
    expect(v.fields).toEqual(["io_date"]);
    expect(v.evaluate(scope(doc))).toBe("2023-01-03T09:43:26");
    expect(v.evaluate(scope({ io_date: "2023-12-31 23:59:59.999" }))).toBe("2023-12-31T23:59:59");
  });

  it("{{LAST_SYNC_TIME|datetime}} and {{CURRENT_TIME|datetime}} render in Asia/Shanghai", () => {
    expect(value("{{LAST_SYNC_TIME|datetime}}")).toBe("2024-01-01 08:00:00");
    expect(value("{{CURRENT_TIME|datetime}}")).toBe("2024-01-02 12:05:06");
    expect(compileValue("{{LAST_SYNC_TIME|datetime}}").kind).toBe("template");
  });

  it("{PAGINATION_START_PAGE} / {PAGINATION_PAGE_SIZE} single-brace form (seed 003)", () => {
    expect(value("{PAGINATION_START_PAGE}")).toBe(3);
    expect(value("{PAGINATION_PAGE_SIZE}")).toBe(50);
    expect(value("{{PAGINATION_PAGE_SIZE}}")).toBe(50);
    expect(compileValue("{PAGINATION_START_PAGE}").fields).toEqual([]);
  });

  it("plain literals stay text", () => {
    const v = compileValue("Confirmed");
    expect(v.kind).toBe("literal");
    expect(v.evaluate(scope(doc))).toBe("Confirmed");
    expect(value("30")).toBe("30");
    expect(value("")).toBe("");
    expect(value('{"a":1}')).toBe('{"a":1}');
  });
});

describe("field paths", () => {
  const record = {
    a: { b: { c: "deep" } },
    items: [{ sku_id: "X1" }, { sku_id: "X2" }],
    n: 0,
    f: false,
    nil: null,
    中文字段: "ok",
  };

  it("reads dotted and indexed paths", () => {
    expect(value("{a.b.c}", record)).toBe("deep");
    expect(value("{items[1].sku_id}", record)).toBe("X2");
    expect(value("{items.0.sku_id}", record)).toBe("X1");
    expect(value("{中文字段}", record)).toBe("ok");
  });

  it("keeps falsy values and returns undefined for missing fields", () => {
    expect(value("{n}", record)).toBe(0);
    expect(value("{f}", record)).toBe(false);
    expect(value("{nil}", record)).toBe(null);
    expect(value("{missing}", record)).toBeUndefined();
    expect(value("{a.x.y}", record)).toBeUndefined();
    expect(value("{items[5].sku_id}", record)).toBeUndefined();
    expect(value("{a.b.c.d}", record)).toBeUndefined();
  });

  it("concatenates mixed text, rendering missing values as empty", () => {
    expect(value("{io_id}-{so_id}", doc)).toBe("1001-SO-7");
    expect(value("{io_id}/{missing}/{remark}", doc)).toBe("1001//到货");
    expect(value("x{f}{n}", record)).toBe("xfalse0");
    expect(value("{items}", record)).toEqual(record.items);
    expect(value("list={items}", record)).toBe('list=[{"sku_id":"X1"},{"sku_id":"X2"}]');
  });

  it("reads the parent record with {parent.x} and {../x}", () => {
    const line = { sku_id: "A", parent: "own" };
    expect(value("{../remark}", line, { parent: doc })).toBe("到货");
    expect(value("{parent.remark}", line, { parent: doc })).toBe("到货");
    expect(value("{sku_id}@{../io_id}", line, { parent: doc })).toBe("A@1001");
    // Without a parent scope, parent.x is an ordinary field path.
    expect(value("{parent.x}", { parent: { x: 5 } })).toBe(5);
    expect(value("{../remark}", line)).toBeUndefined();
    expect(compileValue("{../remark}").fields).toEqual(["../remark"]);
  });

  it("never reaches prototypes", () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": 1}, "a": {"constructor": {"prototype": 2}}}') as Record<string, unknown>;
    expect(value("{__proto__}", hostile)).toBeUndefined();
    expect(value("{__proto__.polluted}", hostile)).toBeUndefined();
    expect(value("{a.constructor}", hostile)).toBeUndefined();
    expect(value("{a.constructor.prototype}", hostile)).toBeUndefined();
    expect(value("{constructor}", {})).toBeUndefined();
    expect(value("{toString}", {})).toBeUndefined();
    expect(value("{items.length}", { items: [1, 2] })).toBeUndefined();
    expect(value("{s.length}", { s: "abc" })).toBeUndefined();
    expect(value("_function constructor", {})).toBeNull();
    expect(value("_function hasOwnProperty", {})).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("readPath applies the same rules for other modules", () => {
    expect(readPath({ a: [{ b: 1 }] }, "a[0].b")).toBe(1);
    expect(readPath({ a: 1 }, "__proto__")).toBeUndefined();
    expect(readPath({ a: 1 }, "not a path")).toBeUndefined();
  });
});

describe("run variables and filters", () => {
  it("time variables without a filter are unix seconds", () => {
    expect(value("{{LAST_SYNC_TIME}}")).toBe(LAST / 1000);
    expect(value("{{CURRENT_TIME}}")).toBe(Math.floor(NOW / 1000));
    expect(value("{{CURRENT_TIME|timestamp}}")).toBe(Math.floor(NOW / 1000));
    expect(value("{{CURRENT_TIME|timestamp_ms}}")).toBe(NOW);
    expect(value("{{CURRENT_TIME|date}}")).toBe("2024-01-02");
  });

  it("time variables follow the vars of each evaluation, even when a vars object is reused", () => {
    const v = compileValue("{{CURRENT_TIME|datetime}}");
    const shared: TemplateVars = { ...vars };
    expect(v.evaluate({ record: {}, vars: shared })).toBe("2024-01-02 12:05:06");
    shared.currentTime += 3_600_000;
    expect(v.evaluate({ record: {}, vars: shared })).toBe("2024-01-02 13:05:06");
    shared.timezone = "UTC";
    expect(v.evaluate({ record: {}, vars: shared })).toBe("2024-01-02 05:05:06");
  });

  it("DAYS_AGO_n counts back from CURRENT_TIME", () => {
    expect(value("{{DAYS_AGO_1|datetime}}")).toBe("2024-01-01 12:05:06");
    expect(value("{{DAYS_AGO_2|date}}")).toBe("2023-12-31");
    expect(value("{{DAYS_AGO_7|timestamp_ms}}")).toBe(NOW - 7 * 86_400_000);
  });

  it("honours vars.timezone", () => {
    const utc = { ...vars, timezone: "UTC" };
    expect(compileValue("{{LAST_SYNC_TIME|datetime}}").evaluate({ record: {}, vars: utc })).toBe("2024-01-01 00:00:00");
    expect(compileValue("{{io_date|timestamp}}").evaluate({ record: doc, vars: utc })).toBe(Date.UTC(2023, 0, 3, 9, 43, 26) / 1000);
  });

  it("filters record fields: date text and epoch numbers", () => {
    expect(value("{{io_date|datetime}}", doc)).toBe("2023-01-03 09:43:26");
    expect(value("{{modified|datetime}}", doc)).toBe("2023-01-03 09:43:26");
    expect(value("{{io_date|date}}", doc)).toBe("2023-01-03");
    expect(value("{{io_date|timestamp}}", doc)).toBe(Date.UTC(2023, 0, 3, 1, 43, 26) / 1000);
    expect(value("{{io_date|timestamp_ms}}", doc)).toBe(Date.UTC(2023, 0, 3, 1, 43, 26));
    expect(value("{{ts|datetime}}", { ts: 1_700_000_000 })).toBe("2023-11-15 06:13:20");
    expect(value("{{ts|datetime}}", { ts: 1_700_000_000_000 })).toBe("2023-11-15 06:13:20");
    expect(value("{{missing|datetime}}", doc)).toBeUndefined();
    expect(value("at {{io_date|date}}", doc)).toBe("at 2023-01-03");
  });

  it("a filtered field that is not a date is an evaluation error naming the value", () => {
    const v = compileValue("{{remark|datetime}}", { path: "target.fields[1].value" });
    expect(() => v.evaluate(scope(doc))).toThrow(TemplateEvalError);
    try {
      v.evaluate(scope(doc));
    } catch (e) {
      const err = e as TemplateEvalError;
      expect(err.code).toBe("template_eval");
      expect(err.message).toContain("target.fields[1].value");
      expect(err.message).toContain("'到货' is not a date");
      expect(err.details).toMatchObject({ path: "target.fields[1].value", position: 1 });
    }
  });

  it("accepts spaces inside double braces", () => {
    expect(value("{{ LAST_SYNC_TIME | datetime }}")).toBe("2024-01-01 08:00:00");
  });

  it("flow variables must be declared and read vars.extra", () => {
    const v = compileValue("{{SHOP_CODE}}-{{io_id}}", { variables: ["SHOP_CODE"] });
    expect(v.evaluate({ record: doc, vars: { ...vars, extra: { SHOP_CODE: "S01" } } })).toBe("S01-1001");
    expect(() => compileValue("{{SHOP_CODE}}")).toThrow(TemplateSyntaxError);
    // single braces always read the record, the escape hatch for SCREAMING_CASE field names
    expect(value("{SHOP_CODE}", { SHOP_CODE: "field" })).toBe("field");
    // lower-case names in double braces are record fields (QEasy `{{tax}} * 100`)
    expect(value("{{io_id}}", doc)).toBe(1001);
  });

  it("a page variable outside a paged request is an evaluation error", () => {
    expect(() => compileValue("{PAGINATION_START_PAGE}").evaluate({ record: {}, vars: { lastSyncTime: LAST, currentTime: NOW } })).toThrow(
      /PAGINATION_START_PAGE is not set/,
    );
  });
});

describe("_function values", () => {
  it("bare identifiers read the record", () => {
    expect(value("_function CONCAT(io_id, '-', so_id)", doc)).toBe("1001-SO-7");
    expect(value("_function io_id + 1", doc)).toBe(1002);
    expect(compileValue("_function CONCAT(io_id, '-', so_id)").fields).toEqual(["io_id", "so_id"]);
  });

  it("substitutes placeholders as typed values: quotes in data cannot break the expression", () => {
    const tricky = { name: "O'Brien', 'x') --", qty: "3" };
    expect(value("_function CONCAT({name}, '!')", tricky)).toBe("O'Brien', 'x') --!");
    expect(value("_function CONCAT('{name}', '!')", tricky)).toBe("O'Brien', 'x') --!");
    expect(value("_function {{qty}} * 100", tricky)).toBe(300);
    expect(value("_function {qty} + 1", { qty: 2 })).toBe(3);
  });

  it("a quoted single placeholder gives its text, NULL when missing; mixed quoted text interpolates", () => {
    expect(value("_function '{io_id}'", doc)).toBe("1001");
    expect(value("_function '{missing}' IS NULL", doc)).toBe(true);
    expect(value("_function IFNULL('{missing}', 'none')", doc)).toBe("none");
    expect(value("_function 'No.{io_id} of {{io_date|date}}'", doc)).toBe("No.1001 of 2023-01-03");
    expect(value("_function CONCAT('{', io_id, '}')", doc)).toBe("{1001}");
  });

  it("QEasy time shifting: FROM_UNIXTIME({{LAST_SYNC_TIME}} - 600, fmt)", () => {
    expect(value("_function FROM_UNIXTIME({{LAST_SYNC_TIME}} - 600, '%Y-%m-%d %H:%i:%s')")).toBe("2024-01-01 07:50:00");
  });

  it("aggregates over detail lines", () => {
    expect(value("_function SUM(items, qty * sale_price)", doc)).toBe(39.9);
    expect(value("_function SUM(items.qty)", doc)).toBe(3);
    expect(value("_function COUNT(items)", doc)).toBe(2);
    expect(compileValue("_function SUM(items, qty * sale_price)").fields).toEqual(["items", "items[].qty", "items[].sale_price"]);
  });

  it("expression results are JSON-friendly: dates as text, NULL as null", () => {
    expect(value("_function NOW()")).toBe("2024-01-02 12:05:06");
    expect(value("_function CURDATE()")).toBe("2024-01-02");
    expect(value("_function NULL")).toBeNull();
    expect(value("_function missing_field")).toBeNull();
    expect(value("  _function 1 + 1")).toBe(2);
    expect(value("_FUNCTION 1 + 1")).toBe(2);
  });

  it("never returns the expression text on failure", () => {
    const v = compileValue("_function 10 / qty", { path: "p" });
    expect(() => v.evaluate(scope({ qty: "abc" }))).toThrow(TemplateEvalError);
    expect(v.evaluate(scope({ qty: 0 }))).toBeNull();
    expect(v.evaluate(scope({ qty: 4 }))).toBe(2.5);
  });

  it("compiles once and evaluates many records", () => {
    const v = compileValue("_function CONCAT(sku_id, ':', qty * sale_price)");
    const results = doc.items.map((line) => v.evaluate(scope(line)));
    expect(results).toEqual(["SKU-A:39.8", "SKU-B:0.1"]);
  });
});
