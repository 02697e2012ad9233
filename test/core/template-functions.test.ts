import { describe, expect, it } from "vitest";
import { compileExpression, TemplateEvalError, type TemplateVars } from "../../shared/template/index.ts";

const vars: TemplateVars = { lastSyncTime: Date.UTC(2024, 0, 1), currentTime: Date.UTC(2024, 0, 2, 4, 0, 0) };
const record = {
  name: "Hej",
  qty: 3,
  nil: null,
  items: [
    { sku_id: "A", qty: 2, sale_price: 19.9, discount: null },
    { sku_id: "B", qty: 1, sale_price: 0.1, discount: 0.05 },
    { sku_id: "C", qty: "4", sale_price: 2.5 },
  ],
};

function ev(expr: string, rec: Record<string, unknown> = record): unknown {
  return compileExpression(expr).evaluate({ record: rec, vars });
}

function table(rows: [string, unknown][]) {
  for (const [expr, expected] of rows) expect(ev(expr), expr).toEqual(expected);
}

describe("string functions (MySQL reference results)", () => {
  it("CONCAT / CONCAT_WS", () => {
    table([
      ["CONCAT('My', 'S', 'QL')", "MySQL"],
      ["CONCAT('My', NULL, 'QL')", null],
      ["CONCAT(14.3)", "14.3"],
      ["CONCAT(1 > 0, '|', 1 < 0)", "1|0"],
      ["CONCAT(0.1 + 0.2, '')", "0.3"],
      ["CONCAT('x', 0.0000001)", "x0.0000001"],
      ["CONCAT_WS(',', 'First name', 'Second name', 'Last Name')", "First name,Second name,Last Name"],
      ["CONCAT_WS(',', 'First name', NULL, 'Last Name')", "First name,Last Name"],
      ["CONCAT_WS(NULL, 'a', 'b')", null],
    ]);
  });

  it("REPLACE / SUBSTRING / SUBSTR / MID / LEFT / RIGHT / SUBSTRING_INDEX", () => {
    table([
      ["REPLACE('www.mysql.com', 'w', 'Ww')", "WwWwWw.mysql.com"],
      ["REPLACE('abc', '', 'x')", "abc"],
      ["REPLACE('abc', NULL, 'x')", null],
      ["REPLACE(2023, 2, 9)", "9093"],
      ["SUBSTRING('Quadratically', 5)", "ratically"],
      ["SUBSTRING('Quadratically', 5, 6)", "ratica"],
      ["SUBSTRING('Sakila', -3)", "ila"],
      ["SUBSTRING('Sakila', -5, 3)", "aki"],
      ["SUBSTRING('Sakila', 0)", ""],
      ["SUBSTRING('Sakila', -10)", ""],
      ["SUBSTRING('Sakila', 3, 0)", ""],
      ["SUBSTRING('Sakila', 10)", ""],
      ["SUBSTR('中文字符串', 2, 2)", "文字"],
      ["MID('foobar', 2, 3)", "oob"],
      ["LEFT('foobarbar', 5)", "fooba"],
      ["LEFT('foo', 0)", ""],
      ["LEFT('foo', 10)", "foo"],
      ["RIGHT('foobarbar', 4)", "rbar"],
      ["RIGHT('foo', -1)", ""],
      ["LEFT('a😀b', 2)", "a😀"],
      ["SUBSTRING_INDEX('www.mysql.com', '.', 2)", "www.mysql"],
      ["SUBSTRING_INDEX('www.mysql.com', '.', -2)", "mysql.com"],
      ["SUBSTRING_INDEX('www.mysql.com', '.', 0)", ""],
      ["SUBSTRING_INDEX('www.mysql.com', '.', 9)", "www.mysql.com"],
      ["SUBSTRING_INDEX('a,,b', ',', -1)", "b"],
    ]);
  });

  it("UPPER / LOWER / TRIM / LTRIM / RTRIM / REVERSE / REPEAT", () => {
    table([
      ["UPPER(name)", "HEJ"],
      ["UCASE('abc')", "ABC"],
      ["LOWER('QUADRATICALLY')", "quadratically"],
      ["LCASE('X')", "x"],
      ["TRIM('  bar   ')", "bar"],
      ["LTRIM('  barbar')", "barbar"],
      ["RTRIM('barbar   ')", "barbar"],
      ["TRIM('\\tx\\t')", "\tx\t"],
      ["REVERSE('abc')", "cba"],
      ["REVERSE('a😀b')", "b😀a"],
      ["REPEAT('MySQL', 3)", "MySQLMySQLMySQL"],
      ["REPEAT('x', 0)", ""],
      ["REPEAT('x', -1)", ""],
      ["UPPER(NULL)", null],
    ]);
  });

  it("LOCATE / INSTR / LENGTH / CHAR_LENGTH", () => {
    table([
      ["LOCATE('bar', 'foobarbar')", 4],
      ["LOCATE('xbar', 'foobar')", 0],
      ["LOCATE('bar', 'foobarbar', 5)", 7],
      ["LOCATE('', 'abc')", 1],
      ["LOCATE('', 'abc', 5)", 0],
      ["LOCATE('b', 'abc', 0)", 0],
      ["LOCATE('字', '中文字符')", 3],
      ["LOCATE('b', 'a😀b')", 3],
      ["INSTR('foobarbar', 'bar')", 4],
      ["INSTR('xbar', 'foobar')", 0],
      ["LENGTH('text')", 4],
      ["LENGTH('中文')", 6],
      ["LENGTH('é')", 2],
      ["LENGTH('😀')", 4],
      ["LENGTH(12.5)", 4],
      ["CHAR_LENGTH('中文')", 2],
      ["CHARACTER_LENGTH('😀')", 1],
      ["LENGTH(NULL)", null],
    ]);
  });

  it("LPAD / RPAD, including truncation and empty fill", () => {
    table([
      ["LPAD('hi', 4, '??')", "??hi"],
      ["LPAD('hi', 1, '??')", "h"],
      ["LPAD('7', 5, '0')", "00007"],
      ["LPAD('hi', 5, 'ab')", "abahi"],
      ["RPAD('hi', 5, '?')", "hi???"],
      ["RPAD('hi', 1, '?')", "h"],
      ["LPAD('hi', 5, '')", null],
      ["LPAD('hi', -1, 'x')", null],
      ["LPAD('hi', 2, '')", "hi"],
      ["LPAD(qty, 3, 0)", "003"],
    ]);
  });

  it("FORMAT groups thousands", () => {
    table([
      ["FORMAT(12332.123456, 4)", "12,332.1235"],
      ["FORMAT(12332.1, 4)", "12,332.1000"],
      ["FORMAT(12332.2, 0)", "12,332"],
      ["FORMAT(-1234.5, 0)", "-1,235"],
      ["FORMAT(2.675, 2)", "2.68"],
    ]);
  });

  it("amplification is bounded", () => {
    expect(() => ev("REPEAT('x', 2000000)")).toThrow(TemplateEvalError);
    expect(() => ev("LPAD('x', 5000000, 'y')")).toThrow(/limit/);
    expect(() => ev("REPLACE(REPEAT('a', 1000), 'a', REPEAT('b', 2000))")).toThrow(/longer than/);
    expect(() => ev("CONCAT(REPEAT('a', 600000), REPEAT('b', 600000))")).toThrow(/longer than/);
    expect(ev("LENGTH(REPEAT('ab', 500000))")).toBe(1_000_000);
  });
});

