/**
 * Lookups against preloaded reference tables:
 *   _mongoQuery [table=NAME] findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}
 *   _findCollection find FIELD from TABLE where a={{x}} [and] b={y} [_endFind]
 * Both find the first row (table order) where every condition holds and return one field of it.
 * Row paths `content.X` read `row.content.X` when present, otherwise `row.X` (QEasy stored rows under
 * `content`; our tables are flat). Equality compares primitives by their text, so 1001 matches "1001".
 * An index per (table rows, path) is built on first use, so a page of lines costs one hash probe each.
 */
import { evalError, syntaxError, type CompileCtx, type Eval, type Site } from "./context.ts";
import { LookupMissError } from "./errors.ts";
import { compileGetter, parsePath, type Getter } from "./paths.ts";
import { compileTemplate } from "./template.ts";
import type { EvalScope } from "./types.ts";
import { numberToText } from "./values.ts";

interface RowPath {
  text: string;
  get: Getter;
}

interface Condition {
  path: RowPath;
  op: "$eq" | "$ne" | "$in";
  values: Eval[];
}

export interface LookupSpec {
  table: string | undefined;
  find: RowPath;
  conditions: Condition[];
  /** Source index of the lookup, for errors. */
  index: number;
  site: Site;
}

function rowPath(ctx: CompileCtx, text: string, index: number): RowPath {
  const parsed = parsePath(text);
  if (!parsed || parsed.parent) {
    throw syntaxError(
      ctx.site,
      index,
      `"${text}" is not a row path`,
      "a row path like content.FItemID or FNumber",
      "Row paths use letters, digits and _, joined by . and [n].",
    );
  }
  const direct = compileGetter(parsed.segments);
  if (parsed.segments.length > 1 && parsed.segments[0] === "content") {
    const flat = compileGetter(parsed.segments.slice(1));
    return {
      text,
      get: (row) => {
        const v = direct(row);
        return v !== undefined ? v : flat(row);
      },
    };
  }
  // QEasy stores rows as {content:{…}} and its where-keys often omit `content.`: read the flat key, then content's.
  const nested = compileGetter(["content", ...parsed.segments]);
  return {
    text,
    get: (row) => {
      const v = direct(row);
      return v !== undefined ? v : nested(row);
    },
  };
}

const WS = /\s/;
const IDENT_CHAR = /[\p{L}\p{N}_$]/u;

function skipWs(source: string, i: number, end: number): number {
  while (i < end && WS.test(source[i]!)) i++;
  return i;
}

function word(source: string, i: number, end: number): number {
  while (i < end && !WS.test(source[i]!)) i++;
  return i;
}

function constant(value: unknown): Eval {
  return () => value;
}

/** A condition value: a template over `source[start, end)`. */
function templateValue(ctx: CompileCtx, start: number, end: number): Eval {
  return compileTemplate(ctx, start, end).evaluate;
}

function noteTable(ctx: CompileCtx, table: string | undefined): void {
  if (table === undefined) ctx.usesDefaultTable = true;
  else ctx.tables.add(table);
}

// ---- _mongoQuery ----

const MONGO_HINT = 'Write _mongoQuery [table=NAME] findField=PATH where={"PATH":{"$eq":"{field}"}}.';

