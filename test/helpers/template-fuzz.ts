/**
 * Fuzzing for the template language: random and adversarial values are compiled and evaluated against
 * hostile records. The contract checked for every case: the interpreter returns a plain value or throws
 * TemplateSyntaxError (compile) / TemplateEvalError or LookupMissError (evaluate) — never another error,
 * never an "internal error", never the raw expression text, never a function — and Object.prototype and
 * friends are untouched afterwards. Web standards only, so the workerd suite can run it too.
 *
 * `runFuzz(cases, seed)` is deterministic for a seed; a longer security suite can raise `cases`.
 */
import { FUNCTIONS } from "../../shared/template/functions.ts";
import {
  compileValue,
  LookupMissError,
  TemplateEvalError,
  TemplateSyntaxError,
  type CompiledValue,
  type EvalScope,
  type LookupTables,
} from "../../shared/template/index.ts";

export interface FuzzFailure {
  source: string;
  phase: "compile" | "evaluate" | "result";
  problem: string;
}

export interface FuzzReport {
  cases: number;
  compiled: number;
  syntaxErrors: number;
  evalErrors: number;
  lookupMisses: number;
  values: number;
  /** Cases from the valid-AST printer, and how many of them compiled (all should). */
  validGenerated: number;
  validCompiled: number;
  failures: FuzzFailure[];
  slowest: { source: string; ms: number };
  prototypesIntact: boolean;
}

export interface FuzzOptions {
  /** A case slower than this is reported as a failure (no hang). Default 5000 ms. */
  maxCaseMs?: number;
}

type Rand = () => number;

