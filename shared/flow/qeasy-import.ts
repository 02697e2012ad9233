/**
 * Import of QEasy (轻易云) scheme metadata into a native flow, so migrating a scheme is copy, paste, run.
 * Understood: source `api/method/id/idCheck/request[]/otherRequest[]/formatResponse/condition/beatFlat`,
 * target `api/method/request[]` (field/label/type/value/children/parser), `operation {method:"merge",…}`
 * and `groupCalculate {headerGroup, bodyGroup, calculate, bodyMaxLine …}`, `crontab`. Anything else is
 * reported — every unsupported construct at once, each with its JSON path and a hint — instead of being
 * dropped silently. The result goes through loadFlow, so it is a valid flow or an error.
 */
import { isWindowBoundPlaceholder } from "./window-params.ts";
import { ConfigError } from "../errors.ts";
import { compileValue } from "../template/index.ts";
import { cronProblem } from "./cron.ts";
import { jsonPath } from "./issues.ts";
import { resolveJstApi, type DocumentedFields } from "./jst-catalog.ts";
import { loadFlow, type FieldMapping, type FieldType, type Flow, type FlowInput } from "./schema.ts";

export interface QeasyImportOptions {
  /** Flow id (kebab-case); default derived from the endpoint and the target. */
  id?: string;
  name?: string;
  version?: number;
  /** Target system when the api path does not tell (`otherDispatch/Create` is T+, `…/koas/…` is KIS). */
  targetType?: "tplus" | "kis";
  /** Table for `_mongoQuery` lookups (QEasy queries a scheme's store; name the reference table that replaces it). */
  mongoQueryTable?: string;
  /** Prefix of the merge key (default "JST"). */
  mergeKeyPrefix?: string;
}

export interface QeasyImportResult {
  flow: Flow;
  /** What the importer decided on the user's behalf (worth a look before going live). */
  notes: string[];
  /** Fields QEasy's `source.response` list declares (counted as documented when paths are checked). */
  responseFields?: DocumentedFields;
}

export interface UnsupportedConstruct {
  path: string;
  construct: string;
  hint: string;
}

export class QeasyImportError extends ConfigError {
  readonly unsupported: readonly UnsupportedConstruct[];
  constructor(unsupported: UnsupportedConstruct[]) {
    const lines = unsupported.map((u) => `  - at ${u.path || "(scheme)"}: ${u.construct} — ${u.hint}`);
    super(`QEasy scheme cannot be imported (${unsupported.length} unsupported construct${unsupported.length === 1 ? "" : "s"}):\n${lines.join("\n")}`, {
      hint: "Change or remove each listed construct (or write that part of the native flow by hand), then import again.",
      details: { path: unsupported[0]?.path, unsupported },
    });
    this.unsupported = unsupported;
  }
}

type Json = Record<string, unknown>;
type Path = (string | number)[];

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

const TYPE_MAP: Record<string, FieldType> = {
  string: "string",
  text: "string",
  int: "int",
  integer: "int",
  long: "int",
  float: "float",
  double: "float",
  number: "float",
  decimal: "float",
  money: "float",
  date: "date",
  datetime: "datetime",
  dateTime: "datetime",
  bool: "bool",
  boolean: "bool",
  object: "object",
  array: "array",
};

/** Request fields the engine sets itself (paging). */
const PAGING_FIELDS = new Set(["page_index", "page_size", "PAGE_NO", "PAGE_SIZE", "pageIndex", "pageSize"]);
/** Target otherRequest fields that belong to the connection, not the flow. */
const TRANSPORT_FIELDS = new Set(["AccountDB", "accountDB", "dataKey", "api", "method"]);

class Importer {
  readonly unsupported: UnsupportedConstruct[] = [];
  readonly notes: string[] = [];
  readonly tables = new Map<string, string>();
  usesMongoTable = false;
  readonly options: QeasyImportOptions;

  constructor(options: QeasyImportOptions) {
    this.options = options;
  }

  fail(path: Path, construct: string, hint: string): void {
    this.unsupported.push({ path: jsonPath(path), construct, hint });
  }

  /** Reports keys of `obj` outside `known`. */
  keys(obj: Json, path: Path, known: readonly string[], what: string): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail([...path, key], `unknown ${what} key "${key}"`, `remove it; supported here: ${known.join(", ")}`);
    }
  }

  /** Notes the lookup tables a template reads so they can be declared as references. */
  scanTemplate(value: string): void {
    for (const m of value.matchAll(/_findCollection\s+find\s+\S+\s+from\s+(\S+)\s+where\s+([^\s=]+)\s*=/gi)) {
      if (!this.tables.has(m[1]!)) this.tables.set(m[1]!, m[2]!.replace(/^content\./, ""));
    }
    for (const m of value.matchAll(/_mongoQuery\s+([^]*?)(?=_mongoQuery|$)/g)) {
      const args = m[1]!;
      const table = /(?:^|\s)table=(\S+)/.exec(args)?.[1];
      const key = /where=\{\s*"([^"]+)"/.exec(args)?.[1]?.replace(/^content\./, "") ?? "id";
      if (table) {
        if (!this.tables.has(table)) this.tables.set(table, key);
      } else {
        this.usesMongoTable = true;
        const name = this.mongoTable();
        if (!this.tables.has(name)) this.tables.set(name, key);
      }
    }
  }

  mongoTable(): string {
    return this.options.mongoQueryTable ?? "lookup";
  }
}

function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

// ---- source ----

interface SourceParts {
  endpoint: string;
  params: Record<string, unknown>;
  pageSize?: number;
  timeField?: "modified" | "io_date";
  idField?: string;
  formatResponse?: unknown[];
  condition?: unknown[][];
  conditionMode?: "line" | "strict";
  flatten?: { path: string };
  responseFields?: DocumentedFields;
}

