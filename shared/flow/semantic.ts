/**
 * Checks on a schema-valid flow that zod cannot express: every template compiles (reported with its JSON
 * path), lookups only read declared reference tables, formats and conditions are well-formed, the merge
 * key is deterministic, cron and timezone parse. Returns every problem, never stops at the first.
 */
import { BridgeError } from "../errors.ts";
import { compileValue, TemplateSyntaxError, type CompiledValue } from "../template/index.ts";
import { parseInZone } from "../util/time.ts";
import { compileCondition } from "../transform/condition.ts";
import { parseFormat } from "../transform/format-response.ts";
import { cronProblem } from "./cron.ts";
import { closest, jsonPath, type FlowProblem } from "./issues.ts";
import { TPLUS_LINE_SHAPES, tplusLineShape } from "../connectors/tplus/line-shapes.ts";
import type { FieldMapping, Flow } from "./schema.ts";

const PLAIN_PATH = /^[\p{L}_$][\p{L}\p{N}_$]*(\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u;

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

/** Compiles a template, or records why it does not compile (one line, with the column). */
function compileOrReport(source: string, path: string, problems: FlowProblem[]): CompiledValue | null {
  try {
    return compileValue(source, { path });
  } catch (error) {
    if (error instanceof TemplateSyntaxError) {
      // One line per problem: the reason and column, without the multi-line excerpt.
      const reason = firstLine(error.message).replace(/^Template syntax error \([^)]*\):\s*/, "");
      const column = (error.details as { position?: unknown } | undefined)?.position;
      problems.push({
        path,
        problem: `template ${JSON.stringify(source.length > 60 ? `${source.slice(0, 60)}…` : source)} does not compile${typeof column === "number" ? ` (column ${column})` : ""}: ${reason}`,
        hint: error.hint ?? "check the braces, quotes and function names of the template",
      });
    } else {
      problems.push({ path, problem: `template does not compile: ${error instanceof Error ? error.message : String(error)}` });
    }
    return null;
  }
}

/**
 * Template problems found in a document that failed the schema: every string in the places that hold
 * templates is compiled anyway, so one round of fixes covers structure and templates together.
 */
export function rawTemplateProblems(json: unknown): FlowProblem[] {
  const problems: FlowProblem[] = [];
  if (json === null || typeof json !== "object") return problems;
  const doc = json as Record<string, any>;
  const str = (v: unknown, path: string) => {
    if (typeof v === "string" && v !== "") compileOrReport(v, path, problems);
  };
  const params = doc.source?.params;
  if (params && typeof params === "object" && !Array.isArray(params)) {
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) v.forEach((x, i) => str(x, `${jsonPath(["source", "params", k])}[${i}]`));
      else str(v, jsonPath(["source", "params", k]));
    }
  }
  str(doc.operation?.keyTemplate, "operation.keyTemplate");
  str(doc.target?.externalKey, "target.externalKey");
  const walk = (fields: unknown, base: string) => {
    if (!Array.isArray(fields)) return;
    fields.forEach((f, i) => {
      if (f === null || typeof f !== "object") return;
      const path = `${base}[${i}]`;
      const hasChildren = Array.isArray(f.children) && f.children.length > 0;
      const isArrayPath = f.type === "array" && hasChildren && typeof f.value === "string" && PLAIN_PATH.test(f.value);
      if (!isArrayPath && !(f.type === "object" && hasChildren)) str(f.value, `${path}.value`);
      walk(f.children, `${path}.children`);
    });
  };
  walk(doc.target?.fields, "target.fields");
  return problems;
}

/** What the section checkers share: the flow, the problems found so far and the declared reference tables. */
interface SemanticContext {
  flow: Flow;
  problems: FlowProblem[];
  declared: Set<string>;
  declaredList: string[];
}

export function semanticProblems(flow: Flow): FlowProblem[] {
  const declared = new Set(flow.references.map((r) => r.name));
  const ctx: SemanticContext = { flow, problems: [], declared, declaredList: [...declared] };
  // One checker per section, in the order the problems are reported (Benthos validates per component).
  checkGeneral(ctx);
  checkSource(ctx);
  const merge = flow.operation?.type === "merge" ? flow.operation : undefined;
  if (merge) checkMerge(ctx, merge);
  checkTarget(ctx, merge !== undefined);
  return ctx.problems.map((p) => ({ ...p, problem: firstLine(p.problem) }));
}

