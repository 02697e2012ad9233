/**
 * The function library (MySQL semantics unless noted in docs/template-language.md). Each entry states its
 * arity, checked at compile time, and builds a closure from its argument closures. Helpers throw
 * ValueError; the evaluator turns that into a TemplateEvalError at the call's column.
 */
import type { Eval } from "./context.ts";
import { zoneOf } from "./context.ts";
import {
  addInterval,
  applyDateFormat,
  cachedDateFormat,
  compileDateFormat,
  dateDiff,
  dateOf,
  formatSqlDate,
  lastDay,
  toDate,
  wallClock,
  type DateFormat,
  type IntervalUnit,
} from "./dates.ts";
import type { EvalScope } from "./types.ts";
import { MAX_STRING, SqlDate, ValueError, modulo, numberToText, roundHalfAway, toInt, toNumber, toText, truncateDecimal, truth } from "./values.ts";
import { compare, compareNumericText } from "./compare.ts";
import { UNIT_PRICE_MAX_DECIMALS, unitPrice } from "./unit-price.ts";
import { utf8Length } from "../util/utf8.ts";

/** What INTERVAL n UNIT evaluates to (only DATE_ADD/DATE_SUB and date ± INTERVAL consume it). */
export class IntervalValue {
  readonly amount: number | null;
  readonly unit: IntervalUnit;
  constructor(amount: number | null, unit: IntervalUnit) {
    this.amount = amount;
    this.unit = unit;
  }
}

export interface CallInfo {
  /** The constant value of argument `i` when it is a literal, else NOT_CONSTANT. */
  constant(i: number): unknown;
  /** True when argument `i` is an unquoted field read (numeric text then compares as a number). */
  fieldRead?(i: number): boolean;
}

export const NOT_CONSTANT = Symbol("not constant");

export interface FunctionSpec {
  min: number;
  max: number;
  usage?: string;
  /** Argument 2 may be INTERVAL n UNIT. */
  interval?: boolean;
  /** SUM/AVG/MIN/MAX/COUNT: compiled by the evaluator (per-line scope). */
  aggregate?: boolean;
  build?: (args: Eval[], info: CallInfo) => Eval;
}

// ---- helpers ----

function text(v: unknown, s: EvalScope): string | null {
  return toText(v, zoneOf(s), formatSqlDate);
}

function bounded(out: string): string {
  if (out.length > MAX_STRING)
    throw new ValueError(`text longer than ${MAX_STRING} characters`, "The result would be too large; check the lengths and counts.");
  return out;
}

const SURROGATE = /[\uD800-\uDFFF]/;

function charLength(str: string): number {
  if (!SURROGATE.test(str)) return str.length;
  let n = 0;
  for (const _ of str) n++;
  return n;
}

/** Slice by characters (code points), 0-based, end exclusive. */
function charSlice(str: string, start: number, end?: number): string {
  if (!SURROGATE.test(str)) return str.slice(start, end);
  return Array.from(str).slice(start, end).join("");
}

function trimSpaces(str: string, left: boolean, right: boolean): string {
  let a = 0;
  let b = str.length;
  if (left) while (a < b && str.charCodeAt(a) === 32) a++;
  if (right) while (b > a && str.charCodeAt(b - 1) === 32) b--;
  return str.slice(a, b);
}

function pad(str: string, length: number | null, fill: string | null, left: boolean): string | null {
  if (length === null || fill === null) return null;
  if (length < 0) return null;
  if (length > MAX_STRING) throw new ValueError(`padding to ${length} characters is over the ${MAX_STRING} limit`);
  const have = charLength(str);
  if (have >= length) return charSlice(str, 0, length);
  if (fill === "") return null;
  const need = length - have;
  const fillLength = charLength(fill);
  const padding = charSlice(fill.repeat(Math.ceil(need / fillLength)), 0, need);
  return left ? padding + str : str + padding;
}

