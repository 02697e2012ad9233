/**
 * Merge (QEasy `operation: merge` / `groupCalculate`): many source documents → one target document per
 * group. Documents are grouped by `groupBy` (headerGroup); their lines are grouped by `lineGroupBy`
 * (bodyGroup) and combined with Mongo-style accumulators; `maxLines` (bodyMaxLine) splits a group into
 * numbered parts. Every merged document carries a deterministic key rendered from `keyTemplate`, its member
 * source ids and a content hash, and the result does not depend on the order the documents arrived in:
 * members are processed sorted by id.
 */
import { BridgeError } from "../errors.ts";
import { contentHash, stableStringify } from "../engine/hash.ts";
import { compileValue, type CompiledValue, type TemplateVars } from "../template/index.ts";
import { DAY_MS, DEFAULT_ZONE, daysFromCivil, fromLocalMs } from "../util/time.ts";
import { wallClock } from "./format-response.ts";

export type Accumulator = "$sum" | "$avg" | "$min" | "$max" | "$first" | "$last" | "$push" | "$addToSet" | "$count";

export interface MergeConfig {
  groupBy: readonly string[];
  /** Absent: lines are kept as they are. `[]`: all lines of a group become one line. */
  lineGroupBy?: readonly string[];
  lines: string;
  calculate?: Readonly<Record<string, Accumulator>>;
  headerCalculate?: Readonly<Record<string, Accumulator>>;
  maxLines?: number;
  keyTemplate: string;
  period?: { field: string; unit: "hour" | "day" | "month" };
}

/** One input row: a source document, or one flattened line of it (`seq` = line index). */
export interface MergeInput {
  id: string;
  record: Record<string, unknown>;
  seq?: number;
}

export interface MergedDocument {
  /** External key of this document: group key plus `-S<n>` (supplement) and `-<part>` (split) suffixes. */
  key: string;
  /** Key of the group without suffixes. */
  groupKey: string;
  /** 1-based part number and number of parts (maxLines splitting). */
  part: number;
  parts: number;
  /** 0 for the group's original document, n for supplement `-S<n>` (docs/merge-policy.md). */
  supplement: number;
  /** Source ids merged into this document, sorted. */
  members: string[];
  /** Header (groupBy + headerCalculate fields), the merged line array and the `_merge_*` fields. */
  record: Record<string, unknown>;
  /** Content hash of `record`. */
  hash: string;
  /** End of the group's period (epoch ms) when the merge has a `period`. */
  periodEnd?: number;
}

/** Reserved fields on merged records, usable in the mapping (`{_merge_key}`, `{_merge_count}` …). */
export const MERGE_FIELDS = ["_merge_key", "_merge_group", "_merge_part", "_merge_parts", "_merge_supplement", "_merge_count", "_merge_members"] as const;

export class MergeError extends BridgeError {
  constructor(message: string, details: Record<string, unknown>, hint?: string) {
    super("merge_failed", message, { details, hint });
  }
}

export interface MergeGroup {
  groupKey: string;
  inputs: MergeInput[];
}