function compile(ctx: SemanticContext, source: string, path: string): CompiledValue | null {
  return compileOrReport(source, path, ctx.problems);
}

/** Lookups in a compiled value read declared tables (or a declared default table). */
function checkTables(ctx: SemanticContext, value: CompiledValue, path: string, defaultTable: string | undefined) {
  const { problems, declared, declaredList } = ctx;
  for (const table of value.tables) {
    if (!declared.has(table)) {
      const guess = closest(table, declaredList);
      problems.push({
        path,
        problem: `lookup reads table "${table}", which is not declared in references`,
        hint: guess
          ? `did you mean "${guess}"? Otherwise add { "name": "${table}", "keyField": "…" } to references`
          : `add { "name": "${table}", "keyField": "…" } to references`,
      });
    }
  }
  if (value.usesDefaultTable) {
    if (!defaultTable) {
      problems.push({
        path,
        problem: "lookup names no table and no default table applies",
        hint: 'set "table" on this field (or an enclosing one) or target.defaultLookupTable to a declared reference',
      });
    } else if (!declared.has(defaultTable)) {
      problems.push({
        path,
        problem: `lookup reads default table "${defaultTable}", which is not declared in references`,
        hint: `add { "name": "${defaultTable}", "keyField": "…" } to references`,
      });
    }
  }
}

/** Time zone, schedule, startAt, duplicate references. */
function checkGeneral(ctx: SemanticContext) {
  const { flow, problems } = ctx;
  if (flow.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: flow.timezone });
    } catch {
      problems.push({ path: "timezone", problem: `unknown time zone ${JSON.stringify(flow.timezone)}`, hint: 'use an IANA name such as "Asia/Shanghai"' });
    }
  }
  if (flow.schedule) {
    const problem = cronProblem(flow.schedule.cron);
    if (problem)
      problems.push({
        path: "schedule.cron",
        problem: `invalid cron ${JSON.stringify(flow.schedule.cron)}: ${problem}`,
        hint: 'use 5 fields, e.g. "*/15 * * * *" or "3 2 * * *"',
      });
  }
  if (flow.incremental.startAt !== undefined && parseInZone(flow.incremental.startAt, flow.timezone) === null) {
    problems.push({
      path: "incremental.startAt",
      problem: `${JSON.stringify(flow.incremental.startAt)} is not a date`,
      hint: 'write "yyyy-MM-dd" or "yyyy-MM-dd HH:mm:ss" (flow timezone)',
    });
  }
  const seenRefs = new Set<string>();
  flow.references.forEach((r, i) => {
    if (seenRefs.has(r.name))
      problems.push({ path: `references[${i}].name`, problem: `reference "${r.name}" is declared twice`, hint: "remove the duplicate" });
    seenRefs.add(r.name);
  });
}

/** Request parameters, formatResponse formats and conditions. */
function checkSource(ctx: SemanticContext) {
  const { flow, problems } = ctx;
  const source = flow.source;
  for (const [key, value] of Object.entries(source.params)) {
    const base = jsonPath(["source", "params", key]);
    if (typeof value === "string") {
      const c = compile(ctx, value, base);
      if (c) checkTables(ctx, c, base, undefined);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (typeof v === "string") compile(ctx, v, `${base}[${i}]`);
      });
    }
  }
  source.formatResponse?.forEach((rule, i) => {
    try {
      parseFormat(rule.format);
    } catch (error) {
      problems.push({
        path: `source.formatResponse[${i}].format`,
        problem: error instanceof Error ? error.message : String(error),
        hint: error instanceof BridgeError ? error.hint : undefined,
      });
    }
  });
  source.condition?.forEach((group, g) =>
    group.forEach((c, i) => {
      try {
        compileCondition([[c]], { linesField: linesFieldOf(flow) });
      } catch (error) {
        problems.push({
          path: `source.condition[${g}][${i}]`,
          problem: error instanceof Error ? error.message : String(error),
          hint: error instanceof BridgeError ? error.hint : undefined,
        });
      }
    }),
  );
}