/** Parses the arguments of `_mongoQuery` in `source[start, end)`. */
export function parseMongoQuery(ctx: CompileCtx, start: number, end: number, at: number): LookupSpec {
  const source = ctx.site.source;
  let table: string | undefined;
  let find: RowPath | undefined;
  let conditions: Condition[] | undefined;
  let i = skipWs(source, start, end);
  // QEasy's positional form names the collection first: `_mongoQuery <collection-id> findField=… where=…`.
  {
    const stop = word(source, i, end);
    const eq = source.indexOf("=", i);
    if (i < stop && (eq < 0 || eq >= stop)) {
      table = source.slice(i, stop);
      i = skipWs(source, stop, end);
    }
  }
  while (i < end) {
    const eq = source.indexOf("=", i);
    const stop = word(source, i, end);
    if (eq < 0 || eq >= stop) throw syntaxError(ctx.site, i, "expected key=value", "table=, findField= or where=", MONGO_HINT);
    const key = source.slice(i, eq).toLowerCase();
    const valueAt = eq + 1;
    if (key === "where") {
      const close = jsonEnd(ctx, valueAt, end);
      conditions = parseWhere(ctx, valueAt, close);
      i = close;
    } else if (key === "table" || key === "findfield") {
      const value = source.slice(valueAt, stop);
      if (!value) throw syntaxError(ctx.site, valueAt, `empty ${key}`, key === "table" ? "a table name" : "a row path", MONGO_HINT);
      if (key === "table") {
        if (table !== undefined) throw syntaxError(ctx.site, i, "the collection is named twice", "one of <collection> or table=", MONGO_HINT);
        table = value;
      } else find = rowPath(ctx, value, valueAt);
      i = stop;
    } else {
      throw syntaxError(ctx.site, i, `unknown _mongoQuery key "${source.slice(i, eq)}"`, "table=, findField= or where=", MONGO_HINT);
    }
    if (i < end && !WS.test(source[i]!)) throw syntaxError(ctx.site, i, "expected a space between arguments", "whitespace", MONGO_HINT);
    i = skipWs(source, i, end);
  }
  if (!find) throw syntaxError(ctx.site, end, "_mongoQuery needs findField=", "findField=PATH", MONGO_HINT);
  if (!conditions) throw syntaxError(ctx.site, end, "_mongoQuery needs where=", "where={…}", MONGO_HINT);
  noteTable(ctx, table);
  return { table, find, conditions, index: at, site: ctx.site };
}

/** Index just past the JSON object starting at `start`. */
function jsonEnd(ctx: CompileCtx, start: number, end: number): number {
  const source = ctx.site.source;
  if (source[start] !== "{") throw syntaxError(ctx.site, start, "where= must be a JSON object", "{", MONGO_HINT);
  let depth = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const ch = source[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw syntaxError(ctx.site, start, "unterminated where= JSON object", "}", MONGO_HINT);
}

function parseWhere(ctx: CompileCtx, start: number, end: number): Condition[] {
  const raw = ctx.site.source.slice(start, end);
  let where: unknown;
  try {
    where = JSON.parse(raw);
  } catch {
    throw syntaxError(ctx.site, start, "where= is not valid JSON", "a JSON object", `${MONGO_HINT} Quote keys and strings with double quotes.`);
  }
  if (where === null || typeof where !== "object" || Array.isArray(where)) throw syntaxError(ctx.site, start, "where= must be a JSON object", "{", MONGO_HINT);
  let cursor = 0;
  // JSON strings hold templates; compile them over their place in the source so errors point there.
  const value = (v: unknown): Eval => {
    if (typeof v !== "string") {
      if (v !== null && typeof v === "object")
        throw syntaxError(ctx.site, start, "condition values must be strings, numbers, booleans or null", "a value", MONGO_HINT);
      return constant(v);
    }
    const quoted = JSON.stringify(v);
    const at = raw.indexOf(quoted, cursor);
    if (at >= 0 && !quoted.includes("\\")) {
      cursor = at + quoted.length;
      return templateValue(ctx, start + at + 1, start + at + quoted.length - 1);
    }
    const child: CompileCtx = { ...ctx, site: { ...ctx.site, source: v } };
    return compileTemplate(child, 0, v.length).evaluate;
  };
  const conditions: Condition[] = [];
  for (const [key, cond] of Object.entries(where as Record<string, unknown>)) {
    const keyAt = start + Math.max(0, raw.indexOf(JSON.stringify(key)));
    if (key.startsWith("$"))
      throw syntaxError(ctx.site, keyAt, `operator ${key} is not supported at the top level`, "a row path", "Conditions are ANDed; use one key per row path.");
    const path = rowPath(ctx, key, keyAt);
    if (cond !== null && typeof cond === "object" && !Array.isArray(cond)) {
      for (const [op, operand] of Object.entries(cond as Record<string, unknown>)) {
        if (op === "$eq" || op === "$ne") conditions.push({ path, op, values: [value(operand)] });
        else if (op === "$in") {
          if (!Array.isArray(operand)) throw syntaxError(ctx.site, keyAt, "$in needs an array", "[…]", MONGO_HINT);
          conditions.push({ path, op, values: operand.map(value) });
        } else throw syntaxError(ctx.site, keyAt, `unsupported operator ${op}`, "$eq, $ne or $in", MONGO_HINT);
      }
    } else if (Array.isArray(cond)) {
      throw syntaxError(ctx.site, keyAt, "an array condition needs $in", '{"$in": […]}', MONGO_HINT);
    } else {
      conditions.push({ path, op: "$eq", values: [value(cond)] });
    }
  }
  if (conditions.length === 0) throw syntaxError(ctx.site, start, "where= has no conditions", "a condition", MONGO_HINT);
  return conditions;
}

// ---- _findCollection ----

const FIND_HINT = "Write _findCollection find FIELD from TABLE where KEY={{field}} [and KEY2={field2}] _endFind.";

function expectKeyword(ctx: CompileCtx, i: number, end: number, keyword: string): number {
  const source = ctx.site.source;
  const stop = word(source, i, end);
  if (source.slice(i, stop).toLowerCase() !== keyword.toLowerCase()) throw syntaxError(ctx.site, i, `expected "${keyword}"`, keyword, FIND_HINT);
  if (stop >= end) throw syntaxError(ctx.site, stop, `expected something after "${keyword}"`, "a name", FIND_HINT);
  return skipWs(source, stop, end);
}

/**
 * Parses `find … from … where …` starting at `start` (just after `_findCollection`). `nested` lookups sit
 * inside an expression and must be closed by `_endFind`. Returns the spec and the index after it.
 */
/** Index of the first `,` or `)` outside `{…}` in source[from, to), or -1. */
function callDelimiter(source: string, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const ch = source[i];
    if (ch === "{") depth++;
    else if (ch === "}") depth = Math.max(0, depth - 1);
    else if (depth === 0 && (ch === "," || ch === ")")) return i;
  }
  return -1;
}

