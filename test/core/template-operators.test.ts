import { describe, expect, it } from "vitest";
import { compileExpression, TemplateEvalError, type TemplateVars } from "../../shared/template/index.ts";

const vars: TemplateVars = { lastSyncTime: Date.UTC(2024, 0, 1), currentTime: Date.UTC(2024, 0, 2, 4, 0, 0) };
const record = { qty: 3, price: 19.9, text: "abc", num_text: "10", empty: "", nil: null, flag: true, items: [{ qty: 1 }] };

function ev(expr: string, rec: Record<string, unknown> = record): unknown {
  return compileExpression(expr).evaluate({ record: rec, vars });
}

/** Runs a table of [expression, expected] pairs, reporting the failing expression. */
function table(rows: [string, unknown][]) {
  for (const [expr, expected] of rows) expect(ev(expr), expr).toEqual(expected);
}

describe("literals", () => {
  it("strings with escapes, numbers, NULL, TRUE/FALSE", () => {
    table([
      ["'single'", "single"],
      ['"double"', "double"],
      ["'it''s'", "it's"],
      ['"say ""hi"""', 'say "hi"'],
      ["'a\\'b'", "a'b"],
      ["'tab\\there'", "tab\there"],
      ["'line\\nbreak'", "line\nbreak"],
      ["'back\\\\slash'", "back\\slash"],
      ["''", ""],
      ["42", 42],
      ["3.25", 3.25],
      [".5", 0.5],
      ["-7", -7],
      ["-0.5", -0.5],
      ["1e3", 1000],
      ["NULL", null],
      ["null", null],
      ["TRUE", true],
      ["false", false],
    ]);
  });
});

describe("arithmetic (MySQL exact-value semantics)", () => {
  it("+ - * / % with decimal scale like MySQL DECIMAL", () => {
    table([
      ["1 + 2", 3],
      ["0.1 + 0.2", 0.3],
      ["1.1 + 2.2", 3.3],
      ["1 - 0.9", 0.1],
      ["19.9 * 3", 59.7],
      ["0.1 * 0.2", 0.02],
      ["1.15 * 100", 115],
      ["10 / 4", 2.5],
      ["1 / 3", 0.3333],
      ["100 / 3", 33.3333],
      ["2 / 3", 0.6667],
      ["1.5 / 3", 0.5],
      ["253 % 7", 1],
      ["-7 % 3", -1],
      ["34.5 % 3", 1.5],
      ["5 DIV 2", 2],
      ["-5 DIV 2", -2],
      ["29 MOD 9", 2],
      ["2 + 3 * 4", 14],
      ["(2 + 3) * 4", 20],
      ["10 - 2 - 3", 5],
      ["2 * -3", -6],
      ["- (1 + 2)", -3],
      ["- - 4", 4],
      ["+5", 5],
    ]);
  });

  it("division or modulo by zero is NULL", () => {
    table([
      ["1 / 0", null],
      ["1 % 0", null],
      ["MOD(1, 0)", null],
      ["5 DIV 0", null],
      ["IFNULL(1 / 0, 'yes')", "yes"],
    ]);
  });

  it("NULL propagates", () => {
    table([
      ["NULL + 1", null],
      ["nil * 2", null],
      ["-NULL", null],
    ]);
  });

  it("numeric text takes part in arithmetic; + is never concatenation", () => {
    table([
      ["num_text + 5", 15],
      ["'2.5' * 2", 5],
      ["' 7 ' + 1", 8],
      ["'1' + '1'", 2],
      ["flag + 1", 2],
    ]);
  });

  it("arithmetic on non-numeric text is an evaluation error with the column", () => {
    const v = compileExpression("qty + text", { path: "target.fields[0].value" });
    expect(() => v.evaluate({ record, vars })).toThrow(TemplateEvalError);
    try {
      v.evaluate({ record, vars });
    } catch (e) {
      const err = e as TemplateEvalError;
      expect(err.details).toMatchObject({ path: "target.fields[0].value", source: "qty + text", position: 5, reason: "'abc' is not a number" });
      expect(err.hint).toMatch(/IFNULL/);
      expect(err.message).toContain("column 5");
    }
    expect(() => ev("empty * 2")).toThrow(TemplateEvalError);
    expect(() => ev("items + 1")).toThrow(/an array is not a number/);
  });
});