function locate(sub: string, str: string, from: number): number {
  if (from < 1) return 0;
  if (!SURROGATE.test(str) && !SURROGATE.test(sub)) {
    if (from - 1 > str.length) return 0;
    const i = str.indexOf(sub, from - 1);
    return i < 0 ? 0 : i + 1;
  }
  const chars = Array.from(str);
  if (from - 1 > chars.length) return 0;
  const offset = chars.slice(0, from - 1).join("").length;
  const i = str.indexOf(sub, offset);
  return i < 0 ? 0 : charLength(str.slice(0, i)) + 1;
}

function substring(str: string, pos: number, len: number | undefined): string {
  const total = charLength(str);
  if (pos === 0 || (len !== undefined && len < 1)) return "";
  const start = pos > 0 ? pos - 1 : total + pos;
  if (start < 0 || start >= total) return "";
  return charSlice(str, start, len === undefined ? undefined : start + len);
}

function substringIndex(str: string, delim: string, count: number): string {
  if (count === 0 || delim === "") return "";
  if (count > 0) {
    let at = -delim.length;
    for (let n = 0; n < count; n++) {
      at = str.indexOf(delim, at + delim.length);
      if (at < 0) return str;
    }
    return str.slice(0, at);
  }
  let at = str.length;
  for (let n = 0; n < -count; n++) {
    if (at === 0) return str;
    at = str.lastIndexOf(delim, at - delim.length);
    if (at < 0) return str;
  }
  return str.slice(at + delim.length);
}

function replaceAll(str: string, from: string, to: string): string {
  if (from === "") return str;
  let count = 0;
  for (let i = str.indexOf(from); i >= 0; i = str.indexOf(from, i + from.length)) count++;
  if (count === 0) return str;
  if (str.length + count * (to.length - from.length) > MAX_STRING) throw new ValueError(`REPLACE result longer than ${MAX_STRING} characters`);
  return str.split(from).join(to);
}

function formatNumber(x: number, digits: number): string {
  const d = Math.max(0, Math.min(30, digits));
  const r = roundHalfAway(x, d);
  const fixed = Math.abs(r) >= 1e21 ? numberToText(r) : r.toFixed(d);
  const negative = fixed.startsWith("-");
  const body = negative ? fixed.slice(1) : fixed;
  const dot = body.indexOf(".");
  const int = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? "" : body.slice(dot);
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative && r !== 0 ? "-" : "") + grouped + frac;
}

/** MySQL's FROM_UNIXTIME range (1970 … 3001-01-18); outside it the result is NULL. */
const MAX_UNIX = 32_536_771_199;

function nowSeconds(s: EvalScope): number {
  return Math.floor(s.vars.currentTime / 1000);
}

// ---- builders ----

type Builder = (args: Eval[], info: CallInfo) => Eval;

/** All-null-in/null-out wrappers for eager functions. */
function unary(f: (v: unknown, s: EvalScope) => unknown): Builder {
  return ([a]) =>
    (s) => {
      const v = a!(s);
      return v === null || v === undefined ? null : f(v, s);
    };
}

function binary(f: (x: unknown, y: unknown, s: EvalScope) => unknown): Builder {
  return ([a, b]) =>
    (s) => {
      const x = a!(s);
      if (x === null || x === undefined) return null;
      const y = b!(s);
      return y === null || y === undefined ? null : f(x, y, s);
    };
}

function ternary(f: (x: unknown, y: unknown, z: unknown, s: EvalScope) => unknown): Builder {
  return ([a, b, c]) =>
    (s) => {
      const x = a!(s);
      const y = b!(s);
      const z = c!(s);
      return x == null || y == null || z == null ? null : f(x, y, z, s);
    };
}

function numeric(f: (n: number) => number): Builder {
  return unary((v) => {
    const r = f(toNumber(v)!);
    return r === 0 ? 0 : r;
  });
}