/** A scalar request value, typed as the parameter's `type` says unless it is a template (kept as text and scanned). */
function scalarParam(imp: Importer, path: Path, field: string, type: string, raw: unknown, out: SourceParts): void {
  const literal = text(raw);
  if (literal === undefined) {
    imp.fail([...path, "value"], `request value of kind ${Array.isArray(raw) ? "array" : typeof raw}`, "use a string, number or boolean");
    return;
  }
  const isTemplate = /[{}]|^_function|^_findCollection|^_mongoQuery/.test(literal);
  if (!isTemplate && (type === "int" || type === "number" || type === "integer" || type === "float") && /^-?\d+(\.\d+)?$/.test(literal)) {
    out.params[field] = Number(literal);
  } else if (!isTemplate && (type === "bool" || type === "boolean") && /^(true|false)$/i.test(literal)) {
    out.params[field] = literal.toLowerCase() === "true";
  } else if (!isTemplate && field === "date_type" && /^\d+$/.test(literal)) {
    out.params[field] = Number(literal); // documented as a number
  } else {
    out.params[field] = typeof raw === "string" ? raw : raw;
    if (typeof raw === "string") imp.scanTemplate(raw);
  }
}

function convertParam(imp: Importer, item: Json, path: Path, out: SourceParts): void {
  imp.keys(
    item,
    path,
    ["field", "label", "type", "value", "describe", "parser", "name", "default", "children", "id", "parent_id", "required", "is_required", "isRequired"],
    "request parameter",
  );
  const field = text(item.field);
  if (!field) {
    imp.fail([...path, "field"], "request parameter without a field name", 'give it "field"');
    return;
  }
  if ("children" in item) return;
  let raw: unknown = item.value ?? item.default;
  const type = text(item.type) ?? "string";
  if (PAGING_FIELDS.has(field)) {
    const literal = text(raw);
    if (/size/i.test(field) && literal && /^\d+$/.test(literal)) out.pageSize = Number(literal);
    imp.notes.push(`source.request ${field}: paging is driven by the engine (source.paging); the parameter was dropped`);
    return;
  }
  if (field === "start_ts" || field === "ts") {
    imp.notes.push(`source.request ${field}: dropped; the engine reads by rowversion (start_ts) itself where the endpoint and rows allow it`);
    return;
  }
  if (raw === undefined || raw === null || raw === "") return;
  if ((field === "modified_begin" || field === "modified_end") && !isWindowBoundPlaceholder(field, raw)) {
    imp.notes.push(`source.request ${field}: ${JSON.stringify(raw)} dropped; each window sets ${field} itself (start elsewhere with incremental.startAt)`);
    return;
  }
  if (field === "date_type") {
    const v = text(raw);
    out.timeField = v === "2" ? "io_date" : "modified";
  }
  const parser = item.parser;
  if (parser !== undefined) {
    const name = isObject(parser) ? text(parser.name) : text(parser);
    if (name === "ArrayToString") {
      // QEasy docs/advanced/parser.md: joins the array with params (e.g. ",") into one string.
      const sep = isObject(parser) ? (text(parser.params) ?? ",") : ",";
      out.params[field] = Array.isArray(raw) ? raw.map((v) => String(v)).join(sep) : String(text(raw) ?? "");
      if (typeof raw === "string") imp.scanTemplate(raw);
      return;
    }
    if (name !== "StringToArray") {
      imp.fail(
        [...path, "parser"],
        `request parser ${JSON.stringify(name ?? parser)}`,
        "request parameters support the parsers StringToArray and ArrayToString",
      );
      return;
    }
  }
  if (type === "array" || (isObject(parser) && parser.name === "StringToArray")) {
    if (Array.isArray(raw)) out.params[field] = raw;
    else {
      const sep = isObject(parser) ? (text(parser.params) ?? ",") : ",";
      out.params[field] = String(raw)
        .split(sep)
        .map((s) => s.trim())
        .filter((s) => s !== "");
    }
    return;
  }
  if (type === "object") {
    imp.fail([...path, "type"], "object-typed request parameter", "flatten it into plain parameters");
    return;
  }
  scalarParam(imp, path, field, type, raw, out);
}

/** QEasy's `response` list ([{field, children}], possibly an id/parent_id tree) as documented fields. */
function responseFields(v: unknown): DocumentedFields | null {
  if (!Array.isArray(v)) return null;
  const tree = treeFromParentIds(v);
  const header: string[] = [];
  const arrays: Record<string, string[]> = {};
  for (const item of tree) {
    if (!isObject(item) || typeof item.field !== "string") continue;
    header.push(item.field);
    if (Array.isArray(item.children) && item.children.length > 0) {
      arrays[item.field] = item.children
        .filter(isObject)
        .map((c) => text(c.field))
        .filter((f): f is string => f !== undefined);
    }
  }
  return { header, arrays };
}

/**
 * QEasy's editor stores field lists flat with `id` / `parent_id`; nest them as `children` (a list already nested,
 * or without parent ids, is returned as it is). `id` and `parent_id` are dropped from the result.
 */
export function treeFromParentIds(list: readonly unknown[]): unknown[] {
  const hasParent = (o: Json) => o.parent_id !== undefined && o.parent_id !== null && o.parent_id !== "" && o.parent_id !== 0 && o.parent_id !== "0";
  if (!list.some((o) => isObject(o) && hasParent(o))) {
    return list.map((o) => {
      if (!isObject(o) || (o.id === undefined && o.parent_id === undefined)) return o;
      const { id: _id, parent_id: _p, ...rest } = o;
      return rest;
    });
  }
  const nodes = new Map<string, Json>();
  const roots: Json[] = [];
  const copies = list.map((o) => {
    if (!isObject(o)) return o;
    const { id: _id, parent_id: _p, ...rest } = o;
    const copy: Json = { ...rest };
    if (o.id !== undefined && o.id !== null) nodes.set(String(o.id), copy);
    return copy;
  });
  list.forEach((o, i) => {
    const copy = copies[i];
    if (!isObject(o) || !isObject(copy)) return;
    const parent = hasParent(o) ? nodes.get(String(o.parent_id)) : undefined;
    if (parent) {
      const children = Array.isArray(parent.children) ? (parent.children as unknown[]) : [];
      children.push(copy);
      parent.children = children;
    } else roots.push(copy);
  });
  return roots;
}