describe("comparison", () => {
  it("numbers, text, numeric text and NULL", () => {
    table([
      ["1 = 1", true],
      ["1 = 2", false],
      ["1 <> 2", true],
      ["1 != 1", false],
      ["2 < 3", true],
      ["3 <= 3", true],
      ["4 > 3", true],
      ["3 >= 4", false],
      ["'abc' = 'abc'", true],
      ["'abc' < 'abd'", true],
      ["'10' = 10", true],
      ["num_text > 9", true],
      ["'9' < 10", true],
      ["'9' < '10'", false],
      ["1 = NULL", null],
      ["NULL = NULL", null],
      ["NULL <> 1", null],
      ["flag = 1", true],
      ["'2024-01-02' > '2024-01-01'", true],
      ["NOW() > '2024-01-01 00:00:00'", true],
      ["CURDATE() = '2024-01-02'", true],
    ]);
  });

  it("non-numeric text against a number compares as text, never as MySQL's silent 0", () => {
    table([
      ["'abc' = 0", false],
      ["text = 0", false],
    ]);
  });

  it("text comparison is binary (case-sensitive)", () => {
    expect(ev("'a' = 'A'")).toBe(false);
  });

  it("IS [NOT] NULL / TRUE / FALSE", () => {
    table([
      ["nil IS NULL", true],
      ["missing IS NULL", true],
      ["qty IS NULL", false],
      ["qty IS NOT NULL", true],
      ["NULL IS NOT NULL", false],
      ["1 IS TRUE", true],
      ["0 IS FALSE", true],
      ["NULL IS TRUE", false],
      ["NULL IS NOT TRUE", true],
    ]);
  });

  it("IN / NOT IN with NULL semantics", () => {
    table([
      ["2 IN (0, 3, 5, 2)", true],
      ["'wefwf' IN ('wee', 'wefwf', 'weg')", true],
      ["7 IN (0, 3)", false],
      ["1 IN (1, NULL)", true],
      ["1 IN (2, NULL)", null],
      ["NULL IN (1, 2)", null],
      ["7 NOT IN (0, 3)", true],
      ["3 NOT IN (0, 3)", false],
      ["1 NOT IN (2, NULL)", null],
      ["'10' IN (10, 20)", true],
    ]);
  });

  it("BETWEEN / NOT BETWEEN", () => {
    table([
      ["2 BETWEEN 1 AND 3", true],
      ["2 BETWEEN 3 AND 1", false],
      ["1 BETWEEN 2 AND 3", false],
      ["'b' BETWEEN 'a' AND 'c'", true],
      ["2 BETWEEN 2 AND '3'", true],
      ["2 BETWEEN NULL AND 3", null],
      ["5 BETWEEN NULL AND 3", false],
      ["5 NOT BETWEEN 1 AND 3", true],
      ["qty BETWEEN 1 AND 5 AND price > 10", true],
    ]);
  });

  it("LIKE with % and _, escapes, NOT LIKE", () => {
    table([
      ["'David!' LIKE 'David_'", true],
      ["'David!' LIKE '%D%v%'", true],
      ["'David!' LIKE 'David\\_'", false],
      ["'David_' LIKE 'David\\_'", true],
      ["'100%' LIKE '100\\%'", true],
      ["'abc' LIKE 'ABC'", false],
      ["'' LIKE '%'", true],
      ["'abc' LIKE ''", false],
      ["'中文测试' LIKE '中_测%'", true],
      ["'a😀b' LIKE 'a_b'", true],
      ["'SO-123' NOT LIKE 'SO-%'", false],
      ["text LIKE CONCAT('a', '%')", true],
      ["NULL LIKE '%'", null],
      ["123 LIKE '1%'", true],
      ["'aaaaaaaaaaaaaaaaaaaaaaaaaaaaab' LIKE '%a%a%a%a%a%a%b'", true],
    ]);
  });
});