describe("number functions", () => {
  it("ROUND half away from zero, exact on decimals", () => {
    table([
      ["ROUND(-1.23)", -1],
      ["ROUND(-1.58)", -2],
      ["ROUND(1.58)", 2],
      ["ROUND(1.298, 1)", 1.3],
      ["ROUND(1.298, 0)", 1],
      ["ROUND(23.298, -1)", 20],
      ["ROUND(2.5)", 3],
      ["ROUND(-2.5)", -3],
      ["ROUND(2.675, 2)", 2.68],
      ["ROUND(1.005, 2)", 1.01],
      ["ROUND(1.0049999, 2)", 1],
      ["ROUND(8.325, 2)", 8.33],
      ["ROUND(-0.4)", 0],
      ["ROUND(123456.789, -3)", 123000],
      ["ROUND('3.14159', 3)", 3.142],
      ["ROUND(NULL)", null],
      ["ROUND(19.9 * 3 * 1.13, 2)", 67.46],
    ]);
  });

  it("TRUNCATE / FLOOR / CEIL / CEILING / ABS / SIGN / MOD", () => {
    table([
      ["TRUNCATE(1.223, 1)", 1.2],
      ["TRUNCATE(1.999, 1)", 1.9],
      ["TRUNCATE(1.999, 0)", 1],
      ["TRUNCATE(-1.999, 1)", -1.9],
      ["TRUNCATE(122, -2)", 100],
      ["TRUNCATE(10.28 * 100, 0)", 1028],
      ["FLOOR(1.23)", 1],
      ["FLOOR(-1.23)", -2],
      ["CEILING(1.23)", 2],
      ["CEIL(-1.23)", -1],
      ["ABS(-32)", 32],
      ["ABS(2)", 2],
      ["SIGN(-32)", -1],
      ["SIGN(0)", 0],
      ["MOD(234, 10)", 4],
      ["MOD(29, 9)", 2],
      ["MOD(34.5, 3)", 1.5],
      ["FLOOR(NULL)", null],
    ]);
  });

  it("CAST", () => {
    table([
      ["CAST('12.345' AS DECIMAL(10,2))", 12.35],
      ["CAST(2.5 AS SIGNED)", 3],
      ["CAST(7 AS UNSIGNED INTEGER)", 7],
      ["CAST(12 AS CHAR)", "12"],
      ["CAST('2024-01-05 10:11:12' AS DATE)", "2024-01-05"],
      ["CAST('2024-01-05' AS DATETIME)", "2024-01-05 00:00:00"],
      ["CAST(NULL AS SIGNED)", null],
      ["cast(qty as decimal)", 3],
    ]);
    expect(() => ev("CAST(-1 AS UNSIGNED)")).toThrow(TemplateEvalError);
  });
});