function convertSource(imp: Importer, src: unknown, path: Path): SourceParts | null {
  if (!isObject(src)) {
    imp.fail(path, "missing source metadata", 'add "source": { "api": "/open/…", "request": [ … ] }');
    return null;
  }
  const api = sourceApi(imp, src, path);
  if (api === null) return null;
  const checked = checkSourceSettings(imp, src, path, api);
  const out: SourceParts = { endpoint: api ?? "/open/unknown/query", params: {}, ...checked };
  if (src.id !== undefined) {
    const id = text(src.id);
    if (id && /^[\w.]+$/.test(id)) out.idField = id;
    else imp.fail([...path, "id"], `source id ${JSON.stringify(src.id)}`, 'name the id field directly, e.g. "io_id"');
  }
  convertRequestLists(imp, src, path, out);
  if (src.formatResponse !== undefined) {
    if (!Array.isArray(src.formatResponse)) imp.fail([...path, "formatResponse"], "formatResponse is not an array", "use [{ old, new, format }]");
    else {
      out.formatResponse = src.formatResponse.map((rule, i) => {
        if (isObject(rule)) imp.keys(rule, [...path, "formatResponse", i], ["old", "new", "format"], "formatResponse");
        return rule;
      });
    }
  }
  if (src.condition !== undefined) convertCondition(imp, src.condition, path, out);
  if (src.beatFlat !== undefined) {
    const bf = src.beatFlat;
    const paths = Array.isArray(bf) ? bf : typeof bf === "string" ? [bf] : null;
    if (!paths || paths.length !== 1 || typeof paths[0] !== "string") {
      imp.fail([...path, "beatFlat"], `beatFlat ${JSON.stringify(bf)}`, 'flatten exactly one detail array, e.g. ["items"]');
    } else out.flatten = { path: paths[0] };
  }
  return out;
}

/** The source's Jushuitan query path (QEasy's API names resolved); null when it names something else (already failed). */
function sourceApi(imp: Importer, src: Json, path: Path): string | undefined | null {
  const api = text(src.api);
  if (!api) return api;
  const resolved = resolveJstApi(api);
  if (resolved.path === null) {
    // One sentence, not a list of everything else a non-Jushuitan source config holds.
    if (resolved.suggestion) {
      imp.fail(
        [...path, "api"],
        `source api ${JSON.stringify(api)} is not a Jushuitan API name QEasy uses`,
        `did you mean "${resolved.suggestion}" (${resolveJstApi(resolved.suggestion).path})? Or write the /open/…/query path`,
      );
    } else {
      imp.fail(
        [...path, "api"],
        `source api ${JSON.stringify(api)} is not a Jushuitan open-platform query`,
        "jst-bridge reads Jushuitan (聚水潭) only: point source.api at a Jushuitan query such as /open/orders/out/simple/query (or orders.out.simple.query)",
      );
    }
    return null;
  }
  if (resolved.from) imp.notes.push(`source.api "${resolved.from}": QEasy's connector name for ${resolved.path}`);
  if (resolved.near) imp.notes.push(`source.api "${resolved.path}" is not an endpoint jst-bridge knows; did you mean ${resolved.near}? (kept as written)`);
  return resolved.path;
}

const SOURCE_KEYS = [
  "api",
  "method",
  "effect",
  "type",
  "id",
  "number",
  "name",
  "idCheck",
  "request",
  "otherRequest",
  "formatResponse",
  "condition",
  "beatFlat",
  "autoFillResponse",
  "response",
  "label",
  "describe",
] as const;

/** Refuses unknown keys and settings jst-bridge cannot honour (method, effect, idCheck: false), notes the ignored ones. */
function checkSourceSettings(imp: Importer, src: Json, path: Path, api: string | undefined): Pick<SourceParts, "responseFields"> {
  const out: Pick<SourceParts, "responseFields"> = {};
  imp.keys(src, path, SOURCE_KEYS, "source");
  if (!api) {
    imp.fail(
      [...path, "api"],
      `source api ${JSON.stringify(src.api ?? null)}`,
      'only Jushuitan open-platform queries ("/open/…/query") are supported as a source',
    );
  }
  if (src.autoFillResponse !== undefined) imp.notes.push("source.autoFillResponse: ignored (jst-bridge always reads the whole documented response)");
  if (src.idCheck === true) imp.notes.push("source.idCheck: kept by design (every document is written once under its deterministic key)");
  if (src.response !== undefined) {
    const fields = responseFields(src.response);
    if (fields) {
      out.responseFields = fields;
      imp.notes.push("source.response: QEasy's response field list is used only to check template paths (the documented response is read as it is)");
    } else imp.notes.push("source.response: ignored (not a list of { field, children })");
  }
  const method = text(src.method);
  if (method && method.toUpperCase() !== "POST") imp.fail([...path, "method"], `source method ${method}`, "Jushuitan queries are POST");
  const effect = text(src.effect) ?? text(src.type);
  if (effect && effect.toUpperCase() !== "QUERY")
    imp.fail([...path, src.effect !== undefined ? "effect" : "type"], `source effect ${effect}`, 'a source must be a "QUERY"');
  if (src.idCheck === false) {
    imp.fail(
      [...path, "idCheck"],
      "idCheck: false (overwrite already-seen ids)",
      "jst-bridge never overwrites a written document (deterministic keys); remove idCheck or set it to true",
    );
  }
  return out;
}

