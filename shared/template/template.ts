/**
 * Value templates: literal text with `{path}` / `{{VAR|filter}}` placeholders. A value that is exactly one
 * placeholder returns the raw value (a number stays a number, a missing field is undefined); mixed text
 * concatenates, rendering missing values as "".
 */
import { formatSqlDate } from "./dates.ts";
import { syntaxError, guard, zoneOf, evalError, type CompileCtx, type Eval } from "./context.ts";
import { compileGetter, parsePath, type FieldPath, type Segment } from "./paths.ts";
import type { EvalScope } from "./types.ts";
import { extraValue, matchPlaceholder, PlaceholderError, placeholderValue, type Placeholder } from "./variables.ts";
import { MAX_STRING, SqlDate, numberToText } from "./values.ts";

export interface PlaceholderPart {
  placeholder: Placeholder;
  /** Index of the opening brace in the source. */
  index: number;
  text: string;
}

export type TemplatePart = string | PlaceholderPart;

/** Splits `source[start, end)` into text and placeholders. */
export function parseTemplate(ctx: CompileCtx, start: number, end: number): TemplatePart[] {
  const source = ctx.site.source;
  const parts: TemplatePart[] = [];
  let text = "";
  let i = start;
  while (i < end) {
    const brace = source.indexOf("{", i);
    if (brace < 0 || brace >= end) {
      text += source.slice(i, end);
      break;
    }
    text += source.slice(i, brace);
    const match = matchAt(ctx, brace, end);
    if (!match) {
      text += "{";
      i = brace + 1;
      continue;
    }
    if (text) parts.push(text);
    text = "";
    parts.push({ placeholder: match.placeholder, index: brace, text: match.text });
    i = match.end;
  }
  if (text) parts.push(text);
  return parts;
}

/** matchPlaceholder with its errors turned into TemplateSyntaxErrors at the right column. */
export function matchAt(ctx: CompileCtx, index: number, limit: number) {
  try {
    return matchPlaceholder(ctx.site.source, index, limit, ctx.site.variables);
  } catch (e) {
    if (e instanceof PlaceholderError) throw syntaxError(ctx.site, index + e.offset, e.message, e.expected, e.hint);
    throw e;
  }
}

/**
 * Reader of a record path honouring `../x` and `parent.x`. Compiled inside a children mapping (the site has
 * `lineArrays`), it also follows QEasy's scope rules (see lineScopedReader). Inside an aggregate's per-line
 * expression the aggregate's own line scope applies instead.
 */
export function fieldReader(path: FieldPath, ctx?: CompileCtx): Eval {
  const get = compileGetter(path.segments);
  if (path.parent) return (s) => (s.parent === undefined ? undefined : get(s.parent));
  if (path.maybeParent) {
    const fromParent = compileGetter(path.segments.slice(1));
    return (s) => (s.parent !== undefined ? fromParent(s.parent) : get(s.record));
  }
  const arrays = ctx && ctx.prefix === "" ? ctx.site.lineArrays : undefined;
  if (arrays) return lineScopedReader(path.segments, arrays);
  return (s) => get(s.record);
}

/** The record `level` steps out from the current one: 0 the line, 1 its parent, … (the header last). */
export function recordAt(s: EvalScope, level: number): unknown {
  if (level === 0) return s.record;
  if (s.ancestors) return s.ancestors[level - 1];
  return level === 1 ? s.parent : undefined;
}

/**
 * QEasy's scope inside children mappings (`arrays` innermost first, e.g. [["batchs"], ["items"]]):
 * 1. `items.qty` where `items` is the array of an enclosing children mapping reads `qty` of that array's current
 *    line, then the flattened name `items_qty` on it (lines merged after beatFlat keep those names);
 * 2. otherwise the path is read from the line, then from each enclosing record outwards (line first, then header).
 * A null value counts as absent (JSON null = no value), so a line's null `remark` falls back to the header's.
 * Lines that carry the field always win; the fallback costs one extra read only when the line lacks it.
 */
export function lineScopedReader(segments: readonly Segment[], arrays: readonly (readonly string[])[]): Eval {
  const get = compileGetter(segments);
  const depth = arrays.length;
  // JSON null is "no value" (Jushuitan sends null for an empty line remark): it falls back like an absent key.
  const chain: Eval = (s) => {
    const v = get(s.record);
    if (v !== undefined && v !== null) return v;
    for (let level = 1; level <= depth; level++) {
      const r = recordAt(s, level);
      if (r === undefined) break;
      const up = get(r);
      if (up !== undefined && up !== null) return up;
    }
    return v;
  };
  for (let k = 0; k < depth; k++) {
    const prefix = arrays[k]!;
    let n = -1;
    if (startsWith(segments, prefix)) n = prefix.length;
    else if (prefix.length > 1 && segments[0] === prefix[prefix.length - 1]) n = 1;
    if (n < 0 || segments.length <= n || typeof segments[n] !== "string") continue;
    const rest = segments.slice(n);
    const getRest = compileGetter(rest);
    const getFlat = compileGetter([`${prefix[prefix.length - 1]}_${rest[0] as string}`, ...rest.slice(1)]);
    return (s) => {
      const line = recordAt(s, k);
      const v = getRest(line);
      if (v !== undefined && v !== null) return v;
      const flat = getFlat(line);
      if (flat !== undefined && flat !== null) return flat;
      const up = chain(s);
      return up !== undefined ? up : v === null || flat === null ? null : undefined;
    };
  }
  return chain;
}