function dateField(f: (d: SqlDate, s: EvalScope) => unknown): Builder {
  return unary((v, s) => f(toDate(v, zoneOf(s))!, s));
}

function wall(field: "year" | "month" | "day" | "hour" | "minute" | "second"): Builder {
  return dateField((d, s) => wallClock(d.ms, zoneOf(s))[field]);
}

const now: Builder = () => (s) => new SqlDate(nowSeconds(s) * 1000, false);
const curdate: Builder = () => (s) => dateOf(s.vars.currentTime, zoneOf(s));

function dateShift(sign: 1 | -1, daysAllowed: boolean): Builder {
  return ([a, b]) =>
    (s) => {
      const zone = zoneOf(s);
      const d = toDate(a!(s), zone);
      const raw = b!(s);
      if (d === null || raw === null || raw === undefined) return null;
      let amount: number | null;
      let unit: IntervalUnit;
      if (raw instanceof IntervalValue) {
        amount = raw.amount;
        unit = raw.unit;
      } else if (daysAllowed) {
        amount = toNumber(raw);
        unit = "DAY";
      } else throw new ValueError("the second argument must be INTERVAL n UNIT");
      if (amount === null) return null;
      return addInterval(d, sign * amount, unit, zone);
    };
}

function extreme(direction: 1 | -1): Builder {
  return (args, info) => {
    const cmp = info.fieldRead && args.some((_, i) => info.fieldRead!(i)) ? compareNumericText : compare;
    return (s) => {
      let best: unknown = null;
      for (const a of args) {
        const v = a(s);
        if (v === null || v === undefined) return null;
        if (best === null || cmp(v, best, zoneOf(s))! * direction > 0) best = v;
      }
      return best;
    };
  };
}

function padBuilder(left: boolean): Builder {
  return ternary((str, len, fill, s) => pad(text(str, s)!, toInt(len), text(fill, s), left));
}