/** request and otherRequest: flat parameters (QEasy's editor stores them as a list with id / parent_id). */
function convertRequestLists(imp: Importer, src: Json, path: Path, out: SourceParts): void {
  for (const list of ["request", "otherRequest"] as const) {
    const raw = src[list];
    if (raw === undefined) continue;
    // QEasy's editor stores request lists flat with id / parent_id, like target fields.
    const items = Array.isArray(raw) ? treeFromParentIds(raw) : raw;
    if (!Array.isArray(items)) {
      imp.fail([...path, list], `${list} is not an array`, "give a list of { field, type, value }");
      continue;
    }
    items.forEach((item, i) => {
      if (!isObject(item)) imp.fail([...path, list, i], "request entry is not an object", "use { field, type, value }");
      else if (Array.isArray(item.children) && item.children.length > 0)
        imp.fail([...path, list, i, "children"], "nested request parameters", "flatten them into plain parameters");
      else convertParam(imp, item, [...path, list, i], out);
    });
  }
}

/** source.condition: groups of { field, logic, value }; a strictMode on any line becomes the flow's conditionMode. */
function convertCondition(imp: Importer, condition: unknown, path: Path, out: SourceParts): void {
  if (!Array.isArray(condition)) {
    imp.fail([...path, "condition"], "condition is not an array of groups", "use [[{ field, logic, value }]]");
    return;
  }
  let strict = false;
  out.condition = condition.map((group, g) => {
    const list = Array.isArray(group) ? group : [group];
    return list.map((c, i) => {
      const p: Path = [...path, "condition", g, ...(Array.isArray(group) ? [i] : [])];
      if (!isObject(c)) {
        imp.fail(p, "condition is not an object", "use { field, logic, value }");
        return c;
      }
      imp.keys(c, p, ["field", "logic", "value", "strictMode"], "condition");
      if (c.strictMode === true) strict = true;
      const { strictMode: _ignored, ...rest } = c;
      return rest;
    });
  });
  if (strict) {
    out.conditionMode = "strict";
    imp.notes.push('source.condition: strictMode became source.conditionMode "strict" (it applies to every line condition)');
  }
}

// ---- target ----

function convertField(imp: Importer, item: unknown, path: Path): FieldMapping | null {
  if (!isObject(item)) {
    imp.fail(path, "field is not an object", "use { field, type, value }");
    return null;
  }
  imp.keys(
    item,
    path,
    ["field", "label", "type", "value", "children", "describe", "default", "required", "is_required", "isRequired", "parser", "name", "id", "parent_id"],
    "target field",
  );
  const field = text(item.field);
  if (!field) {
    imp.fail([...path, "field"], "target field without a name", 'give it "field"');
    return null;
  }
  const typeName = text(item.type) ?? "string";
  let type = TYPE_MAP[typeName];
  if (!type) {
    imp.fail([...path, "type"], `field type ${JSON.stringify(typeName)}`, `use one of ${Object.keys(TYPE_MAP).join(", ")}`);
    type = "string";
  }
  const out: FieldMapping = { field, type };
  if (typeof item.label === "string") out.label = item.label;
  if (typeof item.describe === "string") out.describe = item.describe;
  if (item.default !== undefined && item.default !== "") out.default = item.default;
  const required = item.required ?? item.is_required ?? item.isRequired;
  if (required === true || required === "true" || required === 1 || required === "1") out.required = true;
  else if (required === false || required === "false" || required === 0 || required === "0") out.required = false;
  const value = item.value;
  if (value !== undefined && value !== null && value !== "") {
    const v = text(value);
    if (v === undefined) imp.fail([...path, "value"], `value of kind ${Array.isArray(value) ? "array" : typeof value}`, "use a template string");
    else {
      out.value = v;
      imp.scanTemplate(v);
    }
  }
  if (Array.isArray(item.children) && item.children.length > 0) {
    const children = treeFromParentIds(item.children)
      .map((c, i) => convertField(imp, c, [...path, "children", i]))
      .filter((c): c is FieldMapping => c !== null);
    out.children = children;
    if (type === "object") delete out.value;
  }
  if (item.parser !== undefined && item.parser !== null && item.parser !== "") {
    const parser = item.parser;
    const name = isObject(parser) ? text(parser.name) : text(parser);
    const params = isObject(parser) ? text(parser.params) : undefined;
    if (name === "ConvertObjectParser") {
      // {FNumber: value}: the wrapper Kingdee base-data fields need.
      const inner: FieldMapping = { field: params || "FNumber", type: type === "object" ? "string" : type };
      if (out.value !== undefined) inner.value = out.value;
      if (out.default !== undefined) inner.default = out.default;
      if (out.required) inner.required = true;
      return { field, type: "object", ...(out.label ? { label: out.label } : {}), ...(out.describe ? { describe: out.describe } : {}), children: [inner] };
    }
    if (name === "StringToArray") {
      out.format = params ? `StringToArray('${params}')` : "StringToArray";
      out.type = "array";
    } else if (name === "ArrayToString") {
      out.format = `implode('${params ?? ","}')`;
      out.type = "string";
    } else {
      imp.fail(
        [...path, "parser"],
        `parser ${JSON.stringify(name ?? parser)}`,
        "supported parsers: ConvertObjectParser, StringToArray, ArrayToString; nest the value with children instead",
      );
    }
  }
  return out;
}