/** The merge: key template over the groupBy fields, accumulators, flattened line prefixes. */
function checkMerge(ctx: SemanticContext, merge: Extract<NonNullable<Flow["operation"]>, { type: "merge" }>) {
  const { flow, problems } = ctx;
  const key = compile(ctx, merge.keyTemplate, "operation.keyTemplate");
  if (key) {
    const used = new Set(key.fields);
    const outside = key.fields.filter((f) => !merge.groupBy.includes(f));
    const unused = merge.groupBy.filter((f) => !used.has(f));
    if (outside.length > 0) {
      problems.push({
        path: "operation.keyTemplate",
        problem: `uses ${outside.join(", ")}, which ${outside.length > 1 ? "are" : "is"} not in groupBy, so one group could get several keys`,
        hint: `use only the groupBy fields (${merge.groupBy.join(", ")}), or add the field to groupBy`,
      });
    }
    if (unused.length > 0) {
      problems.push({
        path: "operation.keyTemplate",
        problem: `does not use groupBy field${unused.length > 1 ? "s" : ""} ${unused.join(", ")}, so two groups could share one external key`,
        hint: `include {${unused[0]}} in the key template`,
      });
    }
    if (key.tables.length > 0 || key.usesDefaultTable)
      problems.push({ path: "operation.keyTemplate", problem: "the merge key may not use lookups", hint: "build the key from groupBy fields only" });
  }
  if (merge.lineGroupBy === undefined && Object.keys(merge.calculate).length > 0) {
    problems.push({
      path: "operation.calculate",
      problem: "line accumulators need lineGroupBy (lines are kept as they are without it)",
      hint: 'add "lineGroupBy" (e.g. ["sku_id"]), or [] to merge all lines of a group into one',
    });
  }
  merge.lineGroupBy?.forEach((f, i) => {
    if (f in merge.calculate)
      problems.push({ path: `operation.lineGroupBy[${i}]`, problem: `${f} is both a line group field and calculated`, hint: `remove it from calculate` });
  });
  for (const f of Object.keys(merge.headerCalculate ?? {})) {
    if (merge.groupBy.includes(f))
      problems.push({
        path: jsonPath(["operation", "headerCalculate", f]),
        problem: `${f} is a groupBy field and cannot also be calculated`,
        hint: "remove it from headerCalculate",
      });
  }
  if (flow.source.flatten && merge.lines === flow.source.flatten.path && merge.lineGroupBy) {
    const prefix = flow.source.flatten.prefix ?? `${flow.source.flatten.path}_`;
    merge.lineGroupBy.forEach((f, i) => {
      if (!f.startsWith(prefix))
        problems.push({
          path: `operation.lineGroupBy[${i}]`,
          problem: `flattened rows name line fields with the prefix "${prefix}", but "${f}" lacks it`,
          hint: `write "${prefix}${f}"`,
        });
    });
  }
}

/** The external key, the default lookup table and the field mapping. */
function checkTarget(ctx: SemanticContext, merged: boolean) {
  const { flow, problems } = ctx;
  const target = flow.target;
  const keyValue = compile(ctx, target.externalKey, "target.externalKey");
  if (keyValue) {
    checkTables(ctx, keyValue, "target.externalKey", target.defaultLookupTable);
    if (merged && !keyValue.fields.includes("_merge_key")) {
      problems.push({
        path: "target.externalKey",
        problem: "a merged flow must use the merge key (with its part and supplement suffixes) as its external key",
        hint: 'write "{_merge_key}"',
      });
    }
  }
  if (target.defaultLookupTable !== undefined && !ctx.declared.has(target.defaultLookupTable)) {
    problems.push({
      path: "target.defaultLookupTable",
      problem: `table "${target.defaultLookupTable}" is not declared in references`,
      hint: `add { "name": "${target.defaultLookupTable}", "keyField": "…" } to references`,
    });
  }
  checkFields(ctx, target.fields, "target.fields", undefined);
  checkChangeFollowing(ctx);
}

