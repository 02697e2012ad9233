/**
 * The target mapping: the flow's field tree is compiled once (every template through the template
 * compiler) into a mapper that builds one payload per record. `children` of an array map each element
 * of the source array with the element as `record` and the enclosing record as `parent`. Values are
 * converted to the declared type with errors that name the payload path and the value; `default` covers
 * empty values and lookup misses; `required` fields must end up non-empty. Errors are thrown per record
 * so the engine can dead-letter that document and go on.
 */
import { BridgeError } from "../errors.ts";
import { compileValue, LookupMissError, type CompiledValue, type EvalScope, type LookupTables, type TemplateVars } from "../template/index.ts";
import { DEFAULT_ZONE } from "../util/time.ts";
import { parseFormat, wallClock, type Formatter } from "./format-response.ts";

export type FieldType = "string" | "int" | "float" | "date" | "datetime" | "bool" | "object" | "array";

export interface MappingField {
  field: string;
  type: FieldType;
  value?: string;
  children?: MappingField[];
  default?: unknown;
  required?: boolean;
  format?: string;
  table?: string;
  label?: string;
  describe?: string;
}

export interface MappingTarget {
  externalKey: string;
  fields: MappingField[];
  defaultLookupTable?: string;
}

export interface TraceEntry {
  /** Payload path, e.g. `Entry[1].FItemID`. */
  path: string;
  /** The template that produced the value (or `(default)`). */
  source: string;
  value: unknown;
  /** Set when the default stood in: "empty" value or "lookup_miss". */
  defaulted?: "empty" | "lookup_miss";
}

export interface MapScope {
  vars: TemplateVars;
  lookups?: LookupTables;
  /** Collect a per-field trace (preview, dry run). */
  trace?: boolean;
}

export interface MapResult {
  payload: Record<string, unknown>;
  externalKey: string;
  trace?: TraceEntry[];
}

export interface CompiledMappingValue {
  path: string;
  value: CompiledValue;
  /** Source arrays of the enclosing children mappings, innermost first (absent at the header). */
  lineArrays?: readonly string[];
}

export interface CompiledMapping {
  map(record: Record<string, unknown>, scope: MapScope): MapResult;
  /** Every compiled value with its flow path (diagrams, "tables used", unresolved-path warnings). */
  readonly values: readonly CompiledMappingValue[];
}

/** A record could not be mapped; `code` is the underlying cause's (template_eval, lookup_miss …) or mapping_*. */
export class MappingError extends BridgeError {
  constructor(code: string, message: string, details: Record<string, unknown>, hint?: string, cause?: unknown) {
    super(code, message, { details, hint, cause });
  }
}

interface Node {
  field: string;
  type: FieldType;
  /** Flow path of the node (`target.fields[3].children[0]`). */
  flowPath: string;
  value: CompiledValue | null;
  /** Plain path of the source array for array nodes whose value is a bare name (`items`). */
  arrayPath: string[] | null;
  children: Node[] | null;
  hasDefault: boolean;
  default: unknown;
  required: boolean;
  format: Formatter | null;
  table: string | undefined;
}

