/**
 * Turns zod issues into user-facing problems: a JSON path (`target.fields[2].children[0].type`), what is
 * wrong, and a hint on how to fix it (the allowed values, a "did you mean", the documented limit).
 */
import type * as z from "zod/mini";
import { issueText } from "../util/issue-text.ts";
import { editDistance } from "../util/edit-distance.ts";

export interface FlowProblem {
  /** JSON path inside the flow document; "" for the document itself. */
  path: string;
  problem: string;
  hint?: string;
}

type PathKey = PropertyKey;

const IDENT = /^[\p{L}_$][\p{L}\p{N}_$]*$/u;

/** `["target","fields",2,"type"]` → `target.fields[2].type`. */
export function jsonPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else {
      const name = String(key);
      out += IDENT.test(name) ? (out === "" ? name : `.${name}`) : `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key as string];
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Hints keyed by the last path segment (and, where needed, the component it sits in). */
const KEY_HINTS: Record<string, string> = {
  id: 'use lowercase words joined by dashes, e.g. "jst-sales-out-to-tplus"',
  name: "give the flow a human-readable name",
  version: "use a whole number ≥ 1 and raise it whenever the mapping changes",
  endpoint: 'use a Jushuitan query path, e.g. "/open/orders/out/simple/query"',
  windowDays: "Jushuitan refuses modified_begin/modified_end spans over 7 days; use a value from 1 to 7 (the engine cuts longer ranges into windows)",
  lookbackMinutes: "minutes re-read before the watermark to catch late rows, e.g. 10",
  endLagMinutes: "minutes left unread before now because rows may still be written upstream, e.g. 5",
  pageSize: "Jushuitan document queries return at most 50 rows per page (inventory 100)",
  cron: 'use 5 fields, e.g. "*/15 * * * *" (every 15 minutes) or "3 2 * * *" (02:03 daily)',
  externalKey: 'a template giving the deterministic key, e.g. "{io_id}" or "{_merge_key}" for merged flows',
  keyTemplate: 'a template using only the groupBy fields, e.g. "SO-{io_date_new}-{wms_co_id}"',
  groupBy: 'list the header fields that make one merged document, e.g. ["io_date_new", "wms_co_id"]',
  lines: 'name the detail array, e.g. "items"',
  fields: "describe the target payload as a list of { field, type, value } nodes",
  incremental: 'add e.g. { "lookbackMinutes": 10, "endLagMinutes": 5, "windowDays": 1 }',
  source: 'add a source, e.g. { "type": "jushuitan", "endpoint": "/open/orders/out/simple/query" }',
  target: 'add a target, e.g. { "type": "tplus", "operation": "otherDispatch/Create", … }',
  field: "name the target field (the key in the payload)",
  logic: "use one of eq, neq, gt, egt, lt, elt, like, notlike, in, notin, between, notnull, isnull",
  old: "the source field to format",
  new: "the field that receives the formatted value (may equal old)",
  format: "e.g. date, datetime, dateTime, time, shortDate, round(2), intval, amount, implode(','), StringToArray",
  keyField: "the column of the reference table that lookups match on",
  operation: "the target operation, e.g. otherDispatch/Create (T+) or app007104/miscellaneousreceipt/create (KIS)",
};

const FIELD_TYPE_HINT = "use one of string, int, float, date, datetime, bool, object, array";

function hintFor(path: readonly PathKey[]): string | undefined {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === "type") {
    if (path[0] === "target" && (path.includes("fields") || path.includes("children"))) return FIELD_TYPE_HINT;
  }
  if (typeof last === "number" && (parent === "calculate" || parent === "headerCalculate")) return undefined;
  if (parent === "calculate" || parent === "headerCalculate") return "use one of $sum, $avg, $min, $max, $first, $last, $push, $addToSet, $count";
  return typeof last === "string" ? KEY_HINTS[last] : undefined;
}

// ---- schema navigation (for "allowed keys" and "did you mean") ----

interface ZodDefLike {
  type: string;
  shape?: Record<string, { _zod: { def: ZodDefLike } }>;
  innerType?: { _zod: { def: ZodDefLike } };
  element?: { _zod: { def: ZodDefLike } };
  valueType?: { _zod: { def: ZodDefLike } };
  options?: { _zod: { def: ZodDefLike } }[];
  discriminator?: string;
}

function unwrap(def: ZodDefLike): ZodDefLike {
  let d = def;
  while ((d.type === "optional" || d.type === "default" || d.type === "nullable" || d.type === "prefault") && d.innerType) {
    d = d.innerType._zod.def;
  }
  return d;
}

/** The object keys the schema allows at `path` (following discriminators by the document's values). */
function allowedKeysAt(schema: z.ZodMiniType, root: unknown, path: readonly PathKey[]): string[] | null {
  let def = unwrap((schema as unknown as { _zod: { def: ZodDefLike } })._zod.def);
  for (let i = 0; i <= path.length; i++) {
    if (def.type === "union" && def.options && def.discriminator) {
      const tag = (valueAt(root, path.slice(0, i)) as Record<string, unknown> | undefined)?.[def.discriminator];
      const match = def.options.find((o) => {
        const shape = unwrap(o._zod.def).shape;
        const lit = shape?.[def.discriminator!]?._zod.def as unknown as { values?: unknown[] } | undefined;
        return lit?.values?.includes(tag);
      });
      if (!match) return null;
      def = unwrap(match._zod.def);
    }
    if (i === path.length) break;
    const key = path[i];
    if (def.type === "object" && def.shape && typeof key === "string" && def.shape[key]) def = unwrap(def.shape[key]._zod.def);
    else if (def.type === "array" && def.element && typeof key === "number") def = unwrap(def.element._zod.def);
    else if (def.type === "record" && def.valueType) def = unwrap(def.valueType._zod.def);
    else return null;
  }
  return def.type === "object" && def.shape ? Object.keys(def.shape) : null;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

// ---- issue mapping ----

type Issue = z.core.$ZodIssue;

function expectedOfUnion(issue: Issue & { errors?: Issue[][] }): string[] {
  const expected = new Set<string>();
  for (const branch of issue.errors ?? []) {
    for (const e of branch) {
      if (e.path.length === 0 && e.code === "invalid_type") expected.add(String(e.expected));
      else if (e.path.length === 0 && e.code === "invalid_value") expected.add(e.values.map((v) => JSON.stringify(v)).join("|"));
    }
  }
  return [...expected];
}

function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/**
 * A value that matches no branch of a union: for a discriminated union, the discriminator that is missing or unknown
 * (with a guess); otherwise the kinds of value the branches take.
 */
function unionProblem(issue: Issue, root: unknown, actual: unknown, hint: string | undefined): FlowProblem {
  const path = issue.path;
  const disc = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
  if (disc !== undefined) {
    const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
    const parentPath = path[path.length - 1] === disc ? path.slice(0, -1) : path;
    const component = jsonPath(parentPath) || "document";
    const value = valueAt(root, [...parentPath, disc]);
    const guess = typeof value === "string" ? closest(value, options) : undefined;
    return {
      path: jsonPath([...parentPath, disc]),
      problem: value === undefined ? `${component} needs a "${disc}"` : `unknown ${component} type ${JSON.stringify(value)}`,
      hint: `use one of: ${options.join(", ")}${guess ? ` (did you mean "${guess}"?)` : ""}`,
    };
  }
  const expected = expectedOfUnion(issue as Issue & { errors?: Issue[][] });
  return {
    path: jsonPath(path),
    problem: `expected ${expected.length ? listWords(expected) : "another kind of value"}, got ${describe(actual)}`,
    hint: hint ?? (expected.length ? `use ${expected.length > 1 ? "one of " : "a "}${listWords(expected)}` : undefined),
  };
}

export function formatIssues(issues: readonly Issue[], root: unknown, schema?: z.ZodMiniType): FlowProblem[] {
  const problems: FlowProblem[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const actual = valueAt(root, path);
    const at = jsonPath(path);
    const hint = hintFor(path);
    switch (issue.code) {
      case "invalid_type": {
        if (actual === undefined) {
          problems.push({ path: at, problem: `is required (expected ${issue.expected})`, hint: hint ?? `add "${String(path[path.length - 1])}"` });
        } else {
          problems.push({
            path: at,
            problem: `expected ${issue.expected}, got ${describe(actual)}`,
            hint: hint ?? `use ${/^[aeiou]/.test(String(issue.expected)) ? "an" : "a"} ${issue.expected}`,
          });
        }
        break;
      }
      case "invalid_value": {
        const allowed = issue.values.map((v) => String(v));
        const guess = typeof actual === "string" ? closest(actual, allowed) : undefined;
        problems.push({
          path: at,
          problem: actual === undefined ? "is required" : `${describe(actual)} is not allowed`,
          hint: `use one of: ${allowed.join(", ")}${guess ? ` (did you mean "${guess}"?)` : ""}`,
        });
        break;
      }
      case "invalid_union":
        problems.push(unionProblem(issue, root, actual, hint));
        break;
      case "unrecognized_keys": {
        const allowed = schema ? allowedKeysAt(schema, root, path) : null;
        for (const key of issue.keys) {
          const guess = allowed ? closest(key, allowed) : undefined;
          problems.push({
            path: jsonPath([...path, key]),
            problem: `unknown key "${key}"`,
            hint: guess ? `did you mean "${guess}"?` : allowed ? `remove it; allowed keys here: ${allowed.join(", ")}` : "remove it or fix its spelling",
          });
        }
        break;
      }
      case "too_big":
      case "too_small": {
        const bound = issue.code === "too_big" ? issue.maximum : issue.minimum;
        const what =
          issue.origin === "array"
            ? `has ${Array.isArray(actual) ? actual.length : "?"} item(s); ${issue.code === "too_big" ? "at most" : "at least"} ${String(bound)} allowed`
            : issue.origin === "string"
              ? issueText(issue)
              : `${describe(actual)} is too ${issue.code === "too_big" ? "big" : "small"} (${issue.code === "too_big" ? "max" : "min"} ${String(bound)})`;
        problems.push({ path: at, problem: what, hint });
        break;
      }
      case "invalid_format":
        problems.push({ path: at, problem: `${describe(actual)} ${issueText(issue)}`, hint });
        break;
      default:
        problems.push({ path: at, problem: issueText(issue), hint });
    }
  }
  return problems;
}
