/**
 * The native flow document: a zod-validated JSON document that runs unchanged in the Worker, the Action
 * and the CLI. Every component carries a `type` discriminator (the Airbyte-manifest idea), objects are
 * strict so a misspelt key is reported instead of silently ignored, and `loadFlow` adds the checks zod
 * cannot do (templates compile, lookups name declared tables, cron parses) with one message per problem.
 */
import * as z from "zod/mini";
import { approvalSchema, observeSchema } from "../observe/config.ts";
import { ConfigError } from "../errors.ts";
import { ineffectiveSettingProblems } from "./ineffective.ts";
import { formatIssues, type FlowProblem } from "./issues.ts";
import { rawTemplateProblems, semanticProblems } from "./semantic.ts";

export const FIELD_TYPES = ["string", "int", "float", "date", "datetime", "bool", "object", "array"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const ACCUMULATORS = ["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"] as const;
export type Accumulator = (typeof ACCUMULATORS)[number];

export const CONDITION_OPERATORS = ["eq", "neq", "gt", "egt", "lt", "elt", "like", "notlike", "in", "notin", "between", "notnull", "isnull"] as const;
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

const nonEmpty = z.string().check(z.minLength(1, { error: "must not be empty" }));

/** A path into a record: `io_date`, `items.qty`, `receiver.name`. */
const fieldPath = z.string().check(z.regex(/^[^\s.{}][^\s{}]*$/, { error: "must be a field path like io_date or items.qty" }));

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
  value: z.optional(z.union([scalarParam, z.array(z.union([z.string(), z.number()])), z.null()])),
});
export type Condition = z.infer<typeof conditionSchema>;

export const jushuitanSourceSchema = z.strictObject({
  type: z.literal("jushuitan"),
  endpoint: z.string().check(z.regex(/^\/open\/[a-z0-9_/]+$/i, { error: "must be a Jushuitan path starting with /open/" })),
  /** Request params (QEasy `request`): templates like `{{LAST_SYNC_TIME|datetime}}`, literals, arrays. */
  params: z._default(z.record(z.string(), paramValue), {}),
  paging: z._default(
    z.strictObject({
      type: z.enum(["window", "cursor"]),
      pageSize: z.optional(z.number().check(z.int(), z.gte(1), z.lte(100))),
    }),
    { type: "window" },
  ),
  timeField: z.optional(z.enum(["modified", "io_date"])),
  /**
   * The field range backfills window on, when it differs from `timeField`: a merged flow that reads by `modified`
   * but groups by io_date backfills by io_date, so a range produces whole days (date_type is set to match).
   */
  rangeTimeField: z.optional(z.enum(["modified", "io_date"])),
  /** Field identifying a source document (dedup, members of merged documents, dead letters). */
  idField: z._default(fieldPath, "io_id"),
  formatResponse: z.optional(z.array(formatRuleSchema)),
  /** OR of AND groups (QEasy `condition`). */
  condition: z.optional(z.array(z.array(conditionSchema).check(z.minLength(1, { error: "an AND group needs at least one condition" })))),
  /** "line" drops failing detail lines; "strict" drops the whole document when one line fails. */
  conditionMode: z._default(z.enum(["line", "strict"]), "line"),
  /** QEasy beatFlat: one row per detail line, line fields prefixed. */
  flatten: z.optional(z.strictObject({ path: fieldPath, prefix: z.optional(z.string()) })),
});
export type JushuitanSource = z.infer<typeof jushuitanSourceSchema>;

export const sourceSchema = z.discriminatedUnion("type", [jushuitanSourceSchema]);
export type Source = z.infer<typeof sourceSchema>;

const accumulator = z.enum(ACCUMULATORS);