describe("logic (three-valued)", () => {
  it("AND / OR / NOT / XOR / && / || / !", () => {
    table([
      ["1 AND 1", true],
      ["1 AND 0", false],
      ["1 AND NULL", null],
      ["0 AND NULL", false],
      ["NULL AND 0", false],
      ["1 OR 0", true],
      ["0 OR 0", false],
      ["1 OR NULL", true],
      ["0 OR NULL", null],
      ["NOT 10", false],
      ["NOT 0", true],
      ["NOT NULL", null],
      ["! (1 + 1)", false],
      ["1 XOR 1", false],
      ["1 XOR 0", true],
      ["1 XOR NULL", null],
      ["1 && 0", false],
      ["0 || 1", true],
      ["NOT qty > 5", true],
      ["qty > 1 AND price < 20 OR text = 'zzz'", true],
      ["'abc' AND 1", false],
      ["'2 pcs' AND 1", true],
    ]);
  });

  it("AND and OR short-circuit the right side", () => {
    // The right side would fail (non-numeric arithmetic) if evaluated.
    expect(ev("0 AND text + 1")).toBe(false);
    expect(ev("1 OR text + 1")).toBe(true);
  });

  it("a condition on an array is an error", () => {
    expect(() => ev("IF(items, 1, 0)")).toThrow(/cannot be used as a condition/);
  });
});

describe("CASE and control-flow functions", () => {
  it("searched and simple CASE", () => {
    table([
      ["CASE 1 WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'more' END", "one"],
      ["CASE 3 WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'more' END", "more"],
      ["CASE 3 WHEN 1 THEN 'one' END", null],
      ["CASE WHEN 1 > 0 THEN 'true' ELSE 'false' END", "true"],
      ["CASE WHEN qty > 5 THEN 'big' WHEN qty > 2 THEN 'mid' ELSE 'small' END", "mid"],
      ["CASE NULL WHEN NULL THEN 'null' ELSE 'no match' END", "no match"],
      ["CASE '10' WHEN 10 THEN 'numeric text matches' END", "numeric text matches"],
      ["case left('AD123', 2) when 'AD' then 100 when 'BB' then 101 else 103 end", 100],
      ["CASE LOCATE('x', text) WHEN 0 THEN 'absent' ELSE 'present' END", "absent"],
    ]);
  });

  it("IF / IFNULL / COALESCE / NULLIF / ISNULL / GREATEST / LEAST", () => {
    table([
      ["IF(1 > 2, 2, 3)", 3],
      ["IF(1 < 2, 'yes', 'no')", "yes"],
      ["IF(NULL, 'yes', 'no')", "no"],
      ["IFNULL(1, 0)", 1],
      ["IFNULL(NULL, 10)", 10],
      ["IFNULL(missing, 'dflt')", "dflt"],
      ["COALESCE(NULL, 1)", 1],
      ["COALESCE(NULL, NULL, NULL)", null],
      ["COALESCE(nil, missing, qty)", 3],
      ["NULLIF(1, 1)", null],
      ["NULLIF(1, 2)", 1],
      ["NULLIF(empty, '')", null],
      ["ISNULL(1 / 0)", true],
      ["ISNULL(1)", false],
      ["GREATEST(2, 0)", 2],
      ["GREATEST(34.0, 3.0, 5.0, 767.0)", 767],
      ["GREATEST('B', 'A', 'C')", "C"],
      ["LEAST(2, 0)", 0],
      ["LEAST('B', 'A', 'C')", "A"],
      ["LEAST(1, NULL)", null],
    ]);
  });

  it("IF evaluates only the chosen branch", () => {
    expect(ev("IF(1, 'ok', text * 2)")).toBe("ok");
  });
});

describe("syntax conveniences", () => {
  it("case-insensitive keywords and functions, spaces before parentheses, comments, backtick names", () => {
    table([
      ["concat('a', 'b')", "ab"],
      ["Concat ('a', 'b')", "ab"],
      ["case when true then 1 end", 1],
      ["1 + /* inline */ 2", 3],
      ["1 + 2 -- trailing comment", 3],
      ["`qty` * 2", 6],
    ]);
    expect(ev("`end` + 1", { end: 1 })).toBe(2);
    expect(ev("`a.b`", { "a.b": "dotted key" })).toBe("dotted key");
  });

  it("multi-line expressions", () => {
    expect(ev("CASE\n  WHEN qty > 1 THEN 'many'\n  ELSE 'one'\nEND")).toBe("many");
  });
});