function targetKind(imp: Importer, api: string, path: Path): { type: "tplus" | "kis"; operation: string } | null {
  const tplus = /^(?:.*\/tplus\/api\/v2\/)?([A-Za-z][A-Za-z0-9]*\/[A-Za-z][A-Za-z0-9]*)$/.exec(api);
  const kis = /^(?:.*\/koas\/)?((?:app|APP)\d+\/.+)$/.exec(api);
  const forced = imp.options.targetType;
  if (forced === "kis" || (!forced && kis && !/\/tplus\//.test(api))) {
    if (kis) return { type: "kis", operation: kis[1]!.replace(/^\/+/, "") };
    const bare = api.replace(/^\/+/, "").replace(/^koas\//, "");
    if (/^[A-Za-z0-9]+(\/[A-Za-z0-9_]+)+$/.test(bare)) return { type: "kis", operation: bare };
  }
  if (forced === "tplus" || (!forced && tplus)) {
    if (tplus) return { type: "tplus", operation: tplus[1]! };
  }
  imp.fail(path, `target api ${JSON.stringify(api)}`, 'use a T+ "/tplus/api/v2/<resource>/<action>" or KIS "/koas/<app>/…" path, or pass { targetType }');
  return null;
}

interface MergeParts {
  groupBy: string[];
  lineGroupBy?: string[];
  lines: string;
  calculate: Record<string, string>;
  headerCalculate?: Record<string, string>;
  maxLines?: number;
  /** lineGroupBy was not given but sums were: group lines by what the mapping reads (see lineFieldsRead). */
  implicitLineGroup?: boolean;
}

const ACCUMULATORS = ["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"];

function stringList(imp: Importer, v: unknown, path: Path): string[] {
  if (v === undefined || v === null || v === "") return [];
  if (typeof v === "string")
    return v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  imp.fail(path, `${JSON.stringify(v)} is not a field list`, 'use ["a", "b"] or "a,b"');
  return [];
}

function calculateMap(imp: Importer, v: unknown, path: Path): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) {
    imp.fail(path, "calculate is not an object", 'use { "items_qty": "$sum" }');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [field, acc] of Object.entries(v)) {
    if (typeof acc !== "string" || !ACCUMULATORS.includes(acc))
      imp.fail([...path, field], `accumulator ${JSON.stringify(acc)}`, `use one of ${ACCUMULATORS.join(", ")}`);
    else out[field] = acc;
  }
  return out;
}

function convertGroupCalculate(imp: Importer, gc: Json, path: Path, linesDefault: string | undefined): MergeParts | null {
  imp.keys(gc, path, ["headerGroup", "bodyGroup", "bodyName", "targetBodyName", "bodyMaxLine", "calculate"], "groupCalculate");
  const groupBy = stringList(imp, gc.headerGroup, [...path, "headerGroup"]);
  if (groupBy.length === 0)
    imp.fail([...path, "headerGroup"], "groupCalculate without headerGroup", "jst-bridge merges into one document per header group; list the header fields");
  const lines = text(gc.bodyName) ?? linesDefault;
  if (!lines) {
    imp.fail([...path, "bodyName"], "groupCalculate without bodyName", 'name the detail array, e.g. "items"');
    return null;
  }
  const parts: MergeParts = { groupBy, lines, calculate: calculateMap(imp, gc.calculate, [...path, "calculate"]) };
  if (gc.bodyGroup !== undefined) parts.lineGroupBy = stringList(imp, gc.bodyGroup, [...path, "bodyGroup"]);
  else if (Object.keys(parts.calculate).length > 0) {
    parts.lineGroupBy = [];
    parts.implicitLineGroup = true;
  }
  if (gc.bodyMaxLine !== undefined && gc.bodyMaxLine !== null) {
    const n = Number(gc.bodyMaxLine);
    if (Number.isInteger(n) && n > 0) parts.maxLines = n;
    else imp.fail([...path, "bodyMaxLine"], `bodyMaxLine ${JSON.stringify(gc.bodyMaxLine)}`, "use a whole number > 0");
  }
  return parts;
}

/** The `operation: { method: "merge", field, bodyName, header, body, bodySum … }` form (UNCERTAIN wire names; see docs). */
function convertMergeOperation(imp: Importer, op: Json, path: Path, linesDefault: string | undefined): MergeParts | null {
  imp.keys(
    op,
    path,
    ["method", "field", "bodyName", "header", "body", "bodySum", "headerSum", "headerGroup", "bodyGroup", "calculate", "bodyMaxLine", "targetBodyName"],
    "merge operation",
  );
  const groupBy = stringList(imp, op.field ?? op.headerGroup, [...path, op.field !== undefined ? "field" : "headerGroup"]);
  if (groupBy.length === 0) imp.fail([...path, "field"], "merge operation without a group field", 'give "field": "io_date_new" (comma-separate several)');
  const lines = text(op.bodyName) ?? linesDefault;
  if (!lines) {
    imp.fail([...path, "bodyName"], "merge operation without bodyName", 'name the detail array, e.g. "items"');
    return null;
  }
  const calculate = calculateMap(imp, op.calculate, [...path, "calculate"]);
  for (const f of stringList(imp, op.bodySum, [...path, "bodySum"])) calculate[f] = "$sum";
  const parts: MergeParts = { groupBy, lines, calculate };
  if (op.bodyGroup !== undefined) parts.lineGroupBy = stringList(imp, op.bodyGroup, [...path, "bodyGroup"]);
  else if (op.body !== undefined) parts.lineGroupBy = stringList(imp, op.body, [...path, "body"]).filter((f) => !(f in calculate));
  else if (Object.keys(calculate).length > 0) {
    parts.lineGroupBy = [];
    parts.implicitLineGroup = true;
  }
  const headerCalculate: Record<string, string> = {};
  for (const f of stringList(imp, op.header, [...path, "header"])) if (!groupBy.includes(f)) headerCalculate[f] = "$first";
  for (const f of stringList(imp, op.headerSum, [...path, "headerSum"])) headerCalculate[f] = "$sum";
  if (Object.keys(headerCalculate).length > 0) parts.headerCalculate = headerCalculate;
  if (op.bodyMaxLine !== undefined) {
    const n = Number(op.bodyMaxLine);
    if (Number.isInteger(n) && n > 0) parts.maxLines = n;
    else imp.fail([...path, "bodyMaxLine"], `bodyMaxLine ${JSON.stringify(op.bodyMaxLine)}`, "use a whole number > 0");
  }
  return parts;
}

