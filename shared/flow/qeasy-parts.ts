/**
 * What people copy out of QEasy: a whole scheme, a lone source config (`"type": "QUERY"`), a lone target config
 * (`"type": "EXECUTE"`), a field list, or a formatResponse / condition / operation block. Each is detected (or named
 * with `part`), converted with the scheme importer, compiled (a malformed template is refused with its column), and
 * its template paths are checked against the source endpoint's documented fields and a sample when given.
 */
import { ConfigError } from "../errors.ts";
import { compileMapping } from "../transform/map.ts";
import { MERGE_FIELDS } from "../transform/merge.ts";
import { DOCUMENTED_FIELDS, type DocumentedFields } from "./jst-catalog.ts";
import { compileFlow } from "./pipeline.ts";
import { preview } from "./preview.ts";
import { convertQeasyFields, importQeasyDetailed, type QeasyImportOptions } from "./qeasy-import.ts";
import type { FieldMapping, Flow } from "./schema.ts";
import { unresolvedSourcePaths } from "./source-paths.ts";
import { findUnresolvedPaths, type UnresolvedPath } from "./unresolved.ts";

export const QEASY_PARTS = ["scheme", "source", "target", "fields", "formatResponse", "condition", "operation"] as const;
export type QeasyPart = (typeof QEASY_PARTS)[number];

export interface QeasyPartOptions extends QeasyImportOptions {
  /** Which part `json` is; detected when absent. */
  part?: QeasyPart;
  /** Source documents to check template paths on (besides the documented fields). */
  sample?: readonly Record<string, unknown>[];
  /** Source endpoint for fragments without a source (`target`, `fields`): checks their paths against its documented fields. */
  endpoint?: string;
}

