/**
 * Compiles the syntax tree to nested closures once; evaluating a value is then plain function calls with
 * no parsing, no regex construction and (outside aggregates and lookups) no allocation.
 */
import { compare, compareNumericText } from "./compare.ts";
import { guard, syntaxError, zoneOf, type CompileCtx, type Eval } from "./context.ts";
import { addInterval, dateOf, toDate } from "./dates.ts";
import { FUNCTIONS, IntervalValue, NOT_CONSTANT, type CallInfo } from "./functions.ts";
import { compileLookup } from "./lookup.ts";
import { startOf, type Node } from "./parser.ts";
import { collect, parsePath, step, type FieldPath } from "./paths.ts";
import { compileInterpolation, compilePlaceholder, fieldReader, noteField, recordAt, templateText, type PlaceholderPart } from "./template.ts";
import type { EvalScope } from "./types.ts";
import { SqlDate, ValueError, add, divide, intDivide, modulo, multiply, roundHalfAway, subtract, toNumber, toText, truth } from "./values.ts";
import { formatSqlDate } from "./dates.ts";

const EMPTY: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);

/** `x [NOT] IN (a, b, …)`: three-valued (a NULL item that matches nothing makes it NULL). */
function compileIn(ctx: CompileCtx, node: Extract<Node, { t: "in" }>): Eval {
  const site = ctx.site;
  const arg = compileNode(ctx, node.arg);
  const list = node.list.map((n) => compileNode(ctx, n));
  const not = node.not;
  const cmp = isFieldRead(node.arg) || node.list.some(isFieldRead) ? compareNumericText : compare;
  return guard(site, node.pos, (s) => {
    const v = arg(s);
    if (v === null || v === undefined) return null;
    const zone = zoneOf(s);
    let sawNull = false;
    for (const item of list) {
      const c = cmp(v, item(s), zone);
      if (c === 0) return !not;
      if (c === null) sawNull = true;
    }
    return sawNull ? null : not;
  });
}

/** `x [NOT] BETWEEN lo AND hi`: inclusive on both ends, three-valued. */
function compileBetween(ctx: CompileCtx, node: Extract<Node, { t: "between" }>): Eval {
  const site = ctx.site;
  const arg = compileNode(ctx, node.arg);
  const lo = compileNode(ctx, node.lo);
  const hi = compileNode(ctx, node.hi);
  const not = node.not;
  const cmp = isFieldRead(node.arg) || isFieldRead(node.lo) || isFieldRead(node.hi) ? compareNumericText : compare;
  return guard(site, node.pos, (s) => {
    const v = arg(s);
    const zone = zoneOf(s);
    const a = cmp(v, lo(s), zone);
    const b = cmp(v, hi(s), zone);
    const r = and3(a === null ? null : a >= 0, b === null ? null : b <= 0);
    return r === null ? null : r !== not;
  });
}

/** `-x`, `+x` (numeric, NULL-preserving; -0 is 0) and `NOT x` (three-valued). */
function compileUnary(ctx: CompileCtx, node: Extract<Node, { t: "neg" | "pos" | "not" }>): Eval {
  const site = ctx.site;
  const arg = compileNode(ctx, node.arg);
  switch (node.t) {
    case "neg":
      return guard(site, node.pos, (s) => {
        const n = toNumber(arg(s));
        return n === null ? null : n === 0 ? 0 : -n;
      });
    case "pos":
      return guard(site, node.pos, (s) => toNumber(arg(s)));
    case "not":
      return guard(site, node.pos, (s) => {
        const t = truth(arg(s));
        return t === null ? null : !t;
      });
  }
}

/** `x IS [NOT] NULL` (true or false, never NULL) and `x IS [NOT] TRUE / FALSE`. */
function compileIs(ctx: CompileCtx, node: Extract<Node, { t: "is" }>): Eval {
  const arg = compileNode(ctx, node.arg);
  const not = node.not;
  if (node.what === "NULL") {
    return (s) => {
      const v = arg(s);
      return (v === null || v === undefined) !== not;
    };
  }
  const want = node.what === "TRUE";
  return guard(ctx.site, node.pos, (s) => (truth(arg(s)) === want) !== not);
}