export function parseFindCollection(ctx: CompileCtx, start: number, end: number, nested: boolean, at: number): { spec: LookupSpec; end: number } {
  const source = ctx.site.source;
  let i = skipWs(source, start, end);
  if (i === start && i < end) throw syntaxError(ctx.site, i, "expected a space after _findCollection", "whitespace", FIND_HINT);
  i = expectKeyword(ctx, i, end, "find");
  let stop = word(source, i, end);
  const find = rowPath(ctx, source.slice(i, stop), i);
  i = expectKeyword(ctx, skipWs(source, stop, end), end, "from");
  stop = word(source, i, end);
  const table = source.slice(i, stop);
  i = expectKeyword(ctx, skipWs(source, stop, end), end, "where");
  const conditions: Condition[] = [];
  let closed = false;
  while (i < end) {
    stop = word(source, i, end);
    const w = source.slice(i, stop);
    // `_endFind` may be followed directly by `,` or `)` inside an expression.
    if (w.slice(0, 8).toLowerCase() === "_endfind" && (w.length === 8 || (nested && !IDENT_CHAR.test(w[8]!)))) {
      closed = true;
      i += 8;
      break;
    }
    // QEasy also ends a nested lookup at the enclosing call's `,` or `)`:
    // `_function IFNULL(_findCollection find FID from t where FBillNo={{order_no}}, '0')` (relational-lookup.md).
    if (nested && conditions.length > 0 && (w[0] === "," || w[0] === ")")) {
      closed = true;
      break;
    }
    if (conditions.length > 0 && w.toLowerCase() === "and") {
      i = skipWs(source, stop, end);
      continue;
    }
    const eq = w.indexOf("=");
    if (eq <= 0) {
      throw syntaxError(
        ctx.site,
        i,
        `expected a condition KEY=value${nested ? " or _endFind" : ""}`,
        nested ? "KEY=value or _endFind" : "KEY=value",
        `${FIND_HINT} Conditions are ANDed; only = is supported.`,
      );
    }
    const path = rowPath(ctx, w.slice(0, eq), i);
    const valueAt = i + eq + 1;
    const quote = source[valueAt];
    let valueEnd: number;
    if (quote === "'" || quote === '"') {
      const close = source.indexOf(quote, valueAt + 1);
      if (close < 0 || close >= end) throw syntaxError(ctx.site, valueAt, "unterminated quoted value", quote, FIND_HINT);
      conditions.push({ path, op: "$eq", values: [templateValue(ctx, valueAt + 1, close)] });
      valueEnd = close + 1;
    } else {
      if (valueAt >= stop) throw syntaxError(ctx.site, valueAt, "missing value after =", "a value or {{field}}", FIND_HINT);
      const cut = nested ? callDelimiter(source, valueAt, stop) : -1;
      conditions.push({ path, op: "$eq", values: [templateValue(ctx, valueAt, cut >= 0 ? cut : stop)] });
      if (cut >= 0) {
        closed = true;
        i = cut;
        break;
      }
      valueEnd = stop;
    }
    if (valueEnd < end && !WS.test(source[valueEnd]!)) throw syntaxError(ctx.site, valueEnd, "expected a space after the condition", "whitespace", FIND_HINT);
    i = skipWs(source, valueEnd, end);
  }
  if (conditions.length === 0) throw syntaxError(ctx.site, i, "_findCollection needs at least one condition", "KEY=value", FIND_HINT);
  if (nested && !closed) throw syntaxError(ctx.site, i, "a _findCollection inside an expression must end with _endFind", "_endFind", FIND_HINT);
  noteTable(ctx, table);
  return { spec: { table, find, conditions, index: at, site: ctx.site }, end: i };
}

