/**
 * The compiled pipeline of one flow: formatResponse → condition → flatten → merge → map. Everything is
 * compiled once (`compileFlow`), then the engine calls it per page. A failure in one document is caught
 * and reported for that document (the engine dead-letters it and goes on); nothing here does I/O.
 *
 * Non-merge flows: `run(page)` maps each document as it comes.
 * Merge flows: groups span pages, so the engine calls `prepare(page)` per page, keeps the prepared
 * records, and calls `assemble(records, { closedBefore, written })` + `mapDocuments` once the window is
 * read (or simply `run(allDocs, …)` when it holds them all).
 */
import { BridgeError } from "../errors.ts";
import { contentHash } from "../engine/hash.ts";
import { compileValue, type CompiledValue, type LookupTables, type TemplateVars } from "../template/index.ts";
import { DEFAULT_ZONE } from "../util/time.ts";
import { compileCondition } from "../transform/condition.ts";
import { compileFlatten } from "../transform/flatten.ts";
import { compileFormatRules } from "../transform/format-response.ts";
import { compileMapping, type CompiledMapping, type TraceEntry } from "../transform/map.ts";
import { compileMerge, type CompiledMerge, type MergeInput } from "../transform/merge.ts";
import { planMerge, type HeldGroup, type SkippedMember, type WrittenLookup } from "../transform/merge-policy.ts";
import type { Flow } from "./schema.ts";
import { linesFieldOf } from "./semantic.ts";

/** A record after formatResponse/condition/flatten, tagged with its source document id. */
export type PreparedRecord = MergeInput;

/** What goes to the target: one per source document, or one per merged group/part/supplement. */
export interface AssembledDocument {
  /** Source ids it contains. */
  members: string[];
  record: Record<string, unknown>;
  /** Merge key parts, for merged documents. */
  merge?: { key: string; groupKey: string; part: number; parts: number; supplement: number };
}

export interface TargetDocument {
  externalKey: string;
  payload: Record<string, unknown>;
  members: string[];
  /** Content hash of the payload (an unchanged re-read is skipped; a changed one follows target.onExisting). */
  hash: string;
  trace?: TraceEntry[];
  merge?: AssembledDocument["merge"];
}

export interface Dropped {
  id: string;
  reason: string;
}

export interface DocumentError {
  /** The source id; for a merged document, its external key (members lists the source ids). */
  id: string;
  members?: string[];
  error: BridgeError;
}

export interface PrepareResult {
  records: PreparedRecord[];
  dropped: Dropped[];
  errors: DocumentError[];
}

export interface AssembleOptions {
  vars: TemplateVars;
  /** Merge flows: groups whose period ends after this instant are held (docs/merge-policy.md). */
  closedBefore?: number;
  /** Merge flows: groups already written (late members become supplements). */
  written?: WrittenLookup;
}

export interface AssembleResult {
  documents: AssembledDocument[];
  held: HeldGroup[];
  skipped: SkippedMember[];
  errors: DocumentError[];
}

export interface MapOptions {
  vars: TemplateVars;
  lookups?: LookupTables;
  trace?: boolean;
}

export interface RunOptions extends AssembleOptions {
  lookups?: LookupTables;
  trace?: boolean;
}

export interface RunResult {
  documents: TargetDocument[];
  dropped: Dropped[];
  errors: DocumentError[];
  held: HeldGroup[];
  skipped: SkippedMember[];
}

export interface CompiledFlow {
  readonly flow: Flow;
  readonly merges: boolean;
  readonly mapping: CompiledMapping;
  /** The id of a source document (source.idField). */
  sourceId(doc: Record<string, unknown>): string;
  /** Request params for one window/page: templates evaluated with the run variables. */
  requestParams(vars: TemplateVars): Record<string, unknown>;
  prepare(docs: readonly Record<string, unknown>[]): PrepareResult;
  assemble(records: readonly PreparedRecord[], options: AssembleOptions): AssembleResult;
  mapDocuments(documents: readonly AssembledDocument[], options: MapOptions): { documents: TargetDocument[]; errors: DocumentError[] };
  /** All stages over one batch of source documents. */
  run(docs: readonly Record<string, unknown>[], options: RunOptions): RunResult;
}