describe("aggregates over detail arrays", () => {
  it("SUM / AVG / MIN / MAX / COUNT with path syntax", () => {
    table([
      ["SUM(items.qty)", 7],
      ["SUM({items}.qty)".replace("{items}.qty", "items.qty"), 7],
      ["SUM({{items.qty}})", 7],
      ["AVG(items.sale_price)", 7.5],
      ["MIN(items.sale_price)", 0.1],
      ["MAX(items.sale_price)", 19.9],
      ["MAX(items.sku_id)", "C"],
      ["COUNT(items)", 3],
      ["COUNT(items.discount)", 1],
      ["SUM(items.discount)", 0.05],
      ["SUM(items.missing)", null],
      ["COUNT(items.missing)", 0],
      ["SUM(missing_array.qty)", null],
      ["COUNT(missing_array)", 0],
    ]);
  });

  it("an expression per line: SUM(items, qty * sale_price)", () => {
    table([
      ["SUM(items, qty * sale_price)", 49.9],
      ["ROUND(SUM(items, qty * sale_price * 1.13), 2)", 56.39],
      ["SUM(items, IFNULL(discount, 0))", 0.05],
      ["COUNT(items, discount)", 1],
      ["COUNT(items, IF(qty > 1, 1, NULL))", 2],
      ["MAX(items, qty * sale_price)", 39.8],
      ["MIN(items, CONCAT(sku_id, qty))", "A2"],
      ["AVG(items, qty)", 2.3333],
      ["SUM(items, qty * {../qty})", 21],
      ["SUM(items, qty * parent.qty)", 21],
      ["sum(items, 1)", 3],
    ]);
  });

  it("nested aggregates read each level", () => {
    const order = { lines: [{ batches: [{ n: 1 }, { n: 2 }] }, { batches: [{ n: 3 }] }] };
    expect(ev("SUM(lines, SUM(batches, n))", order)).toBe(6);
    expect(ev("SUM(lines.batches.n)", order)).toBe(6);
    expect(ev("COUNT(lines.batches)", order)).toBe(3);
  });

  it("a scalar argument aggregates as one value; arrays of numbers aggregate their elements", () => {
    expect(ev("SUM(qty)")).toBe(3);
    expect(ev("SUM(xs)", { xs: [1, 2, 3.5] })).toBe(6.5);
    expect(ev("MAX(xs)", { xs: [1, 9, 3] })).toBe(9);
  });

  it("errors name the problem", () => {
    expect(() => ev("SUM(items)")).toThrow(/an object is not a number/);
    expect(() => ev("SUM(qty, qty)")).toThrow(/qty is not an array/);
    expect(() => ev("SUM(items, sku_id)")).toThrow(/'A' is not a number/);
  });
});