export interface CompiledMerge {
  readonly config: MergeConfig;
  /** Groups inputs by key; inputs whose key cannot be rendered are returned as errors. */
  group(inputs: readonly MergeInput[], vars: TemplateVars): { groups: MergeGroup[]; errors: { id: string; error: BridgeError }[] };
  /** Merges one group's inputs (all of them, or just the late ones for a supplement). */
  mergeGroup(groupKey: string, inputs: readonly MergeInput[], supplement?: number): MergedDocument[];
  /** End of the period the group belongs to (max over members); undefined without `period`. */
  periodEnd(inputs: readonly MergeInput[]): number | undefined;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Numeric ids compare as numbers (without precision loss), others as plain text. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length && isDigits(a) && isDigits(b)) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function getField(obj: Record<string, unknown>, path: string): unknown {
  if (path in obj || !path.includes(".")) return obj[path];
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

type Getter = (obj: Record<string, unknown>) => unknown;

/** A compiled field read: direct for plain names, else `getField` (a literal dotted key wins over a path). */
function getter(path: string): Getter {
  return path.includes(".") ? (obj) => getField(obj, path) : (obj) => obj[path];
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === "";

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * Decimal places of a number as written (0.01 → 2); undefined for exponent forms and more than 12 places.
 * Fast path without a string: the first k where round(n·10^k)/10^k gives n back is the length of n's shortest
 * decimal form (a shorter k would be a shorter form that round-trips). It serves the hot merge loop; longer forms
 * and other magnitudes go through String.
 */
function decimals(n: number): number | undefined {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? 0 : undefined;
  if (Math.abs(n) < 1e9 && Math.abs(n) >= 1e-6) {
    // Up to 6 places (quantities, prices, amounts) the product is exact enough; 2M random values agree with String.
    for (let k = 1; k <= 6; k++) {
      if (Math.round(n * POW10[k]!) / POW10[k]! === n) return k;
    }
  }
  const s = String(n);
  if (s.includes("e")) return undefined;
  const dot = s.indexOf(".");
  const d = dot < 0 ? 0 : s.length - dot - 1;
  return d > 12 ? undefined : d;
}

/**
 * Adds to the exact sum: every addend as an integer count of 10^-scale, the scale widened to the most decimal
 * places seen, so 1000 × 0.01 is exactly 10. Falls back to the float sum (NaN units) beyond 2^53 units.
 */
function addExact(state: AccState, n: number): void {
  if (state.units !== state.units) return;
  const d = decimals(n);
  if (d === undefined) {
    state.units = NaN;
    return;
  }
  if (d > state.scale) {
    state.units *= POW10[d - state.scale]!;
    state.scale = d;
  }
  state.units += Math.round(n * POW10[state.scale]!);
  if (!Number.isSafeInteger(state.units)) state.units = NaN;
}

/** The exact sum (integer units ÷ 10^scale: one correctly rounded division), or the cleaned float sum. */
function exactSum(state: AccState): number {
  return state.units === state.units ? state.units / POW10[state.scale]! : clean(state.sum);
}

/** Trims binary noise from sums (0.1 + 0.2 → 0.3) while keeping 15 significant digits. */
function clean(n: number): number {
  return Number(n.toPrecision(15));
}

interface AccState {
  sum: number;
  /** Exact sum in integer units of 10^-scale (engine-review finding 13); NaN once a value does not fit. */
  units: number;
  scale: number;
  count: number;
  value: unknown;
  list: unknown[] | null;
  seen: Set<string> | null;
}

function newState(): AccState {
  return { sum: 0, units: 0, scale: 0, count: 0, value: undefined, list: null, seen: null };
}

function accumulate(acc: Accumulator, state: AccState, value: unknown, field: string, memberId: string): void {
  switch (acc) {
    case "$sum":
    case "$avg": {
      if (isEmpty(value)) return;
      const n = typeof value === "number" ? value : Number(value);
      if (typeof value === "boolean" || !Number.isFinite(n)) {
        throw new MergeError(
          `cannot ${acc === "$sum" ? "sum" : "average"} ${field}=${JSON.stringify(value)} of document ${memberId}: not a number`,
          { field, value, id: memberId },
          `Fix the source value or use "$first" for ${field}.`,
        );
      }
      state.sum += n;
      addExact(state, n);
      state.count++;
      return;
    }
    case "$min":
    case "$max": {
      if (isEmpty(value)) return;
      if (state.count === 0) state.value = value;
      else {
        const a = state.value;
        const less = typeof a === "number" && typeof value === "number" ? value < a : String(value) < String(a);
        const greater = typeof a === "number" && typeof value === "number" ? value > a : String(value) > String(a);
        if ((acc === "$min" && less) || (acc === "$max" && greater)) state.value = value;
      }
      state.count++;
      return;
    }
    case "$first":
      if (state.count === 0 && value !== undefined) {
        state.value = value;
        state.count = 1;
      }
      return;
    case "$last":
      if (value !== undefined) state.value = value;
      return;
    case "$push":
      if (value === undefined) return;
      (state.list ??= []).push(value);
      return;
    case "$addToSet": {
      if (value === undefined) return;
      const id = value !== null && typeof value === "object" ? stableStringify(value) : `${typeof value}:${String(value)}`;
      state.seen ??= new Set();
      if (state.seen.has(id)) return;
      state.seen.add(id);
      (state.list ??= []).push(value);
      return;
    }
    case "$count":
      if (!isEmpty(value)) state.count++;
      return;
  }
}

/** A compiled accumulate step; `$sum` of plain numbers (the hot case) skips the general path. */
function adder(acc: Accumulator, field: string): (state: AccState, value: unknown, memberId: string) => void {
  if (acc === "$sum") {
    return (state, value, memberId) => {
      if (typeof value === "number" && value === value) {
        state.sum += value;
        addExact(state, value);
        state.count++;
      } else accumulate(acc, state, value, field, memberId);
    };
  }
  return (state, value, memberId) => accumulate(acc, state, value, field, memberId);
}

function result(acc: Accumulator, state: AccState): unknown {
  switch (acc) {
    case "$sum":
      return exactSum(state);
    case "$avg":
      return state.count === 0 ? null : clean(exactSum(state) / state.count);
    case "$count":
      return state.count;
    case "$push":
    case "$addToSet":
      return state.list ?? [];
    default:
      return state.value;
  }
}

interface LineGroup {
  key: unknown;
  base: Record<string, unknown>;
  states: AccState[];
  /** Position among the merged lines. */
  index: number;
}

/** End of the period containing a date value, epoch ms; null when the value is not a date. */
export function periodEndOf(value: unknown, unit: "hour" | "day" | "month", timezone: string): number | null {
  const w = wallClock(value, timezone);
  if (!w) return null;
  const y = Number(w.y);
  const mo = Number(w.mo);
  const day = daysFromCivil(y, mo, Number(w.d));
  const local =
    unit === "hour"
      ? day * DAY_MS + (Number(w.h) + 1) * 3_600_000
      : unit === "day"
        ? (day + 1) * DAY_MS
        : daysFromCivil(mo === 12 ? y + 1 : y, mo === 12 ? 1 : mo + 1, 1) * DAY_MS;
  return fromLocalMs(local, timezone);
}

/**
 * Keeps one input per (id, seq): overlapping windows can deliver the same document twice. The version
 * with the later `modified` wins, then the larger canonical JSON, so the choice never depends on order.
 */
function dedupe(inputs: readonly MergeInput[]): MergeInput[] {
  const byKey = new Map<string, MergeInput>();
  for (const input of inputs) {
    const k = input.seq === undefined ? input.id : `${input.id}#${input.seq}`;
    const prev = byKey.get(k);
    if (!prev) {
      byKey.set(k, input);
      continue;
    }
    const pm = String(prev.record.modified ?? "");
    const im = String(input.record.modified ?? "");
    if (im > pm || (im === pm && stableStringify(input.record) > stableStringify(prev.record))) byKey.set(k, input);
  }
  return [...byKey.values()].sort((a, b) => compareIds(a.id, b.id) || (a.seq ?? 0) - (b.seq ?? 0));
}

/** A merge configuration compiled once: the getters, accumulators and key template every group reuses. */
interface MergePlan {
  config: MergeConfig;
  flatRows: boolean;
  timezone: string;
  keyTemplate: CompiledValue;
  groupGet: Array<(row: Record<string, unknown>) => unknown>;
  /** The key template reads only groupBy fields: the rendered key is a function of the groupBy values. */
  keyFromGroupBy: boolean;
  headerCalc: [string, Accumulator][];
  lineCalc: [string, Accumulator][];
  lineCalcGet: Array<(row: Record<string, unknown>) => unknown>;
  lineKeyGet: Array<(row: Record<string, unknown>) => unknown>;
  linesOf: (row: Record<string, unknown>) => unknown;
  adders: ReturnType<typeof adder>[];
}

export function compileMerge(config: MergeConfig, options: { flatRows?: boolean; timezone?: string; path?: string } = {}): CompiledMerge {
  const keyTemplate: CompiledValue = compileValue(config.keyTemplate, { path: options.path ? `${options.path}.keyTemplate` : "operation.keyTemplate" });
  const lineCalc = Object.entries(config.calculate ?? {}) as [string, Accumulator][];
  const plan: MergePlan = {
    config,
    flatRows: options.flatRows ?? false,
    timezone: options.timezone ?? DEFAULT_ZONE,
    keyTemplate,
    groupGet: config.groupBy.map(getter),
    // When the key template reads only groupBy fields (always, for a loaded flow), render it once per
    // distinct value tuple instead of once per document.
    keyFromGroupBy: keyTemplate.fields.every((f) => config.groupBy.includes(f)),
    headerCalc: Object.entries(config.headerCalculate ?? {}) as [string, Accumulator][],
    lineCalc,
    lineCalcGet: lineCalc.map(([field]) => getter(field)),
    lineKeyGet: (config.lineGroupBy ?? []).map(getter),
    linesOf: getter(config.lines),
    adders: lineCalc.map(([field, acc]) => adder(acc, field)),
  };
  // Period ends per raw value: a window holds few distinct days, so each is computed once.
  const periodCache = new Map<unknown, number | null>();
  return {
    config,
    group: (inputs, vars) => groupInputs(plan, inputs, vars),
    mergeGroup: (groupKey, rawInputs, supplement = 0) => mergeGroupOf(plan, groupKey, rawInputs, supplement),
    periodEnd: (inputs) => periodEndOfInputs(plan, periodCache, inputs),
  };
}

/** Groups inputs by rendered key (sorted); inputs without the groupBy fields or whose key fails to render are errors. */
function groupInputs(plan: MergePlan, inputs: readonly MergeInput[], vars: TemplateVars): ReturnType<CompiledMerge["group"]> {
  const { config, groupGet, keyFromGroupBy, keyTemplate } = plan;
  const groups = new Map<string, MergeInput[]>();
  const errors: { id: string; error: BridgeError }[] = [];
  const rendered = new Map<unknown, unknown>(); // nested by groupBy value → rendered key
  for (const input of inputs) {
    let complete = true;
    for (const get of groupGet) if (isEmpty(get(input.record))) complete = false;
    if (!complete) {
      const missing = config.groupBy.filter((f) => isEmpty(getField(input.record, f)));
      errors.push({
        id: input.id,
        error: new MergeError(
          `document ${input.id} has no value for merge field${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
          { id: input.id, fields: missing },
          "Every document must carry the groupBy fields; check formatResponse and the source data.",
        ),
      });
      continue;
    }
    let key: string | undefined;
    let level = rendered;
    if (keyFromGroupBy) {
      for (let i = 0; i < groupGet.length - 1; i++) {
        const v = groupGet[i]!(input.record);
        let next = level.get(v) as Map<unknown, unknown> | undefined;
        if (!next) level.set(v, (next = new Map()));
        level = next;
      }
      key = level.get(groupGet[groupGet.length - 1]!(input.record)) as string | undefined;
    }
    if (key === undefined) {
      try {
        key = String(keyTemplate.evaluate({ record: input.record, vars }));
      } catch (error) {
        errors.push({ id: input.id, error: error instanceof BridgeError ? error : new MergeError(String(error), { id: input.id }) });
        continue;
      }
      if (keyFromGroupBy) level.set(groupGet[groupGet.length - 1]!(input.record), key);
    }
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(input);
  }
  const sorted = [...groups.keys()].sort();
  return { groups: sorted.map((groupKey) => ({ groupKey, inputs: groups.get(groupKey)! })), errors };
}

/** End of the period the group belongs to (max over members); undefined without `period`. */
function periodEndOfInputs(plan: MergePlan, cache: Map<unknown, number | null>, inputs: readonly MergeInput[]): number | undefined {
  const period = plan.config.period;
  if (!period) return undefined;
  let end = -Infinity;
  for (const input of inputs) {
    const raw = getField(input.record, period.field);
    let e = cache.get(raw);
    if (e === undefined) {
      e = periodEndOf(raw, period.unit, plan.timezone);
      if (cache.size > 4096) cache.clear();
      if (typeof raw === "string" || typeof raw === "number") cache.set(raw, e);
    }
    if (e === null) {
      throw new MergeError(
        `document ${input.id}: ${period.field}=${JSON.stringify(getField(input.record, period.field))} is not a date, so its merge period is unknown`,
        { id: input.id, field: period.field },
        `Make sure every document carries ${period.field}.`,
      );
    }
    if (e > end) end = e;
  }
  return end;
}

/** Map key of a line: one primitive field keys directly (1 and "1" stay apart), else canonical JSON. */
function lineKeyOf(plan: MergePlan, row: Record<string, unknown>): unknown {
  const { lineKeyGet } = plan;
  if (lineKeyGet.length === 1) {
    const v = lineKeyGet[0]!(row);
    return v !== null && typeof v === "object" ? `json:${JSON.stringify(v)}` : (v ?? null);
  }
  let k = "";
  for (const get of lineKeyGet) k += `${JSON.stringify(get(row) ?? null)}|`;
  return k;
}

/** Header: the groupBy fields (equal across members) and the header accumulators, one value per member. */
function mergeHeader(plan: MergePlan, inputs: readonly MergeInput[]): Record<string, unknown> {
  const { config, headerCalc } = plan;
  const header: Record<string, unknown> = {};
  for (const f of config.groupBy) header[f] = getField(inputs[0]!.record, f);
  if (headerCalc.length > 0) {
    const states = headerCalc.map(() => newState());
    let lastId: string | undefined;
    for (const input of inputs) {
      if (input.id === lastId) continue; // flattened rows of one document count once
      lastId = input.id;
      headerCalc.forEach(([field, acc], i) => accumulate(acc, states[i]!, getField(input.record, field), field, input.id));
    }
    headerCalc.forEach(([field, acc], i) => (header[field] = result(acc, states[i]!)));
  }
  return header;
}

/** Lines, in member order; grouped lines (lineGroupBy) keep the position of their first occurrence. */
function mergeLines(plan: MergePlan, inputs: readonly MergeInput[]): { lines: Record<string, unknown>[]; groupsByKey: Map<unknown, LineGroup> | null } {
  const { flatRows, linesOf, lineKeyGet, lineCalc, lineCalcGet, adders } = plan;
  const lineGroupBy = plan.config.lineGroupBy;
  const lines: Record<string, unknown>[] = [];
  const groupsByKey = lineGroupBy ? new Map<unknown, LineGroup>() : null;
  const lineGroups: LineGroup[] = [];
  for (const input of inputs) {
    const source = flatRows ? [input.record] : linesOf(input.record);
    if (!Array.isArray(source)) continue;
    for (const line of source) {
      if (line === null || typeof line !== "object") continue;
      const row = line as Record<string, unknown>;
      if (!groupsByKey) {
        lines.push(row);
        continue;
      }
      const k = lineKeyOf(plan, row);
      let g = groupsByKey.get(k);
      if (!g) {
        const base: Record<string, unknown> = {};
        for (let i = 0; i < lineKeyGet.length; i++) base[lineGroupBy![i]!] = lineKeyGet[i]!(row);
        g = { key: k, base, states: lineCalc.map(newState), index: lineGroups.length };
        groupsByKey.set(k, g);
        lineGroups.push(g);
      }
      for (let i = 0; i < adders.length; i++) adders[i]!(g.states[i]!, lineCalcGet[i]!(row), input.id);
    }
  }
  for (const g of lineGroups) {
    const line = { ...g.base };
    for (let i = 0; i < lineCalc.length; i++) line[lineCalc[i]![0]] = result(lineCalc[i]![1], g.states[i]!);
    lines.push(line);
  }
  return { lines, groupsByKey };
}

/** Members that fed lines [from, to): a second pass, only when maxLines splits the group. */
function membersOfLines(plan: MergePlan, groupsByKey: Map<unknown, LineGroup> | null, members: readonly MergeInput[], from: number, to: number): string[] {
  const out = new Set<string>();
  let position = 0;
  for (const input of members) {
    const source = plan.flatRows ? [input.record] : plan.linesOf(input.record);
    if (!Array.isArray(source)) continue;
    for (const line of source) {
      if (line === null || typeof line !== "object") continue;
      const index = groupsByKey ? groupsByKey.get(lineKeyOf(plan, line as Record<string, unknown>))!.index : position++;
      if (index >= from && index < to) out.add(input.id);
    }
  }
  return [...out].sort(compareIds);
}

/** Merges one group's inputs (all of them, or just the late ones for a supplement) into one document per maxLines part. */
function mergeGroupOf(plan: MergePlan, groupKey: string, rawInputs: readonly MergeInput[], supplement: number): MergedDocument[] {
  const { config } = plan;
  const inputs = dedupe(rawInputs);
  if (!inputs[0]) return [];
  const header = mergeHeader(plan, inputs);
  const { lines, groupsByKey } = mergeLines(plan, inputs);
  const allMembers = [...new Set(inputs.map((i) => i.id))];
  const max = config.maxLines && lines.length > config.maxLines ? config.maxLines : lines.length || 1;
  const parts = Math.max(1, Math.ceil(lines.length / max));
  const baseKey = supplement > 0 ? `${groupKey}-S${supplement}` : groupKey;
  const docs: MergedDocument[] = [];
  for (let p = 0; p < parts; p++) {
    const partLines = lines.slice(p * max, (p + 1) * max);
    const members = parts === 1 ? allMembers : membersOfLines(plan, groupsByKey, inputs, p * max, (p + 1) * max);
    const key = parts > 1 ? `${baseKey}-${p + 1}` : baseKey;
    const record: Record<string, unknown> = {
      ...header,
      [config.lines]: partLines,
      _merge_key: key,
      _merge_group: groupKey,
      _merge_part: p + 1,
      _merge_parts: parts,
      _merge_supplement: supplement,
      _merge_count: members.length,
      _merge_members: members,
    };
    // The hash is computed on first use: the pipeline hashes the mapped payload, not this record.
    let hash: string | undefined;
    docs.push({
      key,
      groupKey,
      part: p + 1,
      parts,
      supplement,
      members,
      record,
      get hash() {
        return (hash ??= contentHash(record));
      },
    });
  }
  return docs;
}

/** Merges everything given, ignoring periods and earlier writes (see merge-policy.ts for those). */
export function mergeRecords(
  inputs: readonly MergeInput[],
  merge: CompiledMerge,
  vars: TemplateVars,
): { documents: MergedDocument[]; errors: { id: string; error: BridgeError }[] } {
  const { groups, errors } = merge.group(inputs, vars);
  const documents: MergedDocument[] = [];
  for (const g of groups) {
    try {
      documents.push(...merge.mergeGroup(g.groupKey, g.inputs));
    } catch (error) {
      const e = error instanceof BridgeError ? error : new MergeError(String(error), {});
      for (const id of new Set(g.inputs.map((i) => i.id))) errors.push({ id, error: e });
    }
  }
  return { documents, errors };
}