// ---- evaluation ----

interface TableIndex {
  length: number;
  byPath: Map<string, Map<string, Record<string, unknown>[]>>;
}

const indexes = new WeakMap<object, TableIndex>();

function keyOf(v: unknown): string | null {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      return numberToText(v);
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      return v.toString();
    default:
      return null;
  }
}

function matches(rowValue: unknown, value: unknown): boolean {
  if (value === null || value === undefined) return rowValue === null || rowValue === undefined;
  const key = keyOf(value);
  return key !== null && keyOf(rowValue) === key;
}

/** Rows whose `path` equals `key`, in table order (index built on first use, rebuilt if the table grew). */
function candidates(rows: ReadonlyArray<Record<string, unknown>>, path: RowPath, key: string): readonly Record<string, unknown>[] {
  let index = indexes.get(rows);
  if (!index || index.length !== rows.length) {
    index = { length: rows.length, byPath: new Map() };
    indexes.set(rows, index);
  }
  let byKey = index.byPath.get(path.text);
  if (!byKey) {
    byKey = new Map();
    for (const row of rows) {
      const k = keyOf(path.get(row));
      if (k === null) continue;
      const list = byKey.get(k);
      if (list) list.push(row);
      else byKey.set(k, [row]);
    }
    index.byPath.set(path.text, byKey);
  }
  return byKey.get(key) ?? [];
}

function holds(cond: Condition, values: unknown[], row: Record<string, unknown>): boolean {
  const v = cond.path.get(row);
  switch (cond.op) {
    case "$eq":
      return matches(v, values[0]);
    case "$ne":
      return !matches(v, values[0]);
    default:
      return values.some((x) => matches(v, x));
  }
}

/** Whether any row of a table has the field (cached per loaded table: tables are the same array for a run). */
const fieldsSeen = new WeakMap<readonly Record<string, unknown>[], Map<string, boolean>>();
function tableHas(rows: readonly Record<string, unknown>[], find: RowPath): boolean {
  let seen = fieldsSeen.get(rows);
  if (!seen) fieldsSeen.set(rows, (seen = new Map()));
  let has = seen.get(find.text);
  if (has === undefined) {
    has = rows.some((r) => find.get(r) !== undefined);
    seen.set(find.text, has);
  }
  return has;
}

function rowKeys(row: Record<string, unknown>): string {
  const content = row.content !== null && typeof row.content === "object" && !Array.isArray(row.content) ? (row.content as Record<string, unknown>) : row;
  return Object.keys(content).slice(0, 12).join(", ") || "no fields";
}