export interface QeasyPartResult {
  part: QeasyPart;
  /** The native equivalent: a flow for a scheme, `{ source }`, `{ target, operation?, references }`, `{ fields }`, `{ formatResponse }`, `{ condition }`, `{ operation }`. */
  result: unknown;
  notes: string[];
  /** Template paths that neither the documented fields nor the sample resolve. */
  unresolved: UnresolvedPath[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const kindOf = (o: Json) => String(o.type ?? o.effect ?? "").toUpperCase();

/** The part a pasted JSON value is, or null. */
export function detectPart(json: unknown): QeasyPart | null {
  if (Array.isArray(json)) {
    if (json.length > 0 && json.every((x) => isObject(x) && "old" in x && "new" in x)) return "formatResponse";
    if (json.length > 0 && json.every((g) => Array.isArray(g) || (isObject(g) && "logic" in g))) return "condition";
    if (json.length > 0 && json.every((x) => isObject(x) && "field" in x)) return "fields";
    return null;
  }
  if (!isObject(json)) return null;
  if ("source" in json || "target" in json) return "scheme";
  if ("formatResponse" in json && !("api" in json)) return "formatResponse";
  if ("condition" in json && !("api" in json)) return "condition";
  if (("operation" in json || "groupCalculate" in json) && !("api" in json)) return "operation";
  if (json.method === "merge" || json.method === "none") return "operation";
  if ("api" in json) {
    const kind = kindOf(json);
    if (kind === "QUERY") return "source";
    if (kind === "EXECUTE") return "target";
    const api = String(json.api);
    return /^\/?open\/|^[a-z]+(\.[a-z]+)*\.query$/i.test(api) && !/tplus|koas/i.test(api) ? "source" : "target";
  }
  if ("request" in json && Array.isArray(json.request)) return "fields";
  return null;
}

const PLACEHOLDER_SOURCE = "/open/other/inout/query";
const placeholderTarget = (options: QeasyImportOptions): Json =>
  options.targetType === "kis"
    ? { api: "/koas/app007104/miscellaneousreceipt/create", request: [{ field: "FBillNo", value: "{io_id}" }] }
    : { api: "/tplus/api/v2/otherDispatch/Create", request: [{ field: "ExternalCode", value: "{io_id}" }] };

const notesAbout = (notes: string[], prefixes: string[]) => notes.filter((n) => prefixes.some((p) => n.startsWith(p)));

/** A record with every field a flow's mapping can see when the source returns its documented fields. */
export function documentedRecord(flow: Flow, extra?: DocumentedFields): Record<string, unknown> | null {
  const header = documentedSource(flow, extra);
  if (!header) return null;
  for (const rule of flow.source.formatResponse ?? []) {
    // A rule whose old path is not documented creates nothing (reported by unresolvedSourcePaths).
    if (!readsSomething(header, rule.old)) continue;
    const [first, ...rest] = rule.new.split(".");
    const line = (header[first!] as Record<string, unknown>[] | undefined)?.[0];
    if (rest.length === 1 && Array.isArray(header[first!]) && line) line[rest[0]!] = "x";
    else header[rule.new] = "x";
  }
  return afterFormat(flow, header);
}

function readsSomething(record: Record<string, unknown>, path: string): boolean {
  let cur: unknown = record;
  for (const key of path.split(".")) {
    if (Array.isArray(cur)) cur = cur[0];
    if (cur === null || typeof cur !== "object") return false;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur !== undefined;
}

/** A source document as fetched (before formatResponse) with the endpoint's documented fields, or null. */
function documentedSource(flow: Flow, extra?: DocumentedFields): Record<string, unknown> | null {
  const doc = DOCUMENTED_FIELDS[flow.source.endpoint];
  if (!doc && !extra) return null;
  const header: Record<string, unknown> = {};
  const arrays = new Map<string, Set<string>>();
  for (const d of [doc, extra]) {
    if (!d) continue;
    for (const f of d.header) header[f] = "x";
    for (const [name, fields] of Object.entries(d.arrays)) {
      const set = arrays.get(name) ?? new Set<string>();
      for (const f of fields) set.add(f);
      arrays.set(name, set);
    }
  }
  for (const [name, fields] of arrays) header[name] = [Object.fromEntries([...fields].map((f) => [f, "x"]))];
  return header;
}

function afterFormat(flow: Flow, header: Record<string, unknown>): Record<string, unknown> {
  let record: Record<string, unknown> = header;
  const flat = flow.source.flatten?.path;
  if (flat) {
    const line = (header[flat] as Record<string, unknown>[] | undefined)?.[0] ?? {};
    record = Object.fromEntries(Object.entries(header).filter(([k]) => k !== flat));
    for (const [k, v] of Object.entries(line)) record[`${flat}_${k}`] = v;
  }
  const op = flow.operation;
  if (op?.type === "merge") {
    const merged: Record<string, unknown> = {};
    for (const f of [...op.groupBy, ...Object.keys(op.headerCalculate ?? {}), ...MERGE_FIELDS]) merged[f] = "x";
    const source = flat ? record : ((record[op.lines] as Record<string, unknown>[] | undefined)?.[0] ?? {});
    const line = op.lineGroupBy ? Object.fromEntries([...op.lineGroupBy, ...Object.keys(op.calculate ?? {})].map((f) => [f, "x"])) : source;
    merged[op.lines] = [line];
    record = merged;
  }
  return record;
}

/**
 * Template paths of a flow that neither the source endpoint's documented response fields (plus `extra`, e.g.
 * QEasy's `response` list) nor `options.sample` resolve. Notes what could not be checked.
 */
export function checkFlowPaths(flow: Flow, notes: string[], options: Pick<QeasyPartOptions, "sample"> = {}, extra?: DocumentedFields): UnresolvedPath[] {
  return checkPaths(flow, notes, options, extra);
}

function checkPaths(flow: Flow, notes: string[], options: Pick<QeasyPartOptions, "sample">, extra?: DocumentedFields): UnresolvedPath[] {
  const mapping = compileFlow(flow).mapping;
  const found = new Map<string, UnresolvedPath>();
  const record = documentedRecord(flow, extra);
  const sourceRecord = documentedSource(flow, extra);
  if (sourceRecord) for (const u of unresolvedSourcePaths(flow, [sourceRecord])) found.set(`${u.flowPath} ${u.path}`, u);
  if (record) for (const u of findUnresolvedPaths(mapping, [record])) found.set(`${u.flowPath} ${u.path}`, u);
  else if (!options.sample)
    notes.push(`paths: the response fields of ${flow.source.endpoint} are not documented here; give a sample (--sample docs.json) to check the template paths`);
  if (options.sample && options.sample.length > 0) {
    for (const u of preview(flow, options.sample, { trace: false }).warnings) {
      const key = `${u.flowPath} ${u.path}`;
      if (!found.has(key)) found.set(key, { ...u, message: `${u.message} (in the sample)` });
    }
  }
  return [...found.values()];
}

/** Imports any QEasy part; throws QeasyImportError (unsupported constructs) or TemplateSyntaxError (with the column). */
export function importQeasyPart(json: unknown, options: QeasyPartOptions = {}): QeasyPartResult {
  const part = options.part ?? detectPart(json);
  if (!part) {
    throw new ConfigError("cannot tell which part of a QEasy scheme this is", {
      hint: `name it with --part ${QEASY_PARTS.join("|")}; a scheme has source and target, a source config "type": "QUERY", a target config "type": "EXECUTE"`,
    });
  }
  const endpoint = options.endpoint ?? PLACEHOLDER_SOURCE;
  switch (part) {
    case "scheme": {
      const { flow, notes, responseFields } = importQeasyDetailed(json, options);
      return { part, result: flow, notes, unresolved: checkPaths(flow, notes, options, responseFields) };
    }
    case "source": {
      const { flow, notes } = importQeasyDetailed({ source: json, target: placeholderTarget(options) }, options);
      return { part, result: { source: flow.source, references: flow.references }, notes: notesAbout(notes, ["source", "_mongoQuery"]), unresolved: [] };
    }
    case "target": {
      const { flow, notes } = importQeasyDetailed({ source: { api: endpoint }, target: json }, options);
      const result: Json = { target: flow.target, references: flow.references };
      if (flow.operation) result.operation = flow.operation;
      const kept = notesAbout(notes, ["target", "operation", "_mongoQuery", "ExternalCode", "FBillNo"]);
      return { part, result, notes: kept, unresolved: options.endpoint || options.sample ? checkPaths(flow, kept, options) : [] };
    }
    case "fields": {
      const list = isObject(json) ? json.request : json;
      const { fields, notes } = convertQeasyFields(list, options);
      compileMapping({ target: { externalKey: "-", fields: fields as FieldMapping[] as never } });
      let unresolved: UnresolvedPath[] = [];
      if (options.endpoint || options.sample) {
        const { flow } = importQeasyDetailed({ source: { api: endpoint }, target: placeholderTarget(options) }, options);
        const withFields = { ...flow, target: { ...flow.target, fields } } as Flow;
        unresolved = checkPaths(withFields, notes, options);
      }
      return { part, result: { fields }, notes, unresolved };
    }
    case "formatResponse":
    case "condition": {
      const block = isObject(json) ? json[part] : json;
      const { flow, notes } = importQeasyDetailed({ source: { api: endpoint, [part]: block }, target: placeholderTarget(options) }, options);
      compileFlow(flow);
      const value = part === "formatResponse" ? flow.source.formatResponse : flow.source.condition;
      const result: Json = { [part]: value };
      if (part === "condition" && flow.source.conditionMode) result.conditionMode = flow.source.conditionMode;
      return { part, result, notes: notesAbout(notes, ["source.condition", "source.formatResponse"]), unresolved: [] };
    }
    case "operation": {
      const target: Json = { ...placeholderTarget(options) };
      if (isObject(json) && ("operation" in json || "groupCalculate" in json)) {
        if (json.operation !== undefined) target.operation = json.operation;
        if (json.groupCalculate !== undefined) target.groupCalculate = json.groupCalculate;
      } else target.operation = json;
      const { flow, notes } = importQeasyDetailed({ source: { api: endpoint }, target }, options);
      return { part, result: { operation: flow.operation ?? null }, notes: notesAbout(notes, ["operation", "target.operation"]), unresolved: [] };
    }
  }
}