export const mergeOperationSchema = z.strictObject({
  type: z.literal("merge"),
  /** Header grouping (QEasy headerGroup): one merged document per distinct value tuple. */
  groupBy: z.array(fieldPath).check(z.minLength(1, { error: "needs at least one field" })),
  /** Line grouping (QEasy bodyGroup): lines with equal values are merged with `calculate`. */
  lineGroupBy: z.optional(z.array(fieldPath)),
  /** Name of the line array in the source documents and in the merged document (QEasy bodyName). */
  lines: fieldPath,
  /** Accumulators over merged lines (QEasy calculate). */
  calculate: z._default(z.record(z.string(), accumulator), {}),
  /** Accumulators over member documents for header fields outside groupBy. */
  headerCalculate: z.optional(z.record(z.string(), accumulator)),
  /** Split a group into numbered parts of at most this many lines (QEasy bodyMaxLine). */
  maxLines: z.optional(z.number().check(z.int(), z.gte(1))),
  /** Deterministic external key of a group, from groupBy fields only: `SO-{io_date_new}-{wms_co_id}`. */
  keyTemplate: nonEmpty,
  /** The period a group belongs to; a group is written once the watermark has closed it (docs/merge-policy.md). */
  period: z.optional(z.strictObject({ field: fieldPath, unit: z.enum(["hour", "day", "month"]) })),
});
export type MergeOperation = z.infer<typeof mergeOperationSchema>;

export const operationSchema = z.discriminatedUnion("type", [mergeOperationSchema]);
export type Operation = z.infer<typeof operationSchema>;

export const fieldMappingSchema: z.ZodMiniType<FieldMapping> = z.strictObject({
  field: nonEmpty,
  label: z.optional(z.string()),
  type: z.enum(FIELD_TYPES),
  value: z.optional(z.string()),
  get children() {
    return z.optional(z.array(fieldMappingSchema));
  },
  default: z.optional(z.unknown()),
  required: z.optional(z.boolean()),
  describe: z.optional(z.string()),
  format: z.optional(z.string().check(z.minLength(1))),
  table: z.optional(z.string()),
});

const targetCommon = {
  /** Deterministic key: T+ ExternalCode, KIS FBillNo. */
  externalKey: nonEmpty,
  fields: z.array(fieldMappingSchema).check(z.minLength(1, { error: "a target needs at least one field" })),
  /** When the same key was already written with different content: skip it, or report it as an error. */
  onExisting: z._default(z.enum(["skip", "error"]), "skip"),
  /**
   * A posted document edited, cancelled or no longer passing the condition (docs/changes.md): post correcting
   * documents ("compensate"), file a dead letter ("deadLetter"), or leave the target as it is ("ignore").
   * Unset: the older onExisting behaviour. The seed flows say "compensate".
   */
  onChange: z.optional(z.enum(["compensate", "deadLetter", "ignore"], { error: 'must be "compensate", "deadLetter" or "ignore"' })),
  /** The target refuses a date in a closed period: dead-letter it until the period is reopened ("hold", default) or re-date it ("redate"). */
  closedPeriod: z._default(z.enum(["hold", "redate"], { error: 'must be "hold" or "redate"' }), "hold"),
  batchSize: z.optional(z.number().check(z.int(), z.gte(1), z.lte(100))),
  /** Table for `_mongoQuery` lookups that name none (fields may override with `table`). */
  defaultLookupTable: z.optional(z.string()),
};

export const tplusTargetSchema = z.strictObject({
  type: z.literal("tplus"),
  /** T+ resource/action under /tplus/api/v2/, e.g. otherDispatch/Create. */
  operation: z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9]*\/[A-Za-z][A-Za-z0-9]*$/, { error: "must be a T+ resource/action like otherDispatch/Create" })),
  ...targetCommon,
});

export const kisTargetSchema = z.strictObject({
  type: z.literal("kis"),
  /** KIS koas path after /koas/, e.g. app007104/miscellaneousreceipt/create. */
  operation: z.string().check(z.regex(/^[A-Za-z0-9]+(\/[A-Za-z0-9_]+)+$/, { error: "must be a KIS path like app007104/miscellaneousreceipt/create" })),
  ...targetCommon,
});