/**
 * Line fields (names on a line of `lines`) read by the children mappings over `lines`: `{{items.sku_id}}` and a
 * plain `{{sku_id}}` give sku_id; paths into the parent, aggregates' per-line paths and nested arrays are left out.
 * On flattened rows a line field is named `<lines>_<field>`.
 */
function lineFieldsRead(fields: readonly FieldMapping[], lines: string, flattened: boolean): string[] {
  const out = new Set<string>();
  const visit = (list: readonly FieldMapping[], inLines: boolean) => {
    for (const f of list) {
      const isLines = f.type === "array" && typeof f.value === "string" && f.value.replace(/[{}\s]/g, "") === lines;
      if (inLines && f.value && !(f.type === "array" && f.children)) {
        let compiled;
        try {
          compiled = compileValue(f.value, { lineArrays: [lines] });
        } catch {
          continue; // reported when the flow is compiled
        }
        for (const path of compiled.fields) {
          if (path.startsWith("../") || path.includes("[]") || path.startsWith("parent.")) continue;
          const rest = path.startsWith(`${lines}.`) ? path.slice(lines.length + 1) : path;
          const name = rest.split(".")[0]!.replace(/\[\d+\]$/, "");
          if (name) out.add(flattened ? `${lines}_${name}` : name);
        }
      }
      if (f.children) visit(f.children, isLines || (inLines && f.type === "object"));
    }
  };
  visit(fields, false);
  return [...out];
}