/** mulberry32: small, fast, deterministic. */
export function fuzzRandom(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function int(rand: Rand, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

// ---- hostile data ----

const HOSTILE_JSON = JSON.stringify({
  qty: 3,
  price: 19.9,
  name: 'O\'Brien "quoted" \\ {qty} {{LAST_SYNC_TIME}}',
  date_text: "2024-02-29 23:59:59",
  empty: "",
  nil: null,
  flag: true,
  big_text: "x".repeat(20_000),
  emoji: "a😀b",
  items: [{ sku_id: "A", qty: 2, sale_price: 19.9 }, { sku_id: "B", qty: "1", sale_price: "0.1" }, { sku_id: null, qty: null }, "not an object", [1, 2]],
  nested: { a: { b: { c: [{ d: 1 }] } } },
}).replace(/^\{/, '{"__proto__":{"polluted":"yes","qty":666},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"x":1},');

function hostileRecord(): Record<string, unknown> {
  return JSON.parse(HOSTILE_JSON) as Record<string, unknown>;
}

const TABLE_ROWS = JSON.parse(
  '[{"__proto__":{"FItemID":"proto"},"F_103":"A","FItemID":1},{"content":{"F_103":"B","FItemID":2}},{"F_103":"constructor","FItemID":3}]',
) as Record<string, unknown>[];

const LOOKUPS: LookupTables = { get: (name) => (name === "t" || name === "materials" ? TABLE_ROWS : undefined) };

// ---- generators ----

const FIELDS = [
  "qty",
  "price",
  "name",
  "date_text",
  "empty",
  "nil",
  "flag",
  "missing",
  "items",
  "items.qty",
  "items[0].qty",
  "nested.a.b.c[0].d",
  "__proto__",
  "__proto__.polluted",
  "constructor",
  "constructor.constructor",
  "constructor.prototype",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "parent.qty",
  "big_text",
  "emoji",
];
const PLACEHOLDERS = [
  "{qty}",
  "{{qty}}",
  "{../qty}",
  "{parent.name}",
  "{{LAST_SYNC_TIME}}",
  "{{CURRENT_TIME|datetime}}",
  "{{DAYS_AGO_3|date}}",
  "{{date_text|datetime}}",
  "{{name|timestamp}}",
  "{PAGINATION_START_PAGE}",
  "{{PAGINATION_PAGE_SIZE}}",
  "{__proto__}",
  "{{__proto__}}",
  "{constructor.constructor}",
  "{items[1].sku_id}",
  "{{missing|date}}",
];
const STRINGS = [
  "''",
  "'abc'",
  "'O''Brien'",
  "'a\\'b'",
  '"dq"',
  "'%a_'",
  "'2024-01-31'",
  "'2024-01-31 10:00:00'",
  "'10'",
  "' 7 '",
  "'中文'",
  "'😀'",
  "'{qty}'",
  "'x{qty}y'",
  "'{{date_text|datetime}}'",
  "'%Y-%m-%d %H:%i:%s'",
  "'\\\\'",
  "'{'",
  "'}'",
];
const NUMBERS = ["0", "1", "-1", "2.675", "0.1", "1e3", "1e308", "9007199254740993", "100", "3", "-0.5", ".5", "32536771199", "1700000000"];
const BINARY = ["+", "-", "*", "/", "%", "DIV", "MOD", "=", "<>", "!=", "<", "<=", ">", ">=", "AND", "OR", "XOR", "&&", "||"];
const UNITS = ["SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"];
const FUNCTION_NAMES = Object.keys(FUNCTIONS);

function leaf(rand: Rand): string {
  switch (int(rand, 0, 5)) {
    case 0:
      return pick(rand, NUMBERS);
    case 1:
      return pick(rand, STRINGS);
    case 2:
      return pick(rand, FIELDS);
    case 3:
      return pick(rand, PLACEHOLDERS);
    case 4:
      return pick(rand, ["NULL", "TRUE", "FALSE", "NOW()", "CURDATE()"]);
    default:
      return `\`${pick(rand, ["qty", "__proto__", "constructor", "a.b", "end"])}\``;
  }
}

/** A syntactically valid expression (a random AST printed back to text). */
export function validExpression(rand: Rand, depth: number): string {
  if (depth <= 0 || rand() < 0.25) return leaf(rand);
  const sub = () => validExpression(rand, depth - 1);
  const wrap = (s: string) => (rand() < 0.7 ? `(${s})` : s);
  switch (int(rand, 0, 12)) {
    case 0:
      return `${pick(rand, ["-", "NOT ", "!"])}${wrap(sub())}`;
    case 1:
    case 2:
      return `${wrap(sub())} ${pick(rand, BINARY)} ${wrap(sub())}`;
    case 3:
      return `${wrap(sub())} IS ${rand() < 0.5 ? "NOT " : ""}${pick(rand, ["NULL", "TRUE", "FALSE"])}`;
    case 4:
      return `${wrap(sub())} ${rand() < 0.3 ? "NOT " : ""}IN (${Array.from({ length: int(rand, 1, 4) }, sub).join(", ")})`;
    case 5:
      // BETWEEN's bounds stop at AND/OR, so they are always parenthesised.
      return `(${sub()}) ${rand() < 0.3 ? "NOT " : ""}BETWEEN (${sub()}) AND (${sub()})`;
    case 6:
      return `${wrap(sub())} ${rand() < 0.3 ? "NOT " : ""}LIKE ${wrap(sub())}`;
    case 7: {
      const whens = Array.from({ length: int(rand, 1, 3) }, () => ` WHEN ${sub()} THEN ${sub()}`).join("");
      return `CASE${rand() < 0.5 ? ` ${sub()}` : ""}${whens}${rand() < 0.6 ? ` ELSE ${sub()}` : ""} END`;
    }
    case 8: {
      const name = pick(rand, ["DATE_ADD", "DATE_SUB", "ADDDATE", "SUBDATE"]);
      return `${name}(${sub()}, INTERVAL ${wrap(sub())} ${pick(rand, UNITS)})`;
    }
    case 9:
      return `CAST(${sub()} AS ${pick(rand, ["CHAR", "SIGNED", "UNSIGNED", "DECIMAL(10,2)", "DECIMAL", "DATE", "DATETIME", "SIGNED INTEGER"])})`;
    case 10:
      return rand() < 0.5
        ? `${pick(rand, ["SUM", "AVG", "MIN", "MAX", "COUNT"])}(${pick(rand, ["items", "{items}", "{../items}", "nested.a.b.c", "missing"])}, ${sub()})`
        : `${pick(rand, ["SUM", "AVG", "MIN", "MAX", "COUNT"])}(${pick(rand, ["items.qty", "items.sale_price", "items", "{{items.qty}}", "nested.a.b.c.d", "qty"])})`;
    case 11:
      return `_findCollection find ${pick(rand, ["FItemID", "content.FItemID", "__proto__", "constructor"])} from ${pick(rand, ["t", "materials", "nope"])} where ${pick(rand, ["F_103", "content.F_103", "__proto__"])}=${pick(rand, ["{{name}}", "{qty}", "'A'", "B", "constructor"])} _endFind`;
    default: {
      const name = pick(
        rand,
        FUNCTION_NAMES.filter((n) => !FUNCTIONS[n]!.aggregate),
      );
      const spec = FUNCTIONS[name]!;
      const count = int(rand, spec.min, Math.min(spec.max, spec.min + 3));
      const args = Array.from({ length: count }, (_, i) => (spec.interval && i === 1 && rand() < 0.7 ? `INTERVAL ${sub()} ${pick(rand, UNITS)}` : sub()));
      return `${rand() < 0.5 ? name : name.toLowerCase()}(${args.join(", ")})`;
    }
  }
}

const SOUP = [
  "(",
  ")",
  ",",
  "'",
  '"',
  "`",
  "{",
  "}",
  "{{",
  "}}",
  "|",
  "datetime",
  "_findCollection",
  "_endFind",
  "find",
  "from",
  "where",
  "=",
  "INTERVAL",
  "DAY",
  "CASE",
  "WHEN",
  "THEN",
  "ELSE",
  "END",
  "AND",
  "OR",
  "NOT",
  "IN",
  "BETWEEN",
  "LIKE",
  "IS",
  "NULL",
  "%",
  "_",
  "\\",
  "/*",
  "*/",
  "-- ",
  "+",
  "-",
  "*",
  "/",
  ".",
  "[",
  "]",
  "[0]",
  "0",
  "1.5",
  "9".repeat(400),
  "😀",
  "\u0000",
  "\n",
  "\u3000",
  "__proto__",
  "constructor",
  "prototype",
  "qty",
  "items",
  "CONCAT",
  "REPLACE",
  "SUM",
  "DATE_FORMAT",
  "LPAD",
  "REPEAT",
  "_function",
  "_mongoQuery",
  "$eq",
  '{"a":1}',
  "<=>",
  "#",
  "@",
  "?",
  ":",
  ";",
  "&",
  "^",
  "~",
  "LAST_SYNC_TIME",
  "DAYS_AGO_999999",
  "PAGINATION_PAGE_SIZE",
];

function tokenSoup(rand: Rand): string {
  const n = int(rand, 1, 30);
  let out = "";
  for (let i = 0; i < n; i++) out += pick(rand, SOUP) + (rand() < 0.6 ? " " : "");
  return out;
}

/** Hand-picked hostile values: bombs, deep nesting, prototype paths. */
export const ADVERSARIAL: readonly string[] = [
  `_function ${"(".repeat(10_000)}1${")".repeat(10_000)}`,
  `_function ${"NOT ".repeat(2_000)}1`,
  `_function ${"-".repeat(5_000)}1`,
  `_function ${"1 + ".repeat(2_400)}1`,
  `_function ${"ABS(".repeat(500)}1${")".repeat(500)}`,
  `_function '${"a".repeat(20_000)}'`,
  `_function ${"9".repeat(5_000)}`,
  `_function ${"CONCAT(".repeat(60)}'x'${", REPEAT('y', 900000))".repeat(60)}`,
  "_function REPEAT(REPEAT('x', 1000000), 1000000)",
  "_function REPEAT('ab', 9007199254740991)",
  "_function LPAD('x', 1e15, 'y')",
  "_function RPAD('x', 1048576, REPEAT('ab', 524288))",
  "_function REPLACE(REPEAT('a', 1000000), 'a', REPEAT('b', 1000))",
  "_function REPEAT('a', 1000000) LIKE CONCAT(REPEAT('%a', 3000), 'b')",
  "_function big_text LIKE '%x%x%x%x%x%x%x%x%x%x%x%x%y'",
  "_function LENGTH(REPEAT('😀', 262144))",
  "_function REVERSE(REPEAT('😀', 262144))",
  "_function DATE_ADD('2024-01-01', INTERVAL 1e300 DAY)",
  "_function DATE_ADD('9999-12-31 23:59:59', INTERVAL 1 SECOND)",
  "_function DATE_SUB('0001-01-01', INTERVAL 1 DAY)",
  "_function FROM_UNIXTIME(1e300)",
  "_function FROM_UNIXTIME(32536771199, REPEAT('%W', 100000))",
  "_function ROUND(1e308, 30)",
  "_function ROUND(1, -400)",
  "_function FORMAT(1e308, 30)",
  "_function TRUNCATE(-1e-300, 400)",
  "_function 1e308 * 10",
  "_function SUBSTRING(big_text, -1e308, 1e308)",
  "_function LOCATE('y', big_text, 1e300)",
  "_function SUM(items, SUM(items, SUM(items, SUM(items, qty))))",
  "_function __proto__",
  "_function __proto__.polluted",
  "_function constructor.constructor",
  "_function `__proto__`",
  "_function `constructor`",
  "_function prototype.x",
  "_function hasOwnProperty",
  "_function CONCAT(__proto__, constructor, toString)",
  "{__proto__}",
  "{__proto__.polluted}",
  "{{__proto__}}",
  "{constructor.prototype.polluted}",
  "{{constructor|datetime}}",
  '_mongoQuery table=t findField=__proto__ where={"__proto__":{"$eq":"x"}}',
  '_mongoQuery table=t findField=FItemID where={"F_103":{"$in":["{__proto__}","A"]}}',
  '_mongoQuery table=t findField=FItemID where={"constructor":{"$ne":null}}',
  "_findCollection find constructor from t where __proto__=1",
  "_findCollection find FItemID from t where F_103=constructor",
  `_function ${"SUM(items, ".repeat(40)}qty${")".repeat(40)}`,
  `{{${"a".repeat(5000)}}}`,
  `${"{".repeat(5000)}${"}".repeat(5000)}`,
  `${"{qty}".repeat(20_000)}`,
  `${"{big_text}".repeat(60)}`,
];

function mutate(rand: Rand, text: string): string {
  const chars = Array.from(text);
  const n = int(rand, 1, 4);
  for (let i = 0; i < n && chars.length > 0; i++) {
    const at = int(rand, 0, chars.length - 1);
    const op = int(rand, 0, 2);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, pick(rand, SOUP));
    else [chars[at], chars[chars.length - 1 - at]] = [chars[chars.length - 1 - at]!, chars[at]!];
  }
  return chars.join("");
}

function templateValue(rand: Rand): string {
  const n = int(rand, 1, 5);
  let out = "";
  for (let i = 0; i < n; i++)
    out += rand() < 0.5 ? pick(rand, PLACEHOLDERS) : pick(rand, ["-", " ", "text", "{", "}", '{"a":1}', "中文", "{bad key}", "{{", "}}", "|"]);
  return out;
}

export interface FuzzCase {
  source: string;
  valid: boolean;
}

export function generateCase(rand: Rand): FuzzCase {
  const r = rand();
  if (r < 0.4) return { source: `_function ${validExpression(rand, int(rand, 1, 6))}`, valid: true };
  if (r < 0.55) return { source: `_function ${tokenSoup(rand)}`, valid: false };
  if (r < 0.65) return { source: tokenSoup(rand), valid: false };
  if (r < 0.8) return { source: mutate(rand, `_function ${validExpression(rand, int(rand, 1, 4))}`), valid: false };
  if (r < 0.9) return { source: templateValue(rand), valid: false };
  return { source: pick(rand, ADVERSARIAL), valid: false };
}

// ---- the run ----

const PROTOTYPES: [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ["Number.prototype", Number.prototype],
];

function snapshot(): string {
  return PROTOTYPES.map(([name, proto]) => `${name}:${Reflect.ownKeys(proto).map(String).sort().join(",")}`).join("|");
}

function checkResult(value: unknown, compiled: CompiledValue): string | null {
  if (typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") return `returned a ${typeof value}`;
  if (typeof value === "number" && !Number.isFinite(value)) return `returned ${value}`;
  if (compiled.kind !== "literal" && typeof value === "string" && value === compiled.source) return "returned the raw source text";
  if (compiled.kind === "function" && typeof value === "string" && value.length > 1_048_576) return `returned ${value.length} characters`;
  return null;
}

export function runFuzz(cases: number, seed: number, options: FuzzOptions = {}): FuzzReport {
  const maxCaseMs = options.maxCaseMs ?? 5000;
  const rand = fuzzRandom(seed);
  const before = snapshot();
  const report: FuzzReport = {
    cases,
    compiled: 0,
    syntaxErrors: 0,
    evalErrors: 0,
    lookupMisses: 0,
    values: 0,
    validGenerated: 0,
    validCompiled: 0,
    failures: [],
    slowest: { source: "", ms: 0 },
    prototypesIntact: true,
  };
  const vars = { lastSyncTime: 1_700_000_000_000, currentTime: 1_700_086_400_000, pageIndex: 2, pageSize: 50 };
  for (let i = 0; i < cases; i++) {
    const { source, valid } = generateCase(rand);
    if (valid) report.validGenerated++;
    const started = performance.now();
    let compiled: CompiledValue | undefined;
    try {
      compiled = compileValue(source, { path: `fuzz[${i}]` });
      report.compiled++;
      if (valid) report.validCompiled++;
    } catch (e) {
      if (e instanceof TemplateSyntaxError && !e.message.includes("internal error")) report.syntaxErrors++;
      else report.failures.push({ source, phase: "compile", problem: describeError(e) });
    }
    if (compiled) {
      const scope: EvalScope = { record: hostileRecord(), parent: hostileRecord(), vars, lookups: LOOKUPS, defaultLookupTable: "t" };
      try {
        const value = compiled.evaluate(scope);
        const problem = checkResult(value, compiled);
        if (problem) report.failures.push({ source, phase: "result", problem });
        else report.values++;
      } catch (e) {
        if (e instanceof LookupMissError) report.lookupMisses++;
        else if (e instanceof TemplateEvalError && !e.message.includes("internal error")) report.evalErrors++;
        else report.failures.push({ source, phase: "evaluate", problem: describeError(e) });
      }
    }
    const ms = performance.now() - started;
    if (ms > report.slowest.ms) report.slowest = { source: source.length > 200 ? `${source.slice(0, 200)}…` : source, ms };
    if (ms > maxCaseMs) report.failures.push({ source: source.slice(0, 200), phase: "evaluate", problem: `took ${ms.toFixed(0)} ms` });
  }
  const polluted = ({} as Record<string, unknown>).polluted !== undefined || ([] as unknown as Record<string, unknown>).polluted !== undefined;
  report.prototypesIntact = !polluted && snapshot() === before;
  return report;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split("\n")[0]}`;
  return String(e);
}