/**
 * Following posted documents compares their lines; a T+ voucher kind whose lines we cannot read would make every
 * edit and cancellation look "unchanged" (adv16-tplus-saledelivery-blind), so onChange is refused for it.
 */
function checkChangeFollowing(ctx: SemanticContext) {
  const target = ctx.flow.target;
  if (target.type !== "tplus" || (target.onChange !== "compensate" && target.onChange !== "deadLetter") || tplusLineShape(target.operation)) return;
  ctx.problems.push({
    path: "target.onChange",
    problem: `onChange "${target.onChange}" needs the line shape of the T+ voucher kind, and "${target.operation}" is not one whose lines are known (${Object.keys(TPLUS_LINE_SHAPES).join(", ")})`,
    hint: 'use one of those operations, or set onChange to "ignore" (or remove it) and correct changed documents by hand',
  });
}

/** An object or array built from its children never reads its own default or format (transform/map.ts mapNodes). */
function builtFromChildrenProblems(f: FieldMapping, path: string): FlowProblem[] {
  return (["default", "format"] as const)
    .filter((key) => f[key] !== undefined)
    .map((key) => ({
      path: `${path}.${key}`,
      problem: `an ${f.type} with children is built from its children; ${key} has no effect`,
      hint: `remove ${key}, or set it on the children that need it`,
    }));
}

/** One level of the field mapping (and, recursively, its children). */
function checkFields(ctx: SemanticContext, fields: readonly FieldMapping[], base: string, inheritedTable: string | undefined) {
  const { problems } = ctx;
  const names = new Map<string, number>();
  fields.forEach((f, i) => {
    const path = `${base}[${i}]`;
    const table = f.table ?? inheritedTable;
    if (names.has(f.field))
      problems.push({
        path: `${path}.field`,
        problem: `"${f.field}" appears twice at this level (also at ${base}[${names.get(f.field)}])`,
        hint: "remove or rename one of them",
      });
    names.set(f.field, i);
    if (f.table !== undefined && !ctx.declared.has(f.table)) {
      problems.push({
        path: `${path}.table`,
        problem: `table "${f.table}" is not declared in references`,
        hint: `add { "name": "${f.table}", "keyField": "…" } to references`,
      });
    }
    const hasChildren = f.children !== undefined && f.children.length > 0;
    if (f.children !== undefined && f.type !== "object" && f.type !== "array") {
      problems.push({
        path: `${path}.children`,
        problem: `a field of type "${f.type}" cannot have children`,
        hint: 'use type "object" (one nested object) or "array" (one element per source line)',
      });
    }
    if (f.type === "array" && hasChildren && (f.value === undefined || f.value === "")) {
      problems.push({ path: `${path}.value`, problem: "an array with children needs the source array in value", hint: 'e.g. "value": "items"' });
    }
    if (f.type === "object" && hasChildren && f.value !== undefined && f.value !== "") {
      problems.push({ path: `${path}.value`, problem: "an object with children takes its values from the children; value is not used", hint: "remove value" });
    }
    if (hasChildren && (f.type === "object" || f.type === "array")) problems.push(...builtFromChildrenProblems(f, path));
    if (f.format !== undefined) {
      try {
        parseFormat(f.format);
      } catch (error) {
        problems.push({
          path: `${path}.format`,
          problem: error instanceof Error ? error.message : String(error),
          hint: error instanceof BridgeError ? error.hint : undefined,
        });
      }
    }
    const v = f.value;
    const isArrayPath = f.type === "array" && hasChildren && v !== undefined && PLAIN_PATH.test(v);
    if (v !== undefined && v !== "" && !isArrayPath && !(f.type === "object" && hasChildren)) {
      const c = compile(ctx, v, `${path}.value`);
      if (c) checkTables(ctx, c, `${path}.value`, table ?? ctx.flow.target.defaultLookupTable);
    }
    if (f.children) checkFields(ctx, f.children, `${path}.children`, table);
  });
}

/** The detail array conditions and merges refer to. */
export function linesFieldOf(flow: Flow): string {
  return flow.source.flatten?.path ?? (flow.operation?.type === "merge" ? flow.operation.lines : "items");
}
