/**
 * QEasy `condition`: an OR of AND groups of `{ field, logic, value }`, evaluated on each source document
 * after fetching. A condition on a detail-line field (`items.qty`) is tested per line: in "line" mode the
 * failing lines are dropped (and the document when none is left); in "strict" mode one failing line drops
 * the whole document.
 */
import { BridgeError } from "../errors.ts";
import { parseInZone } from "../util/time.ts";
import { wallClock } from "./format-response.ts";

export type ConditionLogic = "eq" | "neq" | "gt" | "egt" | "lt" | "elt" | "like" | "notlike" | "in" | "notin" | "between" | "notnull" | "isnull";

export interface ConditionInput {
  field: string;
  logic: ConditionLogic;
  value?: unknown;
}

export type ConditionMode = "line" | "strict";

export type ConditionOutcome = { keep: true; doc: Record<string, unknown> } | { keep: false; reason: string };

/** A condition that cannot work whatever the data (bad `between`, missing value). Reported at flow load. */
export class ConditionConfigError extends BridgeError {
  constructor(message: string, hint: string) {
    super("config_invalid", message, { hint });
  }
}

type Test = (value: unknown) => boolean;

interface CompiledCondition {
  text: string;
  /** Path inside a line when the condition addresses the line array; null for header conditions. */
  linePath: string[] | null;
  headerPath: string[];
  test: Test;
}

const EMPTY = (v: unknown) => v === undefined || v === null || v === "";

function asNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "" && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v.trim())) return Number(v);
  return null;
}

function asEpochSeconds(v: unknown, timezone: string): number | null {
  const w = wallClock(v, timezone);
  if (!w) return null;
  const ms = parseInZone(`${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.s}`, timezone);
  return ms === null ? null : Math.floor(ms / 1000);
}

/** A comparison operand: numbers compare as numbers, `timestamp:<epoch s>` as instants, the rest as text. */
interface Operand {
  raw: unknown;
  num: number | null;
  epoch: number | null;
  text: string;
}

function operand(raw: unknown, timezone: string): Operand {
  if (typeof raw === "string" && raw.startsWith("timestamp:")) {
    const n = asNumber(raw.slice("timestamp:".length));
    const epoch = n === null ? asEpochSeconds(raw.slice("timestamp:".length), timezone) : n > 1e11 ? Math.floor(n / 1000) : n;
    return { raw, num: null, epoch, text: raw };
  }
  return { raw, num: asNumber(raw), epoch: null, text: raw === undefined || raw === null ? "" : String(raw) };
}

function compare(value: unknown, op: Operand, timezone: string): number | null {
  if (op.epoch !== null) {
    const e = asEpochSeconds(value, timezone);
    return e === null ? null : e - op.epoch;
  }
  const n = asNumber(value);
  if (n !== null && op.num !== null) return n - op.num;
  if (EMPTY(value)) return null;
  const text = String(value);
  return text < op.text ? -1 : text > op.text ? 1 : 0;
}

function equals(value: unknown, op: Operand): boolean {
  const n = asNumber(value);
  if (n !== null && op.num !== null) return n === op.num;
  return (value === undefined || value === null ? "" : String(value)) === op.text;
}

function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value === undefined || value === null) return [];
  return String(value)
    .split(",")
    .map((s) => s.trim());
}