export const targetSchema = z.discriminatedUnion("type", [tplusTargetSchema, kisTargetSchema]);
export type Target = z.infer<typeof targetSchema>;

export const referenceSchema = z.strictObject({
  name: z.string().check(
    z.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
      error: "must be 1–128 letters, digits, '_', '.', '-' (it becomes part of a storage key)",
    }),
  ),
  keyField: fieldPath,
  source: z.optional(z.strictObject({ type: z.enum(["kis", "tplus"]), operation: nonEmpty })),
  description: z.optional(z.string()),
});
export type Reference = z.infer<typeof referenceSchema>;

export const incrementalSchema = z.strictObject({
  lookbackMinutes: z._default(z.number().check(z.gte(0)), 10),
  endLagMinutes: z._default(z.number().check(z.gte(0)), 5),
  windowDays: z._default(z.number().check(z.gt(0, { error: "must be more than 0 days" }), z.lte(7, { error: "must be at most 7 days" })), 1),
  /** First watermark of a new flow: `yyyy-MM-dd[ HH:mm:ss]` in the flow timezone. */
  startAt: z.optional(z.string()),
});

export const flowSchema = z.strictObject({
  $schema: z.optional(z.string()),
  id: z.string().check(z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: "must be kebab-case (a-z, 0-9, single dashes)" })),
  name: nonEmpty,
  description: z.optional(z.string()),
  version: z.number().check(z.int(), z.gte(1)),
  source: sourceSchema,
  operation: z.optional(operationSchema),
  target: targetSchema,
  schedule: z.optional(z.strictObject({ cron: nonEmpty })),
  incremental: incrementalSchema,
  references: z._default(z.array(referenceSchema), []),
  /** IANA zone of source dates and date formats; default Asia/Shanghai. */
  timezone: z.optional(z.string()),
  /** Issue 17: "required" holds writes as a plan until approved; freshness objectives and scheduled reconcile. */
  approval: z.optional(approvalSchema),
  observe: z.optional(observeSchema),
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
  const problems: FlowProblem[] = parsed.success ? validFlowProblems(parsed.data) : structuralProblems(parsed.error.issues, json);
  if (problems.length > 0) throw flowError(problems, json);
  return (parsed as { data: Flow }).data;
}

/** Like loadFlow, but returns the problems instead of throwing (editors, lint). */
export function checkFlow(json: unknown): { flow: Flow | null; problems: FlowProblem[] } {
  const parsed = flowSchema.safeParse(json);
  if (!parsed.success) return { flow: null, problems: structuralProblems(parsed.error.issues, json) };
  const problems = validFlowProblems(parsed.data);
  return { flow: problems.length === 0 ? parsed.data : null, problems };
}

/** Problems of a schema-valid flow: the semantic checks, and settings that would have no effect. */
function validFlowProblems(flow: Flow): FlowProblem[] {
  return [...semanticProblems(flow), ...ineffectiveSettingProblems(flow)];
}

/** Schema problems plus the template problems that can be found in the raw document anyway. */
function structuralProblems(issues: readonly z.core.$ZodIssue[], json: unknown): FlowProblem[] {
  const problems = formatIssues(issues, json, flowSchema);
  const seen = new Set(problems.map((p) => p.path));
  for (const p of rawTemplateProblems(json)) if (!seen.has(p.path)) problems.push(p);
  return problems;
}

export function flowError(problems: FlowProblem[], json?: unknown): ConfigError {
  const id = json && typeof json === "object" && typeof (json as { id?: unknown }).id === "string" ? ` "${(json as { id: string }).id}"` : "";
  const lines = problems.map((p) => `  - at ${p.path || "(flow)"}: ${p.problem}${p.hint ? ` — ${p.hint}` : ""}`);
  const head = `Flow${id} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):`;
  return new ConfigError(`${head}\n${lines.join("\n")}`, {
    hint: problems.length === 1 ? problems[0]!.hint : "Fix each listed problem; paths are JSON paths inside the flow document.",
    details: { path: problems[0]?.path, problems },
  });
}