/** `INTERVAL n UNIT`: a value only where a date is shifted by it (DATE_ADD / DATE_SUB, date ± INTERVAL). */
function compileInterval(ctx: CompileCtx, node: Extract<Node, { t: "interval" }>, allowInterval: boolean): Eval {
  if (!allowInterval)
    throw syntaxError(
      ctx.site,
      node.pos,
      "INTERVAL is only allowed in DATE_ADD / DATE_SUB or as date ± INTERVAL n UNIT",
      "a value",
      "Write DATE_ADD(date, INTERVAL 1 DAY) or date + INTERVAL 1 DAY.",
    );
  const amount = compileNode(ctx, node.amount);
  const unit = node.unit;
  return guard(ctx.site, node.pos, (s) => new IntervalValue(toNumber(amount(s)), unit));
}

export function compileNode(ctx: CompileCtx, node: Node, allowInterval = false): Eval {
  switch (node.t) {
    case "lit": {
      const v = node.v;
      return () => v;
    }
    case "field": {
      noteField(ctx, node.path);
      const read = fieldReader(node.path, ctx);
      return (s) => {
        const v = read(s);
        return v === undefined ? null : v;
      };
    }
    case "ph": {
      const read = compilePlaceholder(ctx, { placeholder: node.ph, index: node.pos, text: node.text });
      return (s) => {
        const v = read(s);
        return v === undefined ? null : v;
      };
    }
    case "str":
      return compileString(ctx, node.parts, node.pos);
    case "neg":
    case "pos":
    case "not":
      return compileUnary(ctx, node);
    case "bin":
      return compileBinary(ctx, node);
    case "is":
      return compileIs(ctx, node);
    case "in":
      return compileIn(ctx, node);
    case "between":
      return compileBetween(ctx, node);
    case "like":
      return compileLike(ctx, node);
    case "case":
      return compileCase(ctx, node);
    case "call":
      return compileCall(ctx, node);
    case "cast":
      return compileCast(ctx, node);
    case "interval":
      return compileInterval(ctx, node, allowInterval);
    case "lookup":
      return compileLookup(node.spec, "null");
  }
}

function and3(a: boolean | null, b: boolean | null): boolean | null {
  if (a === false || b === false) return false;
  return a === null || b === null ? null : true;
}

/** A quoted string: exactly one placeholder gives its text (NULL when missing); mixed text interpolates. */
function compileString(ctx: CompileCtx, parts: (string | PlaceholderPart)[], pos: number): Eval {
  if (parts.length === 1 && typeof parts[0] === "string") {
    const v = parts[0];
    return () => v;
  }
  if (parts.length === 1) {
    const read = compilePlaceholder(ctx, parts[0] as PlaceholderPart);
    return (s) => {
      const v = read(s);
      return v === null || v === undefined ? null : templateText(v, s);
    };
  }
  return compileInterpolation(ctx, parts, pos);
}

function compileBinary(ctx: CompileCtx, node: Extract<Node, { t: "bin" }>): Eval {
  const site = ctx.site;
  const op = node.op;
  const dateArith = (op === "+" || op === "-") && (node.r.t === "interval" || (op === "+" && node.l.t === "interval"));
  const l = compileNode(ctx, node.l, dateArith);
  const r = compileNode(ctx, node.r, dateArith);
  const pos = node.pos;
  if (dateArith) {
    if (node.l.t === "interval" && node.r.t === "interval")
      throw syntaxError(site, pos, "cannot add two intervals", "a date", "Add intervals to a date one at a time.");
    const intervalFirst = node.l.t === "interval";
    const sign = op === "-" ? -1 : 1;
    return guard(site, pos, (s) => {
      const zone = zoneOf(s);
      const iv = (intervalFirst ? l(s) : r(s)) as IntervalValue;
      const d = toDate(intervalFirst ? r(s) : l(s), zone);
      if (d === null || iv.amount === null) return null;
      return addInterval(d, sign * iv.amount, iv.unit, zone);
    });
  }
  switch (op) {
    case "AND":
      return guard(site, pos, (s) => {
        const a = truth(l(s));
        if (a === false) return false;
        const b = truth(r(s));
        if (b === false) return false;
        return a === null || b === null ? null : true;
      });
    case "OR":
      return guard(site, pos, (s) => {
        const a = truth(l(s));
        if (a === true) return true;
        const b = truth(r(s));
        if (b === true) return true;
        return a === null || b === null ? null : false;
      });
    case "XOR":
      return guard(site, pos, (s) => {
        const a = truth(l(s));
        const b = truth(r(s));
        return a === null || b === null ? null : a !== b;
      });
    case "+":
      return arithmetic(ctx, pos, l, r, add);
    case "-":
      return arithmetic(ctx, pos, l, r, subtract);
    case "*":
      return arithmetic(ctx, pos, l, r, multiply);
    case "/":
      return arithmetic(ctx, pos, l, r, divide);
    case "%":
      return arithmetic(ctx, pos, l, r, modulo);
    case "DIV":
      return arithmetic(ctx, pos, l, r, intDivide);
    default:
      return comparison(ctx, pos, op, l, r, isFieldRead(node.l) || isFieldRead(node.r) ? compareNumericText : compare);
  }
}