function asBridgeError(error: unknown, id: string): BridgeError {
  if (error instanceof BridgeError) return error;
  return new BridgeError("pipeline_failed", `document ${id}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Compiles a validated flow (see loadFlow). Throws TemplateSyntaxError on a bad template. */
export function compileFlow(flow: Flow): CompiledFlow {
  const timezone = flow.timezone ?? DEFAULT_ZONE;
  const source = flow.source;
  const flatten = source.flatten ? compileFlatten(source.flatten) : null;
  const mergeOp = flow.operation?.type === "merge" ? flow.operation : undefined;
  const merge: CompiledMerge | null = mergeOp ? compileMerge(mergeOp, { flatRows: flatten !== null, timezone }) : null;
  const mapping = compileMapping(flow);
  const params = compileParams(source.params);
  const sourceId = sourceIdOf(source.idField);
  const prepare = prepareStage(flow, sourceId, flatten);
  const assemble = assembleStage(merge);
  const mapDocuments = mapStage(mapping);
  return {
    flow,
    merges: merge !== null,
    mapping,
    sourceId,
    requestParams: (vars) => requestParams(params, vars),
    prepare,
    assemble,
    mapDocuments,
    run(docs, options) {
      const prepared = prepare(docs);
      const assembled = assemble(prepared.records, options);
      const mapped = mapDocuments(assembled.documents, options);
      return {
        documents: mapped.documents,
        dropped: prepared.dropped,
        errors: [...prepared.errors, ...assembled.errors, ...mapped.errors],
        held: assembled.held,
        skipped: assembled.skipped,
      };
    },
  };
}

type CompiledParam = { key: string; value: CompiledValue | unknown[] | number | boolean };

/** source.params with their templates compiled (strings, and strings inside arrays). */
function compileParams(params: Flow["source"]["params"]): CompiledParam[] {
  return Object.entries(params).map(([key, value]) => ({
    key,
    value:
      typeof value === "string"
        ? compileValue(value, { path: `source.params.${key}` })
        : Array.isArray(value)
          ? value.map((v, i) => (typeof v === "string" ? compileValue(v, { path: `source.params.${key}[${i}]` }) : v))
          : value,
  }));
}

function requestParams(params: readonly CompiledParam[], vars: TemplateVars): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const scope = { record: {}, vars };
  for (const p of params) {
    if (Array.isArray(p.value)) out[p.key] = p.value.map((v) => (isCompiled(v) ? v.evaluate(scope) : v));
    else out[p.key] = isCompiled(p.value) ? p.value.evaluate(scope) : p.value;
  }
  return out;
}

/** A document's id at source.idField (a dotted path); "" when it has none. */
function sourceIdOf(idField: string): (doc: Record<string, unknown>) => string {
  const idPath = idField.split(".");
  return (doc) => {
    let cur: unknown = doc;
    for (const key of idPath) cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
    return cur === undefined || cur === null ? "" : String(cur);
  };
}

/** formatResponse, the source condition and flatten, per document: records to merge/map, dropped documents, errors. */
function prepareStage(
  flow: Flow,
  sourceId: (doc: Record<string, unknown>) => string,
  flatten: ReturnType<typeof compileFlatten> | null,
): CompiledFlow["prepare"] {
  const source = flow.source;
  const timezone = flow.timezone ?? DEFAULT_ZONE;
  const format = compileFormatRules(source.formatResponse ?? [], timezone);
  const condition = compileCondition(source.condition ?? [], { mode: source.conditionMode, linesField: linesFieldOf(flow), timezone });
  return (docs) => {
    const out: PrepareResult = { records: [], dropped: [], errors: [] };
    for (let d = 0; d < docs.length; d++) {
      const doc = docs[d]!;
      const id = sourceId(doc);
      if (id === "") {
        out.errors.push({
          id: `#${d}`,
          error: new BridgeError("source_id_missing", `document #${d} of the batch has no ${source.idField}`, {
            hint: `Set source.idField to the field that identifies a document (now "${source.idField}").`,
          }),
        });
        continue;
      }
      try {
        const formatted = format(doc);
        const verdict = condition(formatted);
        if (!verdict.keep) {
          out.dropped.push({ id, reason: verdict.reason });
          continue;
        }
        if (flatten) {
          const rows = flatten(verdict.doc);
          if (rows.length === 0) out.dropped.push({ id, reason: `no ${source.flatten!.path} lines to flatten` });
          for (let i = 0; i < rows.length; i++) out.records.push({ id, record: rows[i]!, seq: i });
        } else {
          out.records.push({ id, record: verdict.doc });
        }
      } catch (error) {
        out.errors.push({ id, error: asBridgeError(error, id) });
      }
    }
    return out;
  };
}

/** Without a merge every record is a document; with one, the merge plan decides what is written, held or skipped. */
function assembleStage(merge: CompiledMerge | null): CompiledFlow["assemble"] {
  return (records, options) => {
    if (!merge) {
      return { documents: records.map((r) => ({ members: [r.id], record: r.record })), held: [], skipped: [], errors: [] };
    }
    const plan = planMerge(records, merge, options);
    return {
      documents: plan.documents.map((d) => ({
        members: d.members,
        record: d.record,
        merge: { key: d.key, groupKey: d.groupKey, part: d.part, parts: d.parts, supplement: d.supplement },
      })),
      held: plan.held,
      skipped: plan.skipped,
      errors: plan.errors,
    };
  };
}

/** The field mapping per assembled document, with its external key and content hash. */
function mapStage(mapping: ReturnType<typeof compileMapping>): CompiledFlow["mapDocuments"] {
  return (documents, options) => {
    const result: { documents: TargetDocument[]; errors: DocumentError[] } = { documents: [], errors: [] };
    const scope = { vars: options.vars, lookups: options.lookups, trace: options.trace };
    for (const doc of documents) {
      try {
        const mapped = mapping.map(doc.record, scope);
        const out: TargetDocument = { externalKey: mapped.externalKey, payload: mapped.payload, members: doc.members, hash: contentHash(mapped.payload) };
        if (mapped.trace) out.trace = mapped.trace;
        if (doc.merge) out.merge = doc.merge;
        result.documents.push(out);
      } catch (error) {
        const id = doc.merge ? doc.merge.key : (doc.members[0] ?? "?");
        const entry: DocumentError = { id, error: asBridgeError(error, id) };
        if (doc.merge) entry.members = doc.members;
        result.errors.push(entry);
      }
    }
    return result;
  };
}

function isCompiled(v: unknown): v is CompiledValue {
  return v !== null && typeof v === "object" && typeof (v as CompiledValue).evaluate === "function";
}
