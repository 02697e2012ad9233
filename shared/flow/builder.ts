/**
 * The compiled flow in the shape the engine consumes (`DocumentBuilder` of shared/engine/run.ts):
 * `build(rows, context)` turns source rows into target documents, failures and drops; for merged flows
 * `withExternalKey` re-maps a merged document under another key (a numbered supplement). Structural
 * types only, so the engine and this module evolve without importing each other.
 */
import type { BridgeError } from "../errors.ts";
import type { LookupTables, TemplateVars } from "../template/index.ts";
import type { HeldGroup, SkippedMember, WrittenLookup } from "../transform/merge-policy.ts";
import { compileFlow, type CompiledFlow } from "./pipeline.ts";
import type { Flow } from "./schema.ts";
import { unresolvedSourcePaths } from "./source-paths.ts";
import { createUnresolvedTracker, type UnresolvedPath } from "./unresolved.ts";

export interface BuildContextLike {
  /** Epoch ms for {{LAST_SYNC_TIME}} (window start) and {{CURRENT_TIME}} (window end). */
  lastSyncTime: number;
  currentTime: number;
  /** Merge flows: groups whose period ends after this instant are held back. */
  closedBefore?: number;
  /** Merge flows: groups already written; late members become supplements `<key>-S<n>`. */
  written?: WrittenLookup;
  /** Extra template variables. */
  extra?: Record<string, unknown>;
}

export interface BuiltDocumentLike {
  externalKey: string;
  payload: Record<string, unknown>;
  members: string[];
  groupKey?: string;
  /** Supplement number of a merged document (0 = the group's original). */
  supplement?: number;
  contentHash: string;
}

export interface BuildResultLike {
  documents: BuiltDocumentLike[];
  failures: { sourceId: string; source: unknown; error: BridgeError; payload?: unknown }[];
  dropped: { sourceId: string; reason: string }[];
  held: HeldGroup[];
  skipped: SkippedMember[];
  /** Template paths that resolved to nothing for every record this builder has mapped so far (the run record carries them). */
  unresolved?: { flowPath: string; path: string; message: string; suggestions: string[] }[];
}

export interface FlowDocumentBuilder {
  readonly merges: boolean;
  readonly compiled: CompiledFlow;
  build(rows: Record<string, unknown>[], context: BuildContextLike): BuildResultLike;
  withExternalKey(doc: BuiltDocumentLike, externalKey: string): BuiltDocumentLike;
}

/**
 * What a run's records left unresolved so far: template paths no mapped record resolved, and condition fields /
 * formatResponse old paths no source document carried. One reporter per builder (one builder per run).
 */
function unresolvedReporter(compiled: CompiledFlow) {
  const tracker = createUnresolvedTracker(compiled.mapping);
  /** Source paths no document of the run carried so far (null before any document). */
  let sourceOpen: Map<string, UnresolvedPath> | null = null;
  return (rows: Record<string, unknown>[], records: Record<string, unknown>[]): BuildResultLike["unresolved"] => {
    tracker.observe(records);
    if (rows.length > 0 && (sourceOpen === null || sourceOpen.size > 0)) {
      const now = unresolvedSourcePaths(compiled.flow, rows);
      if (sourceOpen === null) sourceOpen = new Map(now.map((u) => [u.flowPath, u]));
      else for (const key of [...sourceOpen.keys()]) if (!now.some((u) => u.flowPath === key)) sourceOpen.delete(key);
    }
    const unresolved = [...(sourceOpen?.values() ?? []), ...tracker.report()];
    if (unresolved.length === 0) return undefined;
    return unresolved.map((u) => ({ flowPath: u.flowPath, path: u.path, message: u.message, suggestions: u.suggestions }));
  };
}

export function createDocumentBuilder(flow: Flow | CompiledFlow, options: { lookups?: LookupTables } = {}): FlowDocumentBuilder {
  const compiled = "mapping" in flow ? flow : compileFlow(flow);
  const records = new WeakMap<object, Record<string, unknown>>();
  const timezone = compiled.flow.timezone;

  const varsOf = (context: BuildContextLike): TemplateVars => {
    const vars: TemplateVars = { lastSyncTime: context.lastSyncTime, currentTime: context.currentTime };
    if (timezone) vars.timezone = timezone;
    if (context.extra) vars.extra = context.extra;
    return vars;
  };
  let lastVars: TemplateVars = { lastSyncTime: 0, currentTime: 0 };
  const reportUnresolved = unresolvedReporter(compiled);

  return {
    merges: compiled.merges,
    compiled,
    build(rows, context) {
      const vars = varsOf(context);
      lastVars = vars;
      const byId = new Map<string, Record<string, unknown>>();
      for (const row of rows) byId.set(compiled.sourceId(row), row);
      const prepared = compiled.prepare(rows);
      const assembled = compiled.assemble(prepared.records, { vars, closedBefore: context.closedBefore, written: context.written });
      const mapped = compiled.mapDocuments(assembled.documents, { vars, lookups: options.lookups });
      const result: BuildResultLike = {
        documents: [],
        failures: [],
        dropped: prepared.dropped.map((d) => ({ sourceId: d.id, reason: d.reason })),
        held: assembled.held,
        skipped: assembled.skipped,
      };
      const unresolved = reportUnresolved(
        rows,
        assembled.documents.map((d) => d.record),
      );
      if (unresolved) result.unresolved = unresolved;
      // Mapped documents keep their order; find each one's assembled record for withExternalKey.
      const assembledByKey = new Map(assembled.documents.map((d) => [d.merge?.key ?? d.members[0]!, d]));
      for (const doc of mapped.documents) {
        const built: BuiltDocumentLike = { externalKey: doc.externalKey, payload: doc.payload, members: doc.members, contentHash: doc.hash };
        if (doc.merge) {
          built.groupKey = doc.merge.groupKey;
          built.supplement = doc.merge.supplement;
          const source = assembledByKey.get(doc.merge.key);
          if (source) records.set(built, source.record);
        }
        result.documents.push(built);
      }
      for (const failure of [...prepared.errors, ...assembled.errors, ...mapped.errors]) {
        for (const id of failure.members ?? [failure.id]) {
          result.failures.push({ sourceId: id, source: byId.get(id) ?? null, error: failure.error });
        }
      }
      return result;
    },
    withExternalKey(doc, externalKey) {
      const record = records.get(doc);
      if (!record) throw new Error(`withExternalKey: document ${doc.externalKey} was not built by this builder (or is not merged)`);
      const supplement = /-S(\d+)(?:-\d+)?$/.exec(externalKey);
      const next = { ...record, _merge_key: externalKey, _merge_supplement: supplement ? Number(supplement[1]) : record._merge_supplement };
      const mapped = compiled.mapDocuments([{ members: doc.members, record: next }], { vars: lastVars, lookups: options.lookups });
      if (mapped.errors[0]) throw mapped.errors[0].error;
      const rebuilt = mapped.documents[0]!;
      const out: BuiltDocumentLike = {
        ...doc,
        externalKey: rebuilt.externalKey,
        payload: rebuilt.payload,
        contentHash: rebuilt.hash,
        ...(supplement ? { supplement: Number(supplement[1]) } : {}),
      };
      records.set(out, next);
      return out;
    },
  };
}