function findKeyField(fields: FieldMapping[], names: readonly string[]): FieldMapping | undefined {
  for (const f of fields) if (names.includes(f.field) && f.type !== "object" && f.type !== "array") return f;
  for (const f of fields)
    if (f.type === "object" && f.children) {
      const hit = findKeyField(f.children, names);
      if (hit) return hit;
    }
  return undefined;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

function convertCron(imp: Importer, raw: unknown, path: Path): string | undefined {
  const expr = text(raw)?.trim();
  if (!expr) return undefined;
  let parts = expr.split(/\s+/);
  if (parts.length === 6) {
    // Quartz-style with seconds: drop them (platform crons have minute resolution).
    parts = parts.slice(1).map((p) => (p === "?" ? "*" : p));
    imp.notes.push(`crontab "${expr}" has a seconds field; it became "${parts.join(" ")}"`);
  }
  const cron = parts.map((p) => (p === "?" ? "*" : p)).join(" ");
  const problem = cronProblem(cron);
  if (problem) {
    imp.fail(path, `crontab ${JSON.stringify(expr)} (${problem})`, 'use 5 fields, e.g. "*/15 * * * *"');
    return undefined;
  }
  return cron;
}

type TargetKind = { type: "tplus" | "kis"; operation: string };

/** Converts a QEasy scheme into a native flow, with notes on the choices made. */
export function importQeasyDetailed(json: unknown, options: QeasyImportOptions = {}): QeasyImportResult {
  const imp = new Importer(options);
  if (!isObject(json))
    throw new QeasyImportError([
      {
        path: "",
        construct: `scheme of kind ${Array.isArray(json) ? "array" : typeof json}`,
        hint: "paste the scheme as one JSON object with source and target",
      },
    ]);
  imp.keys(json, [], ["name", "id", "description", "version", "source", "target", "crontab", "schedule"], "scheme");

  const src = convertSource(imp, json.source, ["source"]);
  const { target, fields, merge } = isObject(json.target)
    ? convertTarget(imp, json.target, src?.flatten?.path)
    : (imp.fail(["target"], "missing target metadata", 'add "target": { "api": "…", "request": [ … ] }'), { target: null, fields: [], merge: null });
  const externalKey = target ? resolveExternalKey(imp, target, fields, merge) : "{_merge_key}";
  const cron = convertSchedule(imp, json);
  if (imp.unsupported.length > 0) throw new QeasyImportError(imp.unsupported);

  const source = src!;
  const doc = assembleFlow(imp, json, options, source, target!, fields, externalKey);
  if (cron) doc.schedule = { cron };
  if (merge) addMergeOperation(imp, doc, merge, source, options);
  if (imp.usesMongoTable && !options.mongoQueryTable) {
    imp.notes.push(`_mongoQuery reads QEasy's store; it now reads reference table "lookup" — pass { mongoQueryTable } to name it`);
  }
  return { flow: loadFlow(doc), notes: imp.notes, ...(source.responseFields ? { responseFields: source.responseFields } : {}) };
}

/** The target metadata: operation, payload fields (envelope unwrapped) and the merge it asks for. */
function convertTarget(
  imp: Importer,
  tgt: Json,
  linesDefault: string | undefined,
): { target: TargetKind | null; fields: FieldMapping[]; merge: MergeParts | null } {
  imp.keys(
    tgt,
    ["target"],
    [
      "api",
      "method",
      "effect",
      "type",
      "idCheck",
      "request",
      "otherRequest",
      "operation",
      "groupCalculate",
      "id",
      "number",
      "name",
      "label",
      "describe",
      "targetBodyName",
      "autoFillResponse",
      "response",
    ],
    "target",
  );
  if (tgt.idCheck === true) imp.notes.push("target.idCheck: kept by design (the external key stops a second write of the same document)");
  if (tgt.autoFillResponse !== undefined) imp.notes.push("target.autoFillResponse: ignored (the target's answer is kept in the ledger: target id/code)");
  if (tgt.response !== undefined) imp.notes.push("target.response: ignored (the target clients read the answer themselves)");
  if (tgt.targetBodyName !== undefined)
    imp.notes.push(`target.targetBodyName ${JSON.stringify(tgt.targetBodyName)}: ignored (the detail array is the target field whose value names the lines)`);
  let target: TargetKind | null = null;
  const api = text(tgt.api);
  if (!api) imp.fail(["target", "api"], "target without api", 'give the target operation, e.g. "/tplus/api/v2/otherDispatch/Create"');
  else target = targetKind(imp, api, ["target", "api"]);
  const method = text(tgt.method);
  if (method && method.toUpperCase() !== "POST") imp.fail(["target", "method"], `target method ${method}`, "T+ and KIS writes are POST");
  if (tgt.idCheck === false)
    imp.fail(["target", "idCheck"], "idCheck: false", "jst-bridge never overwrites a written document; remove idCheck or set it to true");
  const fields = targetFields(imp, tgt, target);
  const merge = targetMerge(imp, tgt, linesDefault);
  if (merge?.implicitLineGroup) {
    // Sums without a body field list: summing every line into one would drop the SKU (and every other line field)
    // from the voucher. Lines are grouped by the non-summed line fields the mapping reads instead.
    const by = lineFieldsRead(fields, merge.lines, linesDefault !== undefined).filter((f) => !(f in merge.calculate) && !merge.groupBy.includes(f));
    merge.lineGroupBy = by;
    imp.notes.push(
      by.length > 0
        ? `operation: no body field list; lines are grouped by the line fields the mapping reads (${by.join(", ")}) and ${Object.keys(merge.calculate).join(", ")} summed per group`
        : `operation: no body field list and the mapping reads no other line field; all lines of a group become one line with ${Object.keys(merge.calculate).join(", ")} summed`,
    );
  }
  return { target, fields, merge };
}

/** target.request as field mappings, without the client's envelope; otherRequest connection settings noted. */
function targetFields(imp: Importer, tgt: Json, target: TargetKind | null): FieldMapping[] {
  let fields: FieldMapping[] = [];
  if (!Array.isArray(tgt.request) || tgt.request.length === 0)
    imp.fail(["target", "request"], "target without request fields", "list the payload fields as [{ field, type, value }]");
  else
    fields = treeFromParentIds(tgt.request)
      .map((f, i) => convertField(imp, f, ["target", "request", i]))
      .filter((f): f is FieldMapping => f !== null);
  // The clients own the envelopes ({"dto": …} for T+, {"Object": …} for KIS): unwrap them here.
  const wrapper = target?.type === "tplus" ? "dto" : target?.type === "kis" ? "Object" : undefined;
  if (wrapper && fields.length === 1 && fields[0]!.field === wrapper && fields[0]!.type === "object" && fields[0]!.children) {
    fields = fields[0]!.children;
    imp.notes.push(`target.request: the "${wrapper}" wrapper was removed (the ${target!.type === "tplus" ? "T+" : "KIS"} client adds it)`);
  }
  if (Array.isArray(tgt.otherRequest)) {
    tgt.otherRequest.forEach((o, i) => {
      const name = isObject(o) ? text(o.field) : undefined;
      if (name && TRANSPORT_FIELDS.has(name))
        imp.notes.push(`target.otherRequest ${name}: connection setting, configure it on the ${target?.type ?? "target"} connection instead`);
      else
        imp.fail(
          ["target", "otherRequest", i],
          `otherRequest ${JSON.stringify(name ?? o)}`,
          "put payload fields into request; connection settings (AccountDB) into the connection",
        );
    });
  } else if (tgt.otherRequest !== undefined) imp.fail(["target", "otherRequest"], "otherRequest is not an array", "use [{ field, value }]");
  return fields;
}

/** The merge the target asks for: operation.method "merge" or groupCalculate (not both). */
function targetMerge(imp: Importer, tgt: Json, linesDefault: string | undefined): MergeParts | null {
  let merge: MergeParts | null = null;
  if (tgt.operation !== undefined) {
    const op = tgt.operation;
    if (!isObject(op)) imp.fail(["target", "operation"], "operation is not an object", 'use { "method": "merge", … }');
    else if (op.method === "none" || op.method === undefined || op.method === "" || op.method === null)
      imp.notes.push('target.operation.method "none": ignored (each document is written on its own)');
    else if (op.method !== "merge")
      imp.fail(
        ["target", "operation", "method"],
        `operation method ${JSON.stringify(op.method)}`,
        'only "merge" is supported (documents are written one at a time)',
      );
    else merge = convertMergeOperation(imp, op, ["target", "operation"], linesDefault);
  }
  if (tgt.groupCalculate !== undefined) {
    if (merge) imp.fail(["target", "groupCalculate"], "both operation merge and groupCalculate", "keep one of them");
    else if (!isObject(tgt.groupCalculate))
      imp.fail(["target", "groupCalculate"], "groupCalculate is not an object", "use { headerGroup, bodyGroup, calculate }");
    else merge = convertGroupCalculate(imp, tgt.groupCalculate, ["target", "groupCalculate"], linesDefault);
  }
  return merge;
}

/** The deterministic external key: T+ ExternalCode, KIS FBillNo (merged documents: the merge key). */
function resolveExternalKey(imp: Importer, target: TargetKind, fields: FieldMapping[], merge: MergeParts | null): string {
  const names = target.type === "tplus" ? ["ExternalCode"] : ["FBillNo"];
  const keyField = findKeyField(fields, names);
  if (merge) {
    if (keyField) {
      if (keyField.value !== "{_merge_key}")
        imp.notes.push(`${keyField.field}: was ${JSON.stringify(keyField.value ?? "")}; merged documents use the deterministic merge key {_merge_key}`);
      keyField.value = "{_merge_key}";
    } else {
      fields.unshift({ field: names[0]!, type: "string", value: "{_merge_key}", label: "external key (added by the importer)" });
      imp.notes.push(`${names[0]}: added with {_merge_key} (merged documents need a deterministic key)`);
    }
    return "{_merge_key}";
  }
  if (keyField?.value) return keyField.value;
  imp.fail(
    ["target", "request"],
    `no ${names[0]} field with a value`,
    `add { "field": "${names[0]}", "value": "{io_id}" } (the deterministic key that stops duplicate writes)`,
  );
  return "{_merge_key}";
}

/** crontab, or schedule as a string or { crontab | cron }. */
function convertSchedule(imp: Importer, json: Json): string | undefined {
  const schedule = json.schedule;
  if (json.crontab !== undefined) return convertCron(imp, json.crontab, ["crontab"]);
  if (typeof schedule === "string") return convertCron(imp, schedule, ["schedule"]);
  if (isObject(schedule)) {
    imp.keys(schedule, ["schedule"], ["crontab", "cron"], "schedule");
    return convertCron(imp, schedule.crontab ?? schedule.cron, ["schedule", schedule.crontab !== undefined ? "crontab" : "cron"]);
  }
  return undefined;
}

/** The native flow document (before the schedule and the merge operation are added). */
function assembleFlow(
  imp: Importer,
  json: Json,
  options: QeasyImportOptions,
  source: SourceParts,
  target: TargetKind,
  fields: FieldMapping[],
  externalKey: string,
): FlowInput {
  const endpointSlug = slug(source.endpoint.replace(/^\/open\//, "").replace(/\/query$/, ""));
  const id = options.id ?? `jst-${endpointSlug}-to-${target.type}`;
  const doc: FlowInput = {
    id,
    name: options.name ?? text(json.name) ?? id,
    version: options.version ?? 1,
    source: {
      type: "jushuitan",
      endpoint: source.endpoint,
      params: source.params as Record<string, string | number | boolean | (string | number)[]>,
      paging: { type: "window", ...(source.pageSize ? { pageSize: Math.min(source.pageSize, 100) } : {}) },
      ...(source.timeField ? { timeField: source.timeField } : {}),
      ...(source.idField ? { idField: source.idField } : {}),
      ...(source.formatResponse ? { formatResponse: source.formatResponse as never } : {}),
      ...(source.condition ? { condition: source.condition as never } : {}),
      ...(source.conditionMode ? { conditionMode: source.conditionMode } : {}),
      ...(source.flatten ? { flatten: source.flatten } : {}),
    },
    target: {
      type: target.type,
      operation: target.operation,
      externalKey,
      fields,
      ...(imp.usesMongoTable ? { defaultLookupTable: imp.mongoTable() } : {}),
    } as never,
    incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
    references: [...imp.tables].map(([name, keyField]) => ({
      name,
      keyField,
      description: `Imported from QEasy lookups; fill this reference table before running (rows keyed by ${keyField}).`,
    })),
  };
  if (typeof json.description === "string") doc.description = json.description;
  return doc;
}

/** The flow's merge operation, with a period (and a day of lookback) when it groups on a formatted date. */
function addMergeOperation(imp: Importer, doc: FlowInput, merge: MergeParts, source: SourceParts, options: QeasyImportOptions): void {
  const prefix = options.mergeKeyPrefix ?? "JST";
  const op: Record<string, unknown> = {
    type: "merge",
    groupBy: merge.groupBy,
    lines: merge.lines,
    calculate: merge.calculate,
    keyTemplate: `${prefix}-${merge.groupBy.map((f) => `{${f}}`).join("-")}`,
  };
  if (merge.lineGroupBy) op.lineGroupBy = merge.lineGroupBy;
  if (merge.headerCalculate) op.headerCalculate = merge.headerCalculate;
  if (merge.maxLines) op.maxLines = merge.maxLines;
  // A group on a day field (formatResponse … format "date") waits until its day is closed.
  const dayField = merge.groupBy.find((f) => (source.formatResponse ?? []).some((r) => isObject(r) && r.new === f && r.format === "date"));
  if (dayField) {
    op.period = { field: dayField, unit: "day" };
    doc.incremental = { lookbackMinutes: 1440, endLagMinutes: 5, windowDays: 1 };
    imp.notes.push(
      `operation.period: groups on ${dayField} are written once their day is closed; lookback raised to one day so late documents reach a supplement`,
    );
  } else {
    imp.notes.push("operation: merged groups are written as soon as they are read (add operation.period to wait for a closed period)");
  }
  doc.operation = op as never;
  imp.notes.push(`operation.keyTemplate: ${String(op.keyTemplate)} (deterministic per group)`);
}

/** Converts a QEasy scheme into a native flow; throws QeasyImportError listing every unsupported construct. */
export function importQeasy(json: unknown, options: QeasyImportOptions = {}): Flow {
  return importQeasyDetailed(json, options).flow;
}

/** Converts a lone QEasy field list (flat with id/parent_id or nested); throws QeasyImportError listing every problem. */
export function convertQeasyFields(list: unknown, options: QeasyImportOptions = {}): { fields: FieldMapping[]; notes: string[]; tables: Map<string, string> } {
  const imp = new Importer(options);
  if (!Array.isArray(list)) throw new QeasyImportError([{ path: "", construct: "a field list must be an array", hint: "paste [{ field, type, value }, …]" }]);
  const fields = treeFromParentIds(list)
    .map((f, i) => convertField(imp, f, [i]))
    .filter((f): f is FieldMapping => f !== null);
  if (imp.unsupported.length > 0) throw new QeasyImportError(imp.unsupported);
  return { fields, notes: imp.notes, tables: imp.tables };
}