export const FUNCTIONS: Record<string, FunctionSpec> = {
  // control flow
  IF: {
    min: 3,
    max: 3,
    usage: "IF(condition, then, else)",
    build:
      ([c, a, b]) =>
      (s) =>
        truth(c!(s)) === true ? a!(s) : b!(s),
  },
  IFNULL: {
    min: 2,
    max: 2,
    usage: "IFNULL(value, fallback)",
    build:
      ([a, b]) =>
      (s) => {
        const v = a!(s);
        return v === null || v === undefined ? b!(s) : v;
      },
  },
  COALESCE: {
    min: 1,
    max: Infinity,
    build: (args) => (s) => {
      for (const a of args) {
        const v = a(s);
        if (v !== null && v !== undefined) return v;
      }
      return null;
    },
  },
  NULLIF: {
    min: 2,
    max: 2,
    build:
      ([a, b]) =>
      (s) => {
        const x = a!(s);
        return compare(x, b!(s), zoneOf(s)) === 0 ? null : x;
      },
  },
  ISNULL: {
    min: 1,
    max: 1,
    build:
      ([a]) =>
      (s) =>
        a!(s) == null,
  },
  GREATEST: { min: 2, max: Infinity, build: extreme(1) },
  LEAST: { min: 2, max: Infinity, build: extreme(-1) },

  // strings
  CONCAT: {
    min: 1,
    max: Infinity,
    build: (args) => (s) => {
      let out = "";
      for (const a of args) {
        const v = text(a(s), s);
        if (v === null) return null;
        out += v;
        if (out.length > MAX_STRING) bounded(out);
      }
      return out;
    },
  },
  CONCAT_WS: {
    min: 2,
    max: Infinity,
    usage: "CONCAT_WS(separator, a, b, …)",
    build:
      ([sepArg, ...args]) =>
      (s) => {
        const sep = text(sepArg!(s), s);
        if (sep === null) return null;
        let out = "";
        let first = true;
        for (const a of args) {
          const v = text(a(s), s);
          if (v === null) continue;
          out += first ? v : sep + v;
          first = false;
          if (out.length > MAX_STRING) bounded(out);
        }
        return out;
      },
  },
  REPLACE: { min: 3, max: 3, usage: "REPLACE(text, from, to)", build: ternary((a, b, c, s) => replaceAll(text(a, s)!, text(b, s)!, text(c, s)!)) },
  SUBSTRING: { min: 2, max: 3, usage: "SUBSTRING(text, position[, length])", build: substringBuilder },
  SUBSTR: { min: 2, max: 3, usage: "SUBSTR(text, position[, length])", build: substringBuilder },
  MID: { min: 3, max: 3, usage: "MID(text, position, length)", build: substringBuilder },
  LEFT: {
    min: 2,
    max: 2,
    usage: "LEFT(text, n)",
    build: binary((a, n, s) => {
      const k = toInt(n)!;
      return k <= 0 ? "" : charSlice(text(a, s)!, 0, k);
    }),
  },
  RIGHT: {
    min: 2,
    max: 2,
    usage: "RIGHT(text, n)",
    build: binary((a, n, s) => {
      const str = text(a, s)!;
      const k = toInt(n)!;
      if (k <= 0) return "";
      return charSlice(str, Math.max(0, charLength(str) - k));
    }),
  },
  UPPER: { min: 1, max: 1, build: unary((v, s) => text(v, s)!.toUpperCase()) },
  UCASE: { min: 1, max: 1, build: unary((v, s) => text(v, s)!.toUpperCase()) },
  LOWER: { min: 1, max: 1, build: unary((v, s) => text(v, s)!.toLowerCase()) },
  LCASE: { min: 1, max: 1, build: unary((v, s) => text(v, s)!.toLowerCase()) },
  TRIM: { min: 1, max: 1, build: unary((v, s) => trimSpaces(text(v, s)!, true, true)) },
  LTRIM: { min: 1, max: 1, build: unary((v, s) => trimSpaces(text(v, s)!, true, false)) },
  RTRIM: { min: 1, max: 1, build: unary((v, s) => trimSpaces(text(v, s)!, false, true)) },
  LOCATE: {
    min: 2,
    max: 3,
    usage: "LOCATE(substring, text[, start])",
    build:
      ([a, b, c]) =>
      (s) => {
        const sub = text(a!(s), s);
        const str = text(b!(s), s);
        const from = c ? toInt(c(s)) : 1;
        return sub === null || str === null || from === null ? null : locate(sub, str, from);
      },
  },
  INSTR: { min: 2, max: 2, usage: "INSTR(text, substring)", build: binary((str, sub, s) => locate(text(sub, s)!, text(str, s)!, 1)) },
  LENGTH: { min: 1, max: 1, usage: "LENGTH(text): UTF-8 bytes", build: unary((v, s) => utf8Length(text(v, s)!)) },
  CHAR_LENGTH: { min: 1, max: 1, build: unary((v, s) => charLength(text(v, s)!)) },
  CHARACTER_LENGTH: { min: 1, max: 1, build: unary((v, s) => charLength(text(v, s)!)) },
  LPAD: { min: 3, max: 3, usage: "LPAD(text, length, fill)", build: padBuilder(true) },
  RPAD: { min: 3, max: 3, usage: "RPAD(text, length, fill)", build: padBuilder(false) },
  REPEAT: {
    min: 2,
    max: 2,
    usage: "REPEAT(text, count)",
    build: binary((a, n, s) => {
      const str = text(a, s)!;
      const k = toInt(n)!;
      if (k <= 0 || str === "") return "";
      if (str.length * k > MAX_STRING) throw new ValueError(`REPEAT result longer than ${MAX_STRING} characters`);
      return str.repeat(k);
    }),
  },
  REVERSE: { min: 1, max: 1, build: unary((v, s) => Array.from(text(v, s)!).reverse().join("")) },
  SUBSTRING_INDEX: {
    min: 3,
    max: 3,
    usage: "SUBSTRING_INDEX(text, delimiter, count)",
    build: ternary((a, d, n, s) => substringIndex(text(a, s)!, text(d, s)!, toInt(n)!)),
  },
  FORMAT: { min: 2, max: 2, usage: "FORMAT(number, decimals)", build: binary((x, d) => formatNumber(toNumber(x)!, toInt(d)!)) },

  // numbers
  ROUND: {
    min: 1,
    max: 2,
    usage: "ROUND(x[, decimals])",
    build:
      ([a, d]) =>
      (s) => {
        const x = toNumber(a!(s));
        const digits = d ? toInt(d(s)) : 0;
        return x === null || digits === null ? null : roundHalfAway(x, digits);
      },
  },
  UNIT_PRICE: {
    min: 2,
    max: 4,
    usage: "UNIT_PRICE(amount, qty[, amountDecimals[, maxDecimals]])",
    build:
      ([a, q, ad, md]) =>
      (s) => {
        const amount = toNumber(a!(s));
        const qty = toNumber(q!(s));
        const amountDecimals = ad ? toInt(ad(s)) : 2;
        const maxDecimals = md ? toInt(md(s)) : UNIT_PRICE_MAX_DECIMALS;
        if (amount === null || qty === null || amountDecimals === null || maxDecimals === null) return null;
        return unitPrice(amount, qty, amountDecimals, maxDecimals);
      },
  },
  TRUNCATE: { min: 2, max: 2, usage: "TRUNCATE(x, decimals)", build: binary((x, d) => truncateDecimal(toNumber(x)!, toInt(d)!)) },
  FLOOR: { min: 1, max: 1, build: numeric(Math.floor) },
  CEIL: { min: 1, max: 1, build: numeric(Math.ceil) },
  CEILING: { min: 1, max: 1, build: numeric(Math.ceil) },
  ABS: { min: 1, max: 1, build: numeric(Math.abs) },
  SIGN: { min: 1, max: 1, build: numeric(Math.sign) },
  MOD: { min: 2, max: 2, usage: "MOD(a, b)", build: binary((x, y) => modulo(toNumber(x)!, toNumber(y)!)) },

  // dates
  NOW: { min: 0, max: 0, build: now },
  SYSDATE: { min: 0, max: 0, build: now },
  CURRENT_TIMESTAMP: { min: 0, max: 0, build: now },
  LOCALTIME: { min: 0, max: 0, build: now },
  LOCALTIMESTAMP: { min: 0, max: 0, build: now },
  CURDATE: { min: 0, max: 0, build: curdate },
  CURRENT_DATE: { min: 0, max: 0, build: curdate },
  UNIX_TIMESTAMP: {
    min: 0,
    max: 1,
    usage: "UNIX_TIMESTAMP([date])",
    build: ([a]) =>
      a
        ? (s) => {
            const d = toDate(a(s), zoneOf(s));
            return d === null ? null : d.ms / 1000;
          }
        : nowSeconds,
  },
  FROM_UNIXTIME: {
    min: 1,
    max: 2,
    usage: "FROM_UNIXTIME(seconds[, format])",
    build: ([a, f], info) => {
      const fixed = formatConstant(info, 1);
      return (s) => {
        const n = toNumber(a!(s));
        if (n === null || n < 0 || n > MAX_UNIX) return null;
        const ms = Math.round(n * 1000);
        if (!f) return new SqlDate(ms, false);
        const format = fixed ?? formatOf(f(s), s);
        return format === null ? null : applyDateFormat(format, ms, zoneOf(s));
      };
    },
  },
  DATE_FORMAT: {
    min: 2,
    max: 2,
    usage: "DATE_FORMAT(date, '%Y-%m-%d %H:%i:%s')",
    build: ([a, f], info) => {
      const fixed = formatConstant(info, 1);
      return (s) => {
        const zone = zoneOf(s);
        const d = toDate(a!(s), zone);
        if (d === null) return null;
        const format = fixed ?? formatOf(f!(s), s);
        return format === null ? null : applyDateFormat(format, d.ms, zone);
      };
    },
  },
  DATE: { min: 1, max: 1, build: dateField((d, s) => (d.dateOnly ? d : dateOf(d.ms, zoneOf(s)))) },
  DATE_ADD: { min: 2, max: 2, interval: true, usage: "DATE_ADD(date, INTERVAL n DAY)", build: dateShift(1, false) },
  DATE_SUB: { min: 2, max: 2, interval: true, usage: "DATE_SUB(date, INTERVAL n DAY)", build: dateShift(-1, false) },
  ADDDATE: { min: 2, max: 2, interval: true, usage: "ADDDATE(date, INTERVAL n DAY | days)", build: dateShift(1, true) },
  SUBDATE: { min: 2, max: 2, interval: true, usage: "SUBDATE(date, INTERVAL n DAY | days)", build: dateShift(-1, true) },
  DATEDIFF: {
    min: 2,
    max: 2,
    usage: "DATEDIFF(later, earlier)",
    build: binary((x, y, s) => {
      const zone = zoneOf(s);
      return dateDiff(toDate(x, zone)!, toDate(y, zone)!, zone);
    }),
  },
  LAST_DAY: { min: 1, max: 1, build: dateField((d, s) => lastDay(d, zoneOf(s))) },
  YEAR: { min: 1, max: 1, build: wall("year") },
  MONTH: { min: 1, max: 1, build: wall("month") },
  DAY: { min: 1, max: 1, build: wall("day") },
  DAYOFMONTH: { min: 1, max: 1, build: wall("day") },
  HOUR: { min: 1, max: 1, build: wall("hour") },
  MINUTE: { min: 1, max: 1, build: wall("minute") },
  SECOND: { min: 1, max: 1, build: wall("second") },
  DAYOFWEEK: { min: 1, max: 1, usage: "DAYOFWEEK(date): 1 = Sunday … 7 = Saturday", build: dateField((d, s) => wallClock(d.ms, zoneOf(s)).weekday + 1) },
  WEEKDAY: { min: 1, max: 1, usage: "WEEKDAY(date): 0 = Monday … 6 = Sunday", build: dateField((d, s) => (wallClock(d.ms, zoneOf(s)).weekday + 6) % 7) },

  // aggregates over detail arrays (compiled by the evaluator)
  SUM: { min: 1, max: 2, aggregate: true, usage: "SUM(items.qty) or SUM(items, qty * price)" },
  AVG: { min: 1, max: 2, aggregate: true, usage: "AVG(items.price) or AVG(items, expr)" },
  MIN: { min: 1, max: 2, aggregate: true, usage: "MIN(items.price) or MIN(items, expr)" },
  MAX: { min: 1, max: 2, aggregate: true, usage: "MAX(items.price) or MAX(items, expr)" },
  COUNT: { min: 1, max: 2, aggregate: true, usage: "COUNT(items), COUNT(items.sku_id) or COUNT(items, expr)" },
};

function substringBuilder([a, p, l]: Eval[]): Eval {
  return (s) => {
    const str = text(a!(s), s);
    const pos = toInt(p!(s));
    if (str === null || pos === null) return null;
    if (!l) return substring(str, pos, undefined);
    const len = toInt(l(s));
    return len === null ? null : substring(str, pos, len);
  };
}

function formatConstant(info: CallInfo, i: number): DateFormat | null {
  const v = info.constant(i);
  return typeof v === "string" ? compileDateFormat(v) : null;
}

function formatOf(v: unknown, s: EvalScope): DateFormat | null {
  const f = text(v, s);
  return f === null ? null : cachedDateFormat(f);
}

let names: string[] | undefined;

export function functionNames(): string[] {
  names ??= [...Object.keys(FUNCTIONS), "CAST"].sort();
  return names;
}