const BRACED_PATH = /^\{\{\s*([\p{L}_$][\p{L}\p{N}_$.]*)\s*\}\}$|^\{\s*([\p{L}_$][\p{L}\p{N}_$.]*)\s*\}$/u;
const PLAIN_PATH = /^[\p{L}_$][\p{L}\p{N}_$]*(\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u;

/** Stands for a children array computed by a template: a scope level no `{{name.x}}` prefix can match. */
const UNNAMED_ARRAY = "\u0000";

function compileNodes(
  fields: readonly MappingField[],
  flowPath: string,
  inheritedTable: string | undefined,
  values: CompiledMappingValue[],
  lineArrays: readonly string[],
): Node[] {
  return fields.map((f, i) => {
    const path = `${flowPath}[${i}]`;
    const table = f.table ?? inheritedTable;
    let value: CompiledValue | null = null;
    let arrayPath: string[] | null = null;
    let v = f.value;
    if (v !== undefined && v !== "") {
      // `{items}` / `{{items}}` name the array like `items` (QEasy writes both); a computed array stays a template.
      if (f.type === "array" && f.children) {
        const m = BRACED_PATH.exec(v);
        if (m) v = (m[1] ?? m[2])!;
      }
      if (f.type === "array" && f.children && PLAIN_PATH.test(v)) {
        arrayPath = resolveArrayPath(v, lineArrays);
        // Checked like any read path: a misspelt array (`item`, `items.batch`) would otherwise map to [] unnoticed.
        const opts = lineArrays.length > 0 ? { path: `${path}.value`, lineArrays } : { path: `${path}.value` };
        const read: CompiledValue = { ...compileValue(`{${v}}`, opts), source: v };
        values.push(lineArrays.length > 0 ? { path: `${path}.value`, value: read, lineArrays } : { path: `${path}.value`, value: read });
      } else {
        value = compileValue(v, lineArrays.length > 0 ? { path: `${path}.value`, lineArrays } : { path: `${path}.value` });
        values.push(lineArrays.length > 0 ? { path: `${path}.value`, value, lineArrays } : { path: `${path}.value`, value });
      }
    }
    // Children of an array are in the line scope of that array (QEasy's `{{items.qty}}`); object children share ours.
    const childArrays = f.type === "array" ? [arrayPath ? v! : UNNAMED_ARRAY, ...lineArrays] : lineArrays;
    return {
      field: f.field,
      type: f.type,
      flowPath: path,
      value,
      arrayPath,
      children: f.children && f.children.length > 0 ? compileNodes(f.children, `${path}.children`, table, values, childArrays) : null,
      hasDefault: f.default !== undefined,
      default: f.default,
      required: f.required ?? false,
      format: f.format ? parseFormat(f.format) : null,
      table,
    };
  });
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === "";

/**
 * A nested children array named with the enclosing array's prefix (`items.batchs` inside `items`) reads the
 * current line's `batchs` (QEasy's scope rule); other names are read from the line as written.
 */
function resolveArrayPath(value: string, lineArrays: readonly string[]): string[] {
  const segments = value.split(".");
  for (const outer of lineArrays) {
    const prefix = outer.split(".");
    if (segments.length > prefix.length && prefix.every((p, i) => segments[i] === p)) return segments.slice(prefix.length);
  }
  return segments;
}

function getPath(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function typeError(path: string, node: Node, value: unknown, expected: string): MappingError {
  return new MappingError(
    "mapping_type",
    `${path}: expected ${expected} for type "${node.type}", got ${show(value)}`,
    { path, flowPath: node.flowPath, type: node.type, value },
    `Fix the source value, convert it in the template (e.g. _function ROUND(...)), or change the field type at ${node.flowPath}.type.`,
  );
}

function convert(node: Node, value: unknown, prefix: string, timezone: string): unknown {
  switch (node.type) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
      throw typeError(pathAt(prefix, node), node, value, "text");
    case "int": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value.trim()) : NaN;
      if (!Number.isFinite(n) || !Number.isInteger(n)) throw typeError(pathAt(prefix, node), node, value, "a whole number");
      return n;
    }
    case "float": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value.trim()) : NaN;
      if (!Number.isFinite(n)) throw typeError(pathAt(prefix, node), node, value, "a number");
      return n;
    }
    case "date":
    case "datetime": {
      const w = wallClock(value, timezone);
      if (!w) throw typeError(pathAt(prefix, node), node, value, node.type === "date" ? "a date (yyyy-MM-dd)" : "a date-time (yyyy-MM-dd HH:mm:ss)");
      return node.type === "date" ? `${w.y}-${w.mo}-${w.d}` : `${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.s}`;
    }
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === 1 || value === "1" || value === "true" || value === "TRUE" || value === "True") return true;
      if (value === 0 || value === "0" || value === "false" || value === "FALSE" || value === "False") return false;
      throw typeError(pathAt(prefix, node), node, value, "true or false");
    case "object":
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
      throw typeError(pathAt(prefix, node), node, value, "an object");
    case "array":
      if (Array.isArray(value)) return value;
      throw typeError(pathAt(prefix, node), node, value, "an array");
  }
}

