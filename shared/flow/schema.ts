/**
 * The native flow document: a zod-validated JSON document that runs unchanged in the Worker, the Action
 * and the CLI. Every component carries a `type` discriminator (the Airbyte-manifest idea), objects are
 * strict so a misspelt key is reported instead of silently ignored, and `loadFlow` adds the checks zod
 * cannot do (templates compile, lookups name declared tables, cron parses) with one message per problem.
 */
import * as z from "zod";
import { approvalSchema, observeSchema } from "../observe/config.ts";
import { ConfigError } from "../errors.ts";
import { formatIssues, type FlowProblem } from "./issues.ts";
import { rawTemplateProblems, semanticProblems } from "./semantic.ts";

export const FIELD_TYPES = ["string", "int", "float", "date", "datetime", "bool", "object", "array"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const ACCUMULATORS = ["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"] as const;
export type Accumulator = (typeof ACCUMULATORS)[number];

export const CONDITION_OPERATORS = [
  "eq", "neq", "gt", "egt", "lt", "elt", "like", "notlike", "in", "notin", "between", "notnull", "isnull",
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** One node of the target mapping tree. */
export interface FieldMapping {
  field: string;
  label?: string;
  type: FieldType;
  /** Template (`{io_id}`, `_function …`, lookups); for arrays with children, the name/path of the source array. */
  value?: string;
  children?: FieldMapping[];
  /** Used when the value is undefined, null or "", or when a lookup finds no row. */
  default?: unknown;
  required?: boolean;
  describe?: string;
  /** A formatResponse-style format applied before the type conversion (`round(2)`, `StringToArray`, `date` …). */
  format?: string;
  /** Lookup table for `_mongoQuery` values without an explicit table, inherited by children. */
  table?: string;
}

const nonEmpty = z.string().min(1, { error: "must not be empty" });

/** A path into a record: `io_date`, `items.qty`, `receiver.name`. */
const fieldPath = z.string().regex(/^[^\s.{}][^\s{}]*$/, { error: "must be a field path like io_date or items.qty" });

const scalarParam = z.union([z.string(), z.number(), z.boolean()]);
const paramValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]);

export const formatRuleSchema = z.strictObject({
  old: fieldPath,
  new: fieldPath,
  format: nonEmpty,
});
export type FormatRule = z.infer<typeof formatRuleSchema>;