/** An unquoted field read (`{{x}}`, `{x}`, `x`): QEasy pastes its value into the expression, so numeric text is a number. */
export function isFieldRead(node: Node): boolean {
  return node.t === "field" || (node.t === "ph" && node.ph.kind === "field");
}

function arithmetic(ctx: CompileCtx, pos: number, l: Eval, r: Eval, f: (a: number, b: number) => number | null): Eval {
  const site = ctx.site;
  return guard(site, pos, (s) => {
    const a = l(s);
    const b = r(s);
    if (a === null || a === undefined || b === null || b === undefined) return null;
    return f(toNumber(a)!, toNumber(b)!);
  });
}

function comparison(ctx: CompileCtx, pos: number, op: string, l: Eval, r: Eval, cmp: typeof compare): Eval {
  const test: (c: number) => boolean =
    op === "="
      ? (c) => c === 0
      : op === "<>"
        ? (c) => c !== 0
        : op === "<"
          ? (c) => c < 0
          : op === "<="
            ? (c) => c <= 0
            : op === ">"
              ? (c) => c > 0
              : (c) => c >= 0;
  return guard(ctx.site, pos, (s) => {
    const c = cmp(l(s), r(s), zoneOf(s));
    return c === null ? null : test(c);
  });
}

// ---- LIKE ----

/** Pattern tokens: a character, ANY_ONE (`_`) or ANY_RUN (`%`); `\` escapes the next character. */
type LikeToken = string | 0 | 1;
const ANY_ONE = 0;
const ANY_RUN = 1;
/** Matching is O(text × pattern) at worst; the budget bounds adversarial inputs. */
const LIKE_BUDGET = 5_000_000;

function likeTokens(pattern: string): LikeToken[] {
  const chars = Array.from(pattern);
  const out: LikeToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "\\" && i + 1 < chars.length) out.push(chars[++i]!);
    else if (c === "%") {
      if (out[out.length - 1] !== ANY_RUN) out.push(ANY_RUN);
    } else if (c === "_") out.push(ANY_ONE);
    else out.push(c);
  }
  return out;
}

const SURROGATE = /[\uD800-\uDFFF]/;

