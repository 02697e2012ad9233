import { describe, expect, it } from "vitest";
import { BridgeError } from "../../shared/errors.ts";
import { compileExpression, compileValue, TemplateEvalError, TemplateSyntaxError, type TemplateVars } from "../../shared/template/index.ts";

const PATH = "target.fields[3].children[0].value";
const vars: TemplateVars = { lastSyncTime: 0, currentTime: Date.UTC(2024, 0, 1) };

/** Compiles `source`, expecting a syntax error; returns it. */
function syntaxErrorOf(source: string): TemplateSyntaxError {
  try {
    compileValue(source, { path: PATH });
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateSyntaxError);
    return e as TemplateSyntaxError;
  }
  throw new Error(`no syntax error for ${source}`);
}

/** The 1-based column of the first occurrence of `needle` in `source`. */
function col(source: string, needle: string): number {
  const i = source.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in ${source}`);
  return i + 1;
}

describe("syntax errors carry path, source, 1-based column, expected and a hint", () => {
  const cases: { source: string; at: string; message: RegExp; hint: RegExp }[] = [
    { source: "_function FOO(1)", at: "FOO", message: /unknown function FOO/, hint: /Known functions: .*CONCAT/ },
    { source: "_function CONCT(a, b)", at: "CONCT", message: /unknown function CONCT/, hint: /Did you mean CONCAT\?/ },
    { source: "_function REPLACE(io_date, ' ')", at: "REPLACE", message: /REPLACE takes 3 arguments, got 2/, hint: /REPLACE\(text, from, to\)/ },
    { source: "_function NOW(1)", at: "NOW", message: /NOW takes 0 arguments, got 1/, hint: /./ },
    { source: "_function ROUND()", at: "ROUND", message: /ROUND takes 1 to 2 arguments, got 0/, hint: /ROUND\(x\[, decimals\]\)/ },
    { source: "_function CONCAT('abc, x)", at: "'abc", message: /unterminated string/, hint: /Close the string/ },
    { source: "_function 1 # 2", at: "#", message: /bad token "#"/, hint: /operators are/ },
    { source: "_function 12abc + 1", at: "12abc", message: /bad token "12a"/, hint: /cannot start with a digit/ },
    { source: "_function qty @ 2", at: "@", message: /bad token "@"/, hint: /./ },
    { source: "_function (1 + 2", at: "", message: /expected "\)"/, hint: /./ },
    { source: "_function 1 +", at: "", message: /unexpected end of expression/, hint: /stops too early/ },
    { source: "_function 1 2", at: "2", message: /unexpected number 2/, hint: /missing operator/ },
    { source: "_function CASE WHEN 1 THEN 2", at: "", message: /expected END/, hint: /./ },
    { source: "_function IF(1, 2 3)", at: "3", message: /expected "," or "\)"/, hint: /Separate arguments/ },
    { source: "_function AND 1", at: "AND", message: /unexpected keyword AND/, hint: /`name`/ },
    { source: "_function ", at: "", message: /empty expression/, hint: /_function CONCAT/ },
    { source: "_function DATE_ADD(NOW(), 1 DAY)", at: "DAY", message: /expected "," or "\)"/, hint: /./ },
    { source: "_function DATE_ADD(NOW(), INTERVAL 1 FORTNIGHT)", at: "FORTNIGHT", message: /expected an interval unit/, hint: /INTERVAL n DAY/ },
    { source: "_function INTERVAL 1 DAY", at: "INTERVAL", message: /INTERVAL is only allowed/, hint: /./ },
    { source: "_function CONCAT(INTERVAL 1 DAY)", at: "INTERVAL", message: /INTERVAL is not allowed/, hint: /DATE_ADD/ },
    { source: "_function 1 <=> 1", at: "<=>", message: /bad token/, hint: /<=> is not supported/ },
    { source: "_function SUM(1 + 1, qty)", at: "1 + 1", message: /must name a detail array/, hint: /SUM\(items, qty \* sale_price\)/ },
    { source: "_function CAST(1 AS BLOB)", at: "BLOB", message: /unknown CAST type/, hint: /DECIMAL/ },
    { source: "{{LAST_SYNC_TIME|datetme}}", at: "datetme", message: /unknown filter "datetme"/, hint: /Did you mean datetime\?/ },
    { source: "{{LAST_SYNC_TIM|datetime}}", at: "LAST_SYNC_TIM", message: /unknown variable LAST_SYNC_TIM/, hint: /Did you mean LAST_SYNC_TIME\?/ },
    { source: "{{PAGINATION_PAGE_SIZE|date}}", at: "date", message: /does not apply/, hint: /remove the filter/ },
    { source: "from {{LAST_SYNC_TIME", at: "{{", message: /unterminated \{\{/, hint: /Close the placeholder/ },
    { source: "{{a b}}", at: "a b", message: /not a field path or variable/, hint: /letters, digits/ },
    { source: "_function{io_id}", at: "{", message: /expected a space after _function/, hint: /with a space/ },
    { source: "_function '{{NOPE_NOPE}}'", at: "NOPE_NOPE", message: /unknown variable/, hint: /\{NOPE_NOPE\}/ },
    { source: "_function /* open", at: "/*", message: /unterminated \/\* comment/, hint: /./ },
  ];

  for (const { source, at, message, hint } of cases) {
    it(source, () => {
      const err = syntaxErrorOf(source);
      expect(err.code).toBe("template_syntax");
      expect(err.retryable).toBe(false);
      expect(err).toBeInstanceOf(BridgeError);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(PATH);
      expect(err.hint ?? "").toMatch(hint);
      const details = err.details as { path: string; source: string; position: number; expected: string };
      expect(details.path).toBe(PATH);
      expect(details.source).toBe(source);
      expect(typeof details.expected).toBe("string");
      const expected = at === "" ? source.length + 1 : col(source, at);
      expect(details.position).toBe(expected);
      expect(err.message).toContain(`column ${expected}`);
      // The message quotes the source with a caret under the column.
      const [, line, caret] = err.message.split("\n");
      expect(line!.trim()).toBe(source.trim());
      expect(caret!.indexOf("^") - 2).toBe(Math.min(expected - 1, source.length));
    });
  }
});

describe("bounds", () => {
  it("expressions longer than 10 KB are rejected", () => {
    const long = `_function ${"1 + ".repeat(3000)}1`;
    expect(() => compileValue(long)).toThrow(/longer than 10240/);
  });

  it("nesting deeper than 64 is rejected, 60 is fine", () => {
    expect(compileExpression(`${"(".repeat(60)}1${")".repeat(60)}`).evaluate({ record: {}, vars })).toBe(1);
    expect(() => compileExpression(`${"(".repeat(80)}1${")".repeat(80)}`)).toThrow(/nesting deeper than 64/);
    expect(() => compileExpression(`${"NOT ".repeat(100)}1`)).toThrow(/nesting deeper than 64/);
    expect(() => compileExpression(`${"ABS(".repeat(100)}1${")".repeat(100)}`)).toThrow(/nesting deeper than 64/);
    expect(() => compileExpression(`${"- ".repeat(100)}x`)).toThrow(/nesting deeper than 64/);
  });

  it("very long operator chains are rejected instead of recursing deeply", () => {
    expect(compileExpression(`${"1 + ".repeat(200)}1`).evaluate({ record: {}, vars })).toBe(201);
    expect(() => compileExpression(`${"1 + ".repeat(600)}1`)).toThrow(/too deep/);
  });

  it("numbers out of range are syntax errors", () => {
    expect(() => compileExpression("1e400")).toThrow(/out of range/);
  });

  it("overflowing arithmetic is an evaluation error", () => {
    expect(() => compileExpression("1e300 * 1e300").evaluate({ record: {}, vars })).toThrow(/overflow/);
  });
});

describe("evaluation errors", () => {
  it("name the sub-expression's column and the reason", () => {
    const source = "_function CONCAT(io_id, '-', DATE_FORMAT(remark, '%Y'))";
    const v = compileValue(source, { path: PATH });
    try {
      v.evaluate({ record: { io_id: 1, remark: "soon" }, vars });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateEvalError);
      const err = e as TemplateEvalError;
      expect(err.code).toBe("template_eval");
      expect(err.details).toEqual({ path: PATH, source, position: col(source, "DATE_FORMAT"), reason: "'soon' is not a date" });
      expect(err.hint).toMatch(/YYYY-MM-DD/);
      expect(err.message).toContain(PATH);
    }
  });

  it("a value that is not text is a syntax error, not a crash", () => {
    expect(() => compileValue(42 as unknown as string, { path: PATH })).toThrow(TemplateSyntaxError);
    expect(() => compileExpression(null as unknown as string)).toThrow(TemplateSyntaxError);
  });
});