export const conditionSchema = z.strictObject({
  field: fieldPath,
  logic: z.enum(CONDITION_OPERATORS),
  value: z.union([scalarParam, z.array(z.union([z.string(), z.number()])), z.null()]).optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const jushuitanSourceSchema = z.strictObject({
  type: z.literal("jushuitan"),
  endpoint: z.string().regex(/^\/open\/[a-z0-9_/]+$/i, { error: "must be a Jushuitan path starting with /open/" }),
  /** Request params (QEasy `request`): templates like `{{LAST_SYNC_TIME|datetime}}`, literals, arrays. */
  params: z.record(z.string(), paramValue).default({}),
  paging: z
    .strictObject({
      type: z.enum(["window", "cursor"]),
      pageSize: z.number().int().min(1).max(100).optional(),
    })
    .default({ type: "window" }),
  timeField: z.enum(["modified", "io_date"]).optional(),
  /**
   * The field range backfills window on, when it differs from `timeField`: a merged flow that reads by `modified`
   * but groups by io_date backfills by io_date, so a range produces whole days (date_type is set to match).
   */
  rangeTimeField: z.enum(["modified", "io_date"]).optional(),
  /** Field identifying a source document (dedup, members of merged documents, dead letters). */
  idField: fieldPath.default("io_id"),
  formatResponse: z.array(formatRuleSchema).optional(),
  /** OR of AND groups (QEasy `condition`). */
  condition: z.array(z.array(conditionSchema).min(1, { error: "an AND group needs at least one condition" })).optional(),
  /** "line" drops failing detail lines; "strict" drops the whole document when one line fails. */
  conditionMode: z.enum(["line", "strict"]).default("line"),
  /** QEasy beatFlat: one row per detail line, line fields prefixed. */
  flatten: z.strictObject({ path: fieldPath, prefix: z.string().optional() }).optional(),
});
export type JushuitanSource = z.infer<typeof jushuitanSourceSchema>;

export const sourceSchema = z.discriminatedUnion("type", [jushuitanSourceSchema]);
export type Source = z.infer<typeof sourceSchema>;

const accumulator = z.enum(ACCUMULATORS);

export const mergeOperationSchema = z.strictObject({
  type: z.literal("merge"),
  /** Header grouping (QEasy headerGroup): one merged document per distinct value tuple. */
  groupBy: z.array(fieldPath).min(1, { error: "needs at least one field" }),
  /** Line grouping (QEasy bodyGroup): lines with equal values are merged with `calculate`. */
  lineGroupBy: z.array(fieldPath).optional(),
  /** Name of the line array in the source documents and in the merged document (QEasy bodyName). */
  lines: fieldPath,
  /** Accumulators over merged lines (QEasy calculate). */
  calculate: z.record(z.string(), accumulator).default({}),
  /** Accumulators over member documents for header fields outside groupBy. */
  headerCalculate: z.record(z.string(), accumulator).optional(),
  /** Split a group into numbered parts of at most this many lines (QEasy bodyMaxLine). */
  maxLines: z.number().int().min(1).optional(),
  /** Deterministic external key of a group, from groupBy fields only: `SO-{io_date_new}-{wms_co_id}`. */
  keyTemplate: nonEmpty,
  /** The period a group belongs to; a group is written once the watermark has closed it (docs/merge-policy.md). */
  period: z.strictObject({ field: fieldPath, unit: z.enum(["hour", "day", "month"]) }).optional(),
});
export type MergeOperation = z.infer<typeof mergeOperationSchema>;

export const operationSchema = z.discriminatedUnion("type", [mergeOperationSchema]);
export type Operation = z.infer<typeof operationSchema>;

export const fieldMappingSchema: z.ZodType<FieldMapping> = z.strictObject({
  field: nonEmpty,
  label: z.string().optional(),
  type: z.enum(FIELD_TYPES),
  value: z.string().optional(),
  get children() {
    return z.array(fieldMappingSchema).optional();
  },
  default: z.unknown().optional(),
  required: z.boolean().optional(),
  describe: z.string().optional(),
  format: z.string().min(1).optional(),
  table: z.string().optional(),
});

const targetCommon = {
  /** Deterministic key: T+ ExternalCode, KIS FBillNo. */
  externalKey: nonEmpty,
  fields: z.array(fieldMappingSchema).min(1, { error: "a target needs at least one field" }),
  /** When the same key was already written with different content: skip it, or report it as an error. */
  onExisting: z.enum(["skip", "error"]).default("skip"),
  /**
   * A posted document edited, cancelled or no longer passing the condition (docs/changes.md): post correcting
   * documents ("compensate"), file a dead letter ("deadLetter"), or leave the target as it is ("ignore").
   * Unset: the older onExisting behaviour. The seed flows say "compensate".
   */
  onChange: z.enum(["compensate", "deadLetter", "ignore"], { error: 'must be "compensate", "deadLetter" or "ignore"' }).optional(),
  /** The target refuses a date in a closed period: dead-letter it until the period is reopened ("hold", default) or re-date it ("redate"). */
  closedPeriod: z.enum(["hold", "redate"], { error: 'must be "hold" or "redate"' }).default("hold"),
  batchSize: z.number().int().min(1).max(100).optional(),
  /** Table for `_mongoQuery` lookups that name none (fields may override with `table`). */
  defaultLookupTable: z.string().optional(),
};

export const tplusTargetSchema = z.strictObject({
  type: z.literal("tplus"),
  /** T+ resource/action under /tplus/api/v2/, e.g. otherDispatch/Create. */
  operation: z.string().regex(/^[A-Za-z][A-Za-z0-9]*\/[A-Za-z][A-Za-z0-9]*$/, {
    error: "must be a T+ resource/action like otherDispatch/Create",
  }),
  ...targetCommon,
});

export const kisTargetSchema = z.strictObject({
  type: z.literal("kis"),
  /** KIS koas path after /koas/, e.g. app007104/miscellaneousreceipt/create. */
  operation: z.string().regex(/^[A-Za-z0-9]+(\/[A-Za-z0-9_]+)+$/, {
    error: "must be a KIS path like app007104/miscellaneousreceipt/create",
  }),
  ...targetCommon,
});

export const targetSchema = z.discriminatedUnion("type", [tplusTargetSchema, kisTargetSchema]);
export type Target = z.infer<typeof targetSchema>;

export const referenceSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
    error: "must be 1–128 letters, digits, '_', '.', '-' (it becomes part of a storage key)",
  }),
  keyField: fieldPath,
  source: z.strictObject({ type: z.enum(["kis", "tplus"]), operation: nonEmpty }).optional(),
  description: z.string().optional(),
});
export type Reference = z.infer<typeof referenceSchema>;