function likeMatch(text: string, p: readonly LikeToken[]): boolean {
  const t: ArrayLike<string> = SURROGATE.test(text) ? Array.from(text) : text;
  let ti = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  let steps = 0;
  while (ti < t.length) {
    if (++steps > LIKE_BUDGET) throw new ValueError("LIKE pattern too expensive for this text", "Simplify the pattern (fewer % wildcards).");
    const tok = p[pi];
    if (pi < p.length && tok !== ANY_RUN && (tok === ANY_ONE || tok === t[ti])) {
      ti++;
      pi++;
    } else if (tok === ANY_RUN) {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (p[pi] === ANY_RUN) pi++;
  return pi === p.length;
}

const likeCache = new Map<string, LikeToken[]>();

function compileLike(ctx: CompileCtx, node: Extract<Node, { t: "like" }>): Eval {
  const arg = compileNode(ctx, node.arg);
  const constant = constantText(node.pattern);
  const fixed = constant === null ? null : likeTokens(constant);
  const pattern = fixed ? null : compileNode(ctx, node.pattern);
  const not = node.not;
  return guard(ctx.site, node.pos, (s) => {
    const zone = zoneOf(s);
    const v = toText(arg(s), zone, formatSqlDate);
    if (v === null) return null;
    let tokens = fixed;
    if (!tokens) {
      const p = toText(pattern!(s), zone, formatSqlDate);
      if (p === null) return null;
      tokens = likeCache.get(p) ?? null;
      if (!tokens) {
        tokens = likeTokens(p);
        if (likeCache.size > 256) likeCache.clear();
        likeCache.set(p, tokens);
      }
    }
    return likeMatch(v, tokens) !== not;
  });
}

function constantText(node: Node): string | null {
  if (node.t === "lit" && typeof node.v === "string") return node.v;
  if (node.t === "str" && node.parts.length === 1 && typeof node.parts[0] === "string") return node.parts[0];
  return null;
}

function constantValue(node: Node): unknown {
  if (node.t === "lit") return node.v;
  const text = constantText(node);
  return text === null ? NOT_CONSTANT : text;
}

// ---- CASE ----

function compileCase(ctx: CompileCtx, node: Extract<Node, { t: "case" }>): Eval {
  const subject = node.subject ? compileNode(ctx, node.subject) : null;
  const whens = node.whens.map(([w, t]) => [compileNode(ctx, w), compileNode(ctx, t)] as const);
  const otherwise = node.otherwise ? compileNode(ctx, node.otherwise) : null;
  if (subject) {
    return guard(ctx.site, node.pos, (s) => {
      const v = subject(s);
      if (v !== null && v !== undefined) {
        const zone = zoneOf(s);
        for (const [w, t] of whens) if (compare(v, w(s), zone) === 0) return t(s);
      }
      return otherwise ? otherwise(s) : null;
    });
  }
  return guard(ctx.site, node.pos, (s) => {
    for (const [w, t] of whens) if (truth(w(s)) === true) return t(s);
    return otherwise ? otherwise(s) : null;
  });
}

// ---- calls ----

function compileCall(ctx: CompileCtx, node: Extract<Node, { t: "call" }>): Eval {
  const spec = FUNCTIONS[node.name]!;
  if (spec.aggregate) return compileAggregate(ctx, node);
  const args = node.args.map((a, i) => compileNode(ctx, a, spec.interval === true && i === 1));
  const info: CallInfo = {
    constant: (i) => (node.args[i] ? constantValue(node.args[i]!) : NOT_CONSTANT),
    fieldRead: (i) => (node.args[i] ? isFieldRead(node.args[i]!) : false),
  };
  return guard(ctx.site, node.pos, spec.build!(args, info));
}

function compileCast(ctx: CompileCtx, node: Extract<Node, { t: "cast" }>): Eval {
  const arg = compileNode(ctx, node.arg);
  const scale = node.scale;
  let f: (v: unknown, s: EvalScope) => unknown;
  switch (node.to) {
    case "CHAR":
      f = (v, s) => toText(v, zoneOf(s), formatSqlDate);
      break;
    case "SIGNED":
      f = (v) => roundHalfAway(toNumber(v)!, 0);
      break;
    case "UNSIGNED":
      f = (v) => {
        const n = roundHalfAway(toNumber(v)!, 0);
        if (n < 0) throw new ValueError(`${n} cannot be cast to UNSIGNED`, "Use ABS() or GREATEST(x, 0) first.");
        return n;
      };
      break;
    case "DECIMAL":
      f = (v) => roundHalfAway(toNumber(v)!, scale);
      break;
    case "DATE":
      f = (v, s) => {
        const d = toDate(v, zoneOf(s))!;
        return d.dateOnly ? d : dateOf(d.ms, zoneOf(s));
      };
      break;
    case "DATETIME":
      f = (v, s) => new SqlDate(toDate(v, zoneOf(s))!.ms, false);
      break;
  }
  return guard(ctx.site, node.pos, (s) => {
    const v = arg(s);
    return v === null || v === undefined ? null : f(v, s);
  });
}

// ---- aggregates ----

type Fold = (values: Iterable<unknown>, zone: string) => unknown;

const FOLDS: Record<string, Fold> = {
  SUM: (values) => {
    let total: number | null = null;
    for (const v of values) {
      if (v === null || v === undefined) continue;
      const n = toNumber(v)!;
      total = total === null ? n : add(total, n);
    }
    return total;
  },
  AVG: (values) => {
    let total = 0;
    let count = 0;
    for (const v of values) {
      if (v === null || v === undefined) continue;
      total = add(total, toNumber(v)!);
      count++;
    }
    return count === 0 ? null : divide(total, count);
  },
  MIN: (values, zone) => extreme(values, zone, -1, compare),
  MAX: (values, zone) => extreme(values, zone, 1, compare),
  COUNT: (values) => {
    let count = 0;
    for (const v of values) if (v !== null && v !== undefined) count++;
    return count;
  },
};

/** MIN/MAX over a field path (`MAX({{items.price}})`): values pasted unquoted, so numeric text compares as numbers. */
const FIELD_FOLDS: Record<string, Fold> = {
  ...FOLDS,
  MIN: (values, zone) => extreme(values, zone, -1, compareNumericText),
  MAX: (values, zone) => extreme(values, zone, 1, compareNumericText),
};

function extreme(values: Iterable<unknown>, zone: string, direction: 1 | -1, cmp: typeof compare): unknown {
  let best: unknown = null;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (typeof v === "object" && !(v instanceof SqlDate))
      throw new ValueError("MIN/MAX need scalar values", "Aggregate a field of each line: MAX(items, price).");
    if (best === null || cmp(v, best, zone)! * direction > 0) best = v;
  }
  return best;
}

/** The path of a field argument (`items`, `{items}`, `items.qty`), or null. */
function pathOf(node: Node): FieldPath | null {
  if (node.t === "field") return node.path;
  if (node.t === "ph" && node.ph.kind === "field" && node.ph.filter === undefined) return node.ph.path;
  return null;
}

/**
 * The values an aggregate over a path (`SUM(items.qty)`) folds. Inside a children mapping (`lineArrays`) the path is
 * read from the line, then from each enclosing record outwards (QEasy's line-then-header scope), so a line's
 * `SUM({{items.qty}})` totals the header's items; `../` and `parent.` read the parent as elsewhere.
 */
export function aggregateReader(path: FieldPath, lineArrays: readonly (readonly string[])[] | undefined): (s: EvalScope) => unknown[] {
  const segments = path.segments;
  const rest = path.maybeParent ? segments.slice(1) : segments;
  const values = (root: unknown, segs: readonly (string | number)[]) => {
    const out: unknown[] = [];
    collect(root, segs, 0, out);
    return out;
  };
  if (path.parent) return (s) => values(s.parent, segments);
  if (path.maybeParent) return (s) => (s.parent !== undefined ? values(s.parent, rest) : values(s.record, segments));
  if (!lineArrays || lineArrays.length === 0) return (s) => values(s.record, segments);
  const depth = lineArrays.length;
  const first = segments[0]!;
  return (s) => {
    for (let level = 0; level <= depth; level++) {
      const r = recordAt(s, level);
      if (r === undefined) break;
      const head = step(r, first);
      if (head !== undefined && head !== null) return values(r, segments);
    }
    return values(s.record, segments);
  };
}

/** aggregateReader for a path as text (the unresolved-path check); null when `text` is not a path. */
export function scopedAggregateReader(text: string, lineArrays?: readonly string[]): ((s: EvalScope) => unknown[]) | null {
  const parsed = parsePath(text);
  return parsed ? aggregateReader(parsed, lineArrays && lineArrays.length > 0 ? lineArrays.map((a) => a.split(".")) : undefined) : null;
}

function compileAggregate(ctx: CompileCtx, node: Extract<Node, { t: "call" }>): Eval {
  const fold = FOLDS[node.name]!;
  const [first, second] = node.args as [Node, Node | undefined];
  const path = pathOf(first);
  const site = ctx.site;
  if (second) {
    if (!path) {
      throw syntaxError(
        site,
        startOf(first),
        `the first argument of ${node.name}(array, expression) must name a detail array`,
        "a field such as items",
        `Write ${node.name}(items, qty * sale_price): names in the expression read each line.`,
      );
    }
    noteField(ctx, path);
    const readArray = fieldReader(path, ctx);
    const outerPrefix = ctx.prefix;
    ctx.prefix = `${path.parent || outerPrefix === "" ? path.text : outerPrefix + path.text}[].`;
    const perLine = compileNode(ctx, second);
    ctx.prefix = outerPrefix;
    return guard(site, node.pos, (s) => {
      const lines = readArray(s);
      if (lines === null || lines === undefined) return fold([], zoneOf(s));
      if (!Array.isArray(lines))
        throw new ValueError(`${path.text} is not an array`, `${node.name}(array, expression) aggregates over the lines of a detail array.`);
      const lineScope: EvalScope = { record: EMPTY, parent: s.record, vars: s.vars, lookups: s.lookups, defaultLookupTable: s.defaultLookupTable };
      const values: unknown[] = [];
      for (const line of lines) {
        lineScope.record = line !== null && typeof line === "object" && !Array.isArray(line) ? (line as Record<string, unknown>) : EMPTY;
        values.push(perLine(lineScope));
      }
      return fold(values, zoneOf(s));
    });
  }
  if (path) {
    noteField(ctx, path);
    (ctx.aggregates ??= new Set()).add(path.parent || ctx.prefix === "" ? path.text : ctx.prefix + path.text);
    const readValues = aggregateReader(path, ctx.prefix === "" ? ctx.site.lineArrays : undefined);
    const fieldFold = FIELD_FOLDS[node.name]!;
    return guard(site, node.pos, (s) => fieldFold(readValues(s), zoneOf(s)));
  }
  const arg = compileNode(ctx, first);
  return guard(site, node.pos, (s) => {
    const v = arg(s);
    return fold(Array.isArray(v) ? v : [v], zoneOf(s));
  });
}