interface Ctx {
  scope: EvalScope;
  timezone: string;
  defaultTable: string | undefined;
  trace: TraceEntry[] | null;
}

function wrap(error: unknown, path: string, node: Node): never {
  if (error instanceof MappingError) throw error;
  if (error instanceof BridgeError) {
    throw new MappingError(error.code, `${path}: ${error.message}`, { ...error.details, path, flowPath: node.flowPath }, error.hint, error);
  }
  throw new MappingError(
    "mapping_failed",
    `${path}: ${error instanceof Error ? error.message : String(error)}`,
    { path, flowPath: node.flowPath },
    undefined,
    error,
  );
}

type Records = readonly Record<string, unknown>[];
const NO_ANCESTORS: Records = Object.freeze([]) as Records;

/** A field's path for errors and traces, built only when one is needed (not per field of every line). */
const pathAt = (prefix: string, node: Node) => (prefix === "" ? node.field : `${prefix}.${node.field}`);

/** What evaluate returns for a lookup miss covered by the field's default (no result object per field). */
const MISSED: unique symbol = Symbol("lookup miss");

function evaluate(node: Node, ctx: Ctx, record: Record<string, unknown>, ancestors: Records, prefix: string): unknown {
  if (!node.value) return undefined;
  const scope = ctx.scope;
  scope.record = record;
  scope.parent = ancestors[0];
  scope.ancestors = ancestors;
  scope.defaultLookupTable = node.table ?? ctx.defaultTable;
  try {
    return node.value.evaluate(scope);
  } catch (error) {
    if (error instanceof LookupMissError && node.hasDefault) return MISSED;
    wrap(error, pathAt(prefix, node), node);
  }
}

function mapNodes(nodes: readonly Node[], ctx: Ctx, record: Record<string, unknown>, ancestors: Records, prefix: string, out: Record<string, unknown>): void {
  for (const node of nodes) {
    if (node.children && node.type === "object") {
      out[node.field] = mapObjectNode(node, node.children, ctx, record, ancestors, prefix);
      continue;
    }
    if (node.children && node.type === "array") {
      out[node.field] = mapArrayNode(node, node.children, ctx, record, ancestors, prefix);
      continue;
    }

    let value = evaluate(node, ctx, record, ancestors, prefix);
    const missed = value === MISSED;
    if (missed) value = undefined;
    if (node.format && !isEmpty(value)) {
      try {
        value = node.format(value, ctx.timezone);
      } catch (error) {
        wrap(error, pathAt(prefix, node), node);
      }
    }
    let defaulted: TraceEntry["defaulted"];
    if (isEmpty(value) && node.hasDefault) {
      value = node.default;
      defaulted = missed ? "lookup_miss" : "empty";
    }
    if (isEmpty(value)) {
      const path = pathAt(prefix, node);
      if (node.required) {
        throw new MappingError(
          "mapping_required",
          `${path}: required value is empty (${node.value ? node.value.source : "no value configured"})`,
          { path, flowPath: node.flowPath, source: node.value?.source },
          `Make sure the source carries it or give ${node.flowPath} a "default".`,
        );
      }
      if (value === "" && node.type === "string") out[node.field] = "";
      if (ctx.trace) ctx.trace.push({ path, source: node.value?.source ?? "(none)", value: value === "" ? "" : undefined });
      continue;
    }
    const converted = convert(node, value, prefix, ctx.timezone);
    out[node.field] = converted;
    if (ctx.trace) {
      const entry: TraceEntry = { path: pathAt(prefix, node), source: defaulted ? "(default)" : (node.value?.source ?? "(default)"), value: converted };
      if (defaulted) entry.defaulted = defaulted;
      ctx.trace.push(entry);
    }
  }
}

