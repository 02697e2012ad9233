/**
 * The flow document and its compiled pipeline: the public surface other modules import.
 *   loadFlow / checkFlow      validate a flow JSON document (every problem with its JSON path and a hint)
 *   compileFlow               the per-page pipeline the engine calls (formatResponse → condition → flatten → merge → map)
 *   createDocumentBuilder     the same, in the engine's DocumentBuilder shape
 *   preview                   dry run over given documents and tables (HTTP preview, fixtures)
 *   importQeasy               QEasy scheme metadata → native flow
 */
export {
  ACCUMULATORS,
  CONDITION_OPERATORS,
  FIELD_TYPES,
  checkFlow,
  flowSchema,
  loadFlow,
  type Flow,
  type FlowInput,
  type FlowProblem,
  type FieldMapping,
  type MergeOperation,
  type Reference,
  type Source,
  type Target,
} from "./schema.ts";
export {
  compileFlow,
  type CompiledFlow,
  type PreparedRecord,
  type AssembledDocument,
  type TargetDocument,
  type RunResult,
  type DocumentError,
  type Dropped,
} from "./pipeline.ts";
export { createDocumentBuilder, type FlowDocumentBuilder, type BuildContextLike, type BuiltDocumentLike, type BuildResultLike } from "./builder.ts";
export { preview, lookupTables, type PreviewOptions, type PreviewResult, type PreviewDocument, type TableRows } from "./preview.ts";
export { importQeasy, importQeasyDetailed, QeasyImportError, type QeasyImportOptions, type QeasyImportResult } from "./qeasy-import.ts";
export { planMerge, recordWritten, type WrittenGroup, type WrittenGroups, type MergePlan } from "../transform/merge-policy.ts";
export { MERGE_FIELDS } from "../transform/merge.ts";
export { createUnresolvedTracker, findUnresolvedPaths, nearestPaths, type UnresolvedPath, type UnresolvedTracker } from "./unresolved.ts";
