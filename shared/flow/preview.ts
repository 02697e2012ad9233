/**
 * Preview: run a flow over given source documents and reference tables without writing anything,
 * returning the target payloads with their keys, members and per-field traces, plus what was dropped
 * (conditions), held (merge periods still open) and failed (per document). The dry run and the HTTP
 * preview endpoint use it; the fixture tests too.
 */
import type { BridgeError } from "../errors.ts";
import type { LookupTables, TemplateVars } from "../template/index.ts";
import type { TraceEntry } from "../transform/map.ts";
import type { HeldGroup, SkippedMember, WrittenLookup } from "../transform/merge-policy.ts";
import { compileFlow, type CompiledFlow, type Dropped } from "./pipeline.ts";
import { loadFlow } from "./schema.ts";
import { unresolvedSourcePaths } from "./source-paths.ts";
import { findUnresolvedPaths, type UnresolvedPath } from "./unresolved.ts";

export type TableRows = Record<string, ReadonlyArray<Record<string, unknown>>>;

/** In-memory reference tables (a name → rows map) as the template language's LookupTables. */
export function lookupTables(tables: TableRows): LookupTables {
  return { get: (name) => (Object.prototype.hasOwnProperty.call(tables, name) ? tables[name] : undefined) };
}

export interface PreviewOptions {
  tables?: TableRows | LookupTables;
  /** Run variables; defaults: LAST_SYNC_TIME = CURRENT_TIME − 1 day, CURRENT_TIME = now. */
  vars?: Partial<TemplateVars>;
  /** Merge flows: hold groups whose period is not closed before this instant (default: all closed). */
  closedBefore?: number;
  /** Merge flows: groups written before (late members become supplements). */
  written?: WrittenLookup;
  /** Per-field traces (default true). */
  trace?: boolean;
}

export interface PreviewDocument {
  externalKey: string;
  payload: Record<string, unknown>;
  members: string[];
  hash: string;
  trace?: TraceEntry[];
}

export interface PreviewResult {
  documents: PreviewDocument[];
  dropped: Dropped[];
  errors: { id: string; members?: string[]; error: BridgeError }[];
  held: HeldGroup[];
  skipped: SkippedMember[];
  /** Template paths that resolved to nothing for every record mapped (with the nearest existing paths). */
  warnings: UnresolvedPath[];
}

function isLookupTables(t: TableRows | LookupTables): t is LookupTables {
  return typeof (t as LookupTables).get === "function";
}

/** `flow` may be a raw JSON document or a loaded Flow (both validated here), or a compiled flow. */
export function preview(flow: unknown, sourceDocs: readonly Record<string, unknown>[], options: PreviewOptions = {}): PreviewResult {
  const compiled: CompiledFlow = isCompiledFlow(flow) ? flow : compileFlow(loadFlow(flow));
  const now = options.vars?.currentTime ?? Date.now();
  const vars: TemplateVars = {
    lastSyncTime: options.vars?.lastSyncTime ?? now - 86_400_000,
    currentTime: now,
    ...options.vars,
    timezone: options.vars?.timezone ?? compiled.flow.timezone,
  };
  if (vars.timezone === undefined) delete vars.timezone;
  const tables = options.tables ? (isLookupTables(options.tables) ? options.tables : lookupTables(options.tables)) : undefined;
  // compiled.run, stage by stage, so the assembled records can be checked for paths that never resolve.
  const prepared = compiled.prepare(sourceDocs);
  const assembled = compiled.assemble(prepared.records, { vars, closedBefore: options.closedBefore, written: options.written });
  const mapped = compiled.mapDocuments(assembled.documents, { vars, lookups: tables, trace: options.trace ?? true });
  const result = {
    documents: mapped.documents,
    dropped: prepared.dropped,
    errors: [...prepared.errors, ...assembled.errors, ...mapped.errors],
    held: assembled.held,
    skipped: assembled.skipped,
  };
  return {
    documents: result.documents.map((d) => {
      const doc: PreviewDocument = { externalKey: d.externalKey, payload: d.payload, members: d.members, hash: d.hash };
      if (d.trace) doc.trace = d.trace;
      return doc;
    }),
    dropped: result.dropped,
    errors: result.errors,
    held: result.held,
    skipped: result.skipped,
    warnings: [
      ...unresolvedSourcePaths(compiled.flow, sourceDocs),
      ...findUnresolvedPaths(
        compiled.mapping,
        assembled.documents.map((d) => d.record),
      ),
    ],
  };
}

function isCompiledFlow(v: unknown): v is CompiledFlow {
  return v !== null && typeof v === "object" && typeof (v as CompiledFlow).run === "function" && "mapping" in v;
}