/** An object node: its children mapped into a new object; a required one must get at least one field. */
function mapObjectNode(
  node: Node,
  children: readonly Node[],
  ctx: Ctx,
  record: Record<string, unknown>,
  ancestors: Records,
  prefix: string,
): Record<string, unknown> {
  const path = pathAt(prefix, node);
  const obj: Record<string, unknown> = {};
  mapNodes(children, ctx, record, ancestors, path, obj);
  if (node.required) {
    let empty = true;
    for (const _ in obj) {
      empty = false;
      break;
    }
    if (empty) {
      throw new MappingError(
        "mapping_required",
        `${path}: required object is empty (none of its fields has a value)`,
        { path, flowPath: node.flowPath },
        `Make sure the source carries the fields of ${node.flowPath}.children or give them a "default".`,
      );
    }
  }
  return obj;
}

/** An array node: its children mapped over each element of the source array (a line record each). */
function mapArrayNode(
  node: Node,
  children: readonly Node[],
  ctx: Ctx,
  record: Record<string, unknown>,
  ancestors: Records,
  prefix: string,
): Record<string, unknown>[] {
  const path = pathAt(prefix, node);
  let source: unknown;
  if (node.arrayPath) source = getPath(record, node.arrayPath);
  else source = evaluate(node, ctx, record, ancestors, prefix);
  if (source === MISSED) source = undefined;
  if (source === undefined || source === null) {
    if (node.required)
      throw new MappingError(
        "mapping_required",
        `${path}: required array is missing (no ${node.arrayPath?.join(".") ?? node.value?.source} in the record)`,
        { path, flowPath: node.flowPath },
        `Check that the source documents carry it, or drop "required" at ${node.flowPath}.`,
      );
    return [];
  }
  if (!Array.isArray(source)) throw typeError(path, node, source, "an array to map children over");
  const items: Record<string, unknown>[] = new Array(source.length);
  const lineAncestors: Records = [record, ...ancestors];
  for (let i = 0; i < source.length; i++) {
    const el = source[i];
    const elRecord = el !== null && typeof el === "object" && !Array.isArray(el) ? (el as Record<string, unknown>) : { value: el };
    const item: Record<string, unknown> = {};
    mapNodes(children, ctx, elRecord, lineAncestors, `${path}[${i}]`, item);
    items[i] = item;
  }
  if (node.required && items.length === 0) {
    throw new MappingError(
      "mapping_required",
      `${path}: required array is empty`,
      { path, flowPath: node.flowPath },
      "A document without lines cannot be written; filter it with a condition.",
    );
  }
  return items;
}

/** Compiles the target mapping of a flow (or any `{ externalKey, fields }`). Throws TemplateSyntaxError on a bad template. */
export function compileMapping(flow: { target: MappingTarget; timezone?: string }): CompiledMapping {
  const values: CompiledMappingValue[] = [];
  const nodes = compileNodes(flow.target.fields, "target.fields", undefined, values, []);
  const keyValue = compileValue(flow.target.externalKey, { path: "target.externalKey" });
  values.push({ path: "target.externalKey", value: keyValue });
  const timezone = flow.timezone ?? DEFAULT_ZONE;
  const defaultTable = flow.target.defaultLookupTable;

  return {
    values,
    map(record, mapScope) {
      const scope: EvalScope = { record, vars: mapScope.vars, lookups: mapScope.lookups };
      let externalKey: string;
      try {
        const key = keyValue.evaluate(scope);
        externalKey = isEmpty(key) ? "" : String(key);
      } catch (error) {
        if (error instanceof BridgeError) {
          throw new MappingError(error.code, `external key: ${error.message}`, { ...error.details, path: "target.externalKey" }, error.hint, error);
        }
        throw error;
      }
      if (externalKey === "") {
        throw new MappingError(
          "mapping_key_empty",
          `external key is empty (template ${JSON.stringify(flow.target.externalKey)})`,
          { path: "target.externalKey" },
          "The key identifies the document in the target; make sure the fields it uses are present.",
        );
      }
      const ctx: Ctx = { scope, timezone, defaultTable, trace: mapScope.trace ? [] : null };
      const payload: Record<string, unknown> = {};
      mapNodes(nodes, ctx, record, NO_ANCESTORS, "", payload);
      return ctx.trace ? { payload, externalKey, trace: ctx.trace } : { payload, externalKey };
    },
  };
}