function startsWith(segments: readonly Segment[], prefix: readonly string[]): boolean {
  if (segments.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (segments[i] !== prefix[i]) return false;
  return true;
}

/** Records a read path in `fields` (with the aggregate line prefix). */
export function noteField(ctx: CompileCtx, path: FieldPath): void {
  ctx.fields.add(path.parent || ctx.prefix === "" ? path.text : ctx.prefix + path.text);
}

/** The raw value of a placeholder (undefined when a field is missing). */
export function compilePlaceholder(ctx: CompileCtx, part: PlaceholderPart): Eval {
  const p = part.placeholder;
  const site = ctx.site;
  switch (p.kind) {
    case "time": {
      // Depends only on the run's times and zone: remember the last result for them.
      let lastSync = NaN;
      let current = NaN;
      let zone = "";
      let last: unknown;
      return (s) => {
        const v = s.vars;
        const z = zoneOf(s);
        if (v.lastSyncTime !== lastSync || v.currentTime !== current || z !== zone) {
          last = placeholderValue(p, undefined, v, z);
          lastSync = v.lastSyncTime;
          current = v.currentTime;
          zone = z;
        }
        return last;
      };
    }
    case "page":
      return guard(site, part.index, (s) => placeholderValue(p, undefined, s.vars, zoneOf(s)));
    case "extra":
      return guard(site, part.index, (s) => placeholderValue(p, extraValue(s.vars, p.name), s.vars, zoneOf(s)));
    case "field": {
      noteField(ctx, p.path);
      const read = fieldReader(p.path, ctx);
      if (p.filter === undefined) return read;
      return guard(site, part.index, (s) => placeholderValue(p, read(s), s.vars, zoneOf(s)));
    }
  }
}

/** Text of a value interpolated into a template: missing → "", objects as JSON. */
export function templateText(value: unknown, s: EvalScope): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      return numberToText(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "";
    case "object":
      if (value === null) return "";
      if (value instanceof SqlDate) return formatSqlDate(value, zoneOf(s));
      return JSON.stringify(value) ?? "";
    default:
      return String(value);
  }
}

/** Concatenation of parts, bounded to MAX_STRING. */
export function compileInterpolation(ctx: CompileCtx, parts: TemplatePart[], index: number): Eval {
  const pieces: (string | Eval)[] = parts.map((p) => (typeof p === "string" ? p : compilePlaceholder(ctx, p)));
  const site = ctx.site;
  return (s) => {
    let out = "";
    for (const piece of pieces) {
      out += typeof piece === "string" ? piece : templateText(piece(s), s);
      if (out.length > MAX_STRING) throw evalError(site, index, `text longer than ${MAX_STRING} characters`, "Shorten the template or the fields it joins.");
    }
    return out;
  };
}

export interface CompiledTemplate {
  evaluate: Eval;
  kind: "literal" | "field" | "template";
}

export function compileTemplate(ctx: CompileCtx, start: number, end: number): CompiledTemplate {
  const parts = parseTemplate(ctx, start, end);
  if (parts.length === 0) return { evaluate: () => "", kind: "literal" };
  if (parts.every((p) => typeof p === "string")) {
    const text = parts.join("");
    return { evaluate: () => text, kind: "literal" };
  }
  if (parts.length === 1) {
    const only = parts[0] as PlaceholderPart;
    const kind = only.placeholder.kind === "field" && only.placeholder.filter === undefined ? "field" : "template";
    return { evaluate: compilePlaceholder(ctx, only), kind };
  }
  return { evaluate: compileInterpolation(ctx, parts, start), kind: "template" };
}

/**
 * A reader for a path as a template compiled with `lineArrays` reads it (same scope rules); null when `text`
 * is not a path. For checks that ask "does this path resolve for this record" (unresolved-path warnings).
 */
export function scopedPathReader(text: string, lineArrays?: readonly string[]): ((scope: EvalScope) => unknown) | null {
  const parsed = parsePath(text);
  if (!parsed) return null;
  const site = {
    path: undefined,
    source: text,
    variables: undefined,
    lineArrays: lineArrays && lineArrays.length > 0 ? lineArrays.map((a) => a.split(".")) : undefined,
  };
  return fieldReader(parsed, { site, fields: new Set(), tables: new Set(), usesDefaultTable: false, prefix: "" });
}