function likeTest(pattern: string): (v: unknown) => boolean {
  if (!pattern.includes("%")) return (v) => !EMPTY(v) && String(v).includes(pattern);
  const re = new RegExp(
    `^${pattern
      .split("%")
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
    "s",
  );
  return (v) => !EMPTY(v) && re.test(String(v));
}

function buildTest(c: ConditionInput, timezone: string): Test {
  const needsValue = c.logic !== "notnull" && c.logic !== "isnull";
  if (needsValue && (c.value === undefined || c.value === null)) {
    throw new ConditionConfigError(`"${c.logic}" needs a value`, `add "value" to the condition on ${c.field}`);
  }
  switch (c.logic) {
    case "eq": {
      const op = operand(c.value, timezone);
      return (v) => equals(v, op);
    }
    case "neq": {
      const op = operand(c.value, timezone);
      return (v) => !equals(v, op);
    }
    case "gt":
    case "egt":
    case "lt":
    case "elt": {
      const op = operand(c.value, timezone);
      const accept =
        c.logic === "gt" ? (d: number) => d > 0 : c.logic === "egt" ? (d: number) => d >= 0 : c.logic === "lt" ? (d: number) => d < 0 : (d: number) => d <= 0;
      return (v) => {
        const d = compare(v, op, timezone);
        return d !== null && accept(d);
      };
    }
    case "like":
      return likeTest(String(c.value));
    case "notlike": {
      const like = likeTest(String(c.value));
      return (v) => !like(v);
    }
    case "in":
    case "notin": {
      const ops = listOf(c.value).map((x) => operand(x, timezone));
      if (ops.length === 0) throw new ConditionConfigError(`"${c.logic}" needs a list`, `give "value" as an array or "a,b,c"`);
      return c.logic === "in" ? (v) => ops.some((op) => equals(v, op)) : (v) => !ops.some((op) => equals(v, op));
    }
    case "between": {
      const bounds = listOf(c.value);
      if (bounds.length !== 2) {
        throw new ConditionConfigError(`"between" needs exactly two bounds, got ${JSON.stringify(c.value)}`, `write "value": "100,500" or [100, 500]`);
      }
      const lo = operand(bounds[0], timezone);
      const hi = operand(bounds[1], timezone);
      return (v) => {
        const a = compare(v, lo, timezone);
        const b = compare(v, hi, timezone);
        return a !== null && b !== null && a >= 0 && b <= 0;
      };
    }
    case "notnull":
      return (v) => !EMPTY(v);
    case "isnull":
      return EMPTY;
    default:
      throw new ConditionConfigError(
        `unknown logic "${String((c as { logic: unknown }).logic)}"`,
        "use eq, neq, gt, egt, lt, elt, like, notlike, in, notin, between, notnull or isnull",
      );
  }
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function describeCondition(c: ConditionInput): string {
  return c.logic === "notnull" || c.logic === "isnull" ? `${c.field} ${c.logic}` : `${c.field} ${c.logic} ${JSON.stringify(c.value)}`;
}

/**
 * Compiles the OR-of-AND groups. `linesField` names the detail array (`items`): conditions starting with
 * it are line conditions. A condition through any other array holds when some element satisfies it.
 */
export function compileCondition(
  groups: readonly (readonly ConditionInput[])[],
  options: { mode?: ConditionMode; linesField?: string; timezone?: string } = {},
): (doc: Record<string, unknown>) => ConditionOutcome {
  const mode = options.mode ?? "line";
  const linesField = options.linesField ?? "items";
  const timezone = options.timezone ?? "Asia/Shanghai";
  if (groups.length === 0) return (doc) => ({ keep: true, doc });

  const compiled: CompiledCondition[][] = groups.map((group) =>
    group.map((c) => {
      const path = c.field.split(".");
      const isLine = path.length > 1 && path[0] === linesField;
      return { text: describeCondition(c), linePath: isLine ? path.slice(1) : null, headerPath: path, test: buildTest(c, timezone) };
    }),
  );
  const hasLineConditions = compiled.some((g) => g.some((c) => c.linePath));

  const headerHolds = (doc: Record<string, unknown>, c: CompiledCondition): boolean => {
    // Through an array other than the lines: some element must satisfy it.
    let cur: unknown = doc;
    for (let i = 0; i < c.headerPath.length; i++) {
      if (Array.isArray(cur)) {
        const rest = c.headerPath.slice(i);
        return cur.some((el) => c.test(getPath(el, rest)));
      }
      if (cur === null || typeof cur !== "object") return c.test(undefined);
      cur = (cur as Record<string, unknown>)[c.headerPath[i]!];
    }
    return c.test(cur);
  };

  return (doc) => {
    // Per group: does the header part hold, and which condition failed first (for the reason text).
    const headerOk: boolean[] = [];
    let firstFailure = "";
    for (const group of compiled) {
      let ok = true;
      for (const c of group) {
        if (c.linePath) continue;
        if (!headerHolds(doc, c)) {
          ok = false;
          if (!firstFailure) firstFailure = `${c.text} (value ${JSON.stringify(getPath(doc, c.headerPath) ?? null)})`;
          break;
        }
      }
      headerOk.push(ok);
    }

    if (!hasLineConditions) {
      if (headerOk.some(Boolean)) return { keep: true, doc };
      return { keep: false, reason: `condition not met: ${firstFailure}` };
    }

    const linesValue = doc[linesField];
    const lines = Array.isArray(linesValue) ? linesValue : [];
    const linePasses = (line: unknown): boolean =>
      compiled.some((group, g) => headerOk[g] && group.every((c) => !c.linePath || c.test(getPath(line, c.linePath))));

    if (lines.length === 0) {
      const passes = compiled.some((group, g) => headerOk[g] && group.every((c) => !c.linePath));
      return passes ? { keep: true, doc } : { keep: false, reason: `condition not met: ${firstFailure || `no ${linesField} lines to test`}` };
    }

    const kept = lines.filter(linePasses);
    if (kept.length === lines.length) return { keep: true, doc };
    if (mode === "strict") {
      const failing = lines.findIndex((l) => !linePasses(l));
      return { keep: false, reason: `strict condition: ${linesField}[${failing}] does not satisfy the condition${firstFailure ? ` (${firstFailure})` : ""}` };
    }
    if (kept.length === 0) return { keep: false, reason: `condition not met by any ${linesField} line${firstFailure ? ` (${firstFailure})` : ""}` };
    return { keep: true, doc: { ...doc, [linesField]: kept } };
  };
}