export const incrementalSchema = z.strictObject({
  lookbackMinutes: z.number().min(0).default(10),
  endLagMinutes: z.number().min(0).default(5),
  windowDays: z
    .number()
    .gt(0, { error: "must be more than 0 days" })
    .max(7, { error: "must be at most 7 days" })
    .default(1),
  /** First watermark of a new flow: `yyyy-MM-dd[ HH:mm:ss]` in the flow timezone. */
  startAt: z.string().optional(),
});

export const flowSchema = z.strictObject({
  $schema: z.string().optional(),
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: "must be kebab-case (a-z, 0-9, single dashes)" }),
  name: nonEmpty,
  description: z.string().optional(),
  version: z.number().int().min(1),
  source: sourceSchema,
  operation: operationSchema.optional(),
  target: targetSchema,
  schedule: z.strictObject({ cron: nonEmpty }).optional(),
  incremental: incrementalSchema,
  references: z.array(referenceSchema).default([]),
  /** IANA zone of source dates and date formats; default Asia/Shanghai. */
  timezone: z.string().optional(),
  /** Issue 17: "required" holds writes as a plan until approved; freshness objectives and scheduled reconcile. */
  approval: approvalSchema.optional(),
  observe: observeSchema.optional(),
});

export type Flow = z.infer<typeof flowSchema>;
/** The JSON a user writes (defaults not yet applied). */
export type FlowInput = z.input<typeof flowSchema>;

export type { FlowProblem };

/**
 * Validates a flow document. Throws a ConfigError whose message lists EVERY problem as
 * `at <json.path>: <problem> — <hint>`; `details.problems` holds them as data.
 */
export function loadFlow(json: unknown): Flow {
  const parsed = flowSchema.safeParse(json);
  const problems: FlowProblem[] = parsed.success ? semanticProblems(parsed.data) : structuralProblems(parsed.error.issues, json);
  if (problems.length > 0) throw flowError(problems, json);
  return (parsed as { data: Flow }).data;
}

/** Like loadFlow, but returns the problems instead of throwing (editors, lint). */
export function checkFlow(json: unknown): { flow: Flow | null; problems: FlowProblem[] } {
  const parsed = flowSchema.safeParse(json);
  if (!parsed.success) return { flow: null, problems: structuralProblems(parsed.error.issues, json) };
  const problems = semanticProblems(parsed.data);
  return { flow: problems.length === 0 ? parsed.data : null, problems };
}

/** Schema problems plus the template problems that can be found in the raw document anyway. */
function structuralProblems(issues: readonly z.core.$ZodIssue[], json: unknown): FlowProblem[] {
  const problems = formatIssues(issues, json, flowSchema);
  const seen = new Set(problems.map((p) => p.path));
  for (const p of rawTemplateProblems(json)) if (!seen.has(p.path)) problems.push(p);
  return problems;
}

export function flowError(problems: FlowProblem[], json?: unknown): ConfigError {
  const id =
    json && typeof json === "object" && typeof (json as { id?: unknown }).id === "string" ? ` "${(json as { id: string }).id}"` : "";
  const lines = problems.map((p) => `  - at ${p.path || "(flow)"}: ${p.problem}${p.hint ? ` — ${p.hint}` : ""}`);
  const head = `Flow${id} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):`;
  return new ConfigError(`${head}\n${lines.join("\n")}`, {
    hint: problems.length === 1 ? problems[0]!.hint : "Fix each listed problem; paths are JSON paths inside the flow document.",
    details: { path: problems[0]?.path, problems },
  });
}