/** The table a lookup reads (its own or the flow's default), loaded. */
function lookupTable(spec: LookupSpec, s: EvalScope): { table: string; rows: readonly Record<string, unknown>[] } {
  const table = spec.table ?? s.defaultLookupTable;
  if (!table)
    throw evalError(
      spec.site,
      spec.index,
      "the lookup names no table and the flow has no default lookup table",
      "Add table=NAME (or from NAME), or set the flow's default lookup table.",
    );
  const rows = s.lookups?.get(table);
  if (!rows)
    throw evalError(
      spec.site,
      spec.index,
      `lookup table "${table}" is not loaded`,
      `Load reference table "${table}" (upload it or run the flow that fills it) before this flow runs.`,
    );
  return { table, rows };
}

/** A matching row lacks the find field: a miss when other rows have it (sparse rows are normal), an error when none does (a misspelt field). */
function fieldMissing(
  spec: LookupSpec,
  table: string,
  rows: readonly Record<string, unknown>[],
  row: Record<string, unknown>,
  onMiss: "throw" | "null",
): null | undefined {
  const { find } = spec;
  if (!tableHas(rows, find)) {
    throw evalError(
      spec.site,
      spec.index,
      `no row of lookup table "${table}" has the field ${find.text}`,
      `Check the spelling of ${find.text}; rows have ${rowKeys(row)}.`,
    );
  }
  return onMiss === "null" ? null : undefined;
}

/** Each condition's values, evaluated; an `$in` list spreads into its members. */
function conditionValues(conditions: readonly Condition[], s: EvalScope): unknown[][] {
  return conditions.map((c) => {
    const out: unknown[] = [];
    for (const v of c.values) {
      const x = v(s);
      if (c.op === "$in" && Array.isArray(x)) out.push(...x);
      else out.push(x);
    }
    return out;
  });
}

/** Evaluates a lookup; `onMiss` "throw" raises LookupMissError, "null" returns null (inside expressions). */
export function compileLookup(spec: LookupSpec, onMiss: "throw" | "null"): Eval {
  const { site, index, conditions, find } = spec;
  const only = conditions.length === 1 ? conditions[0]! : undefined;
  const single = only && only.op === "$eq" && only.values.length === 1 ? only : undefined;
  return (s: EvalScope) => {
    const { table, rows } = lookupTable(spec, s);
    // The common shape, one `$eq` on one value: the index's rows all hold (same key), so the first row with the field is the answer.
    if (single) {
      const key = keyOf(single.values[0]!(s));
      if (key !== null) {
        for (const row of candidates(rows, single.path, key)) {
          const found = find.get(row);
          if (found !== undefined) return found;
          return fieldMissing(spec, table, rows, row, onMiss);
        }
      }
    }
    const values = conditionValues(conditions, s);
    let pool: readonly Record<string, unknown>[] = rows;
    for (let c = 0; c < conditions.length; c++) {
      const key = conditions[c]!.op === "$eq" ? keyOf(values[c]![0]) : null;
      if (key !== null) {
        pool = candidates(rows, conditions[c]!.path, key);
        break;
      }
    }
    for (const row of pool) {
      let ok = true;
      for (let c = 0; c < conditions.length && ok; c++) ok = holds(conditions[c]!, values[c]!, row);
      if (ok) {
        const found = find.get(row);
        if (found === undefined) {
          // The row matched but lacks the field. Sparse rows are normal (FStock on some materials only), but a field
          // no row of the table has is a misspelt findField: an error naming it, never a value that vanishes.
          return fieldMissing(spec, table, rows, row, onMiss);
        }
        return found;
      }
    }
    // A where key no row of the table has never matches: a misspelt key, not a miss to cover with a default.
    if (rows.length > 0) {
      for (const c of conditions) {
        if (!tableHas(rows, c.path)) {
          throw evalError(
            site,
            index,
            `no row of lookup table "${table}" has the field ${c.path.text} (in where)`,
            `Check the spelling of ${c.path.text}; rows have ${rowKeys(rows[0]!)}.`,
          );
        }
      }
    }
    if (onMiss === "null") return null;
    // fromEntries defines own properties, so a row path named __proto__ cannot reach a prototype.
    const where = Object.fromEntries(
      conditions.map((c, i) => {
        const v = c.op === "$in" ? values[i] : values[i]![0];
        return [c.path.text, c.op === "$eq" ? v : Object.fromEntries([[c.op, v]])];
      }),
    );
    throw new LookupMissError({ table, where, path: site.path });
  };
}
