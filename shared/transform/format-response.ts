/**
 * QEasy `formatResponse`: `{ old, new, format }` rules applied to each source document before filtering,
 * e.g. `{ "old": "io_date", "new": "io_date_new", "format": "date" }`. `old` may reach into detail lines
 * (`items.qty`): the rule then runs per line and `new` lands in the same line. Documents are copied,
 * never mutated (the same page may be previewed twice).
 */
import { BridgeError } from "../errors.ts";
import { DEFAULT_ZONE, instantOfValue, parseInZone, splitWallText, wallClock as timeWallClock } from "../util/time.ts";

export class FormatError extends BridgeError {
  constructor(message: string, details: Record<string, unknown>, hint?: string) {
    super("format_failed", message, { details, hint });
  }
}

/** `now` (epoch ms) is the reference instant of relative formats (dateDescription); default Date.now(). */
export type Formatter = (value: unknown, timezone: string, now?: number) => unknown;

interface FormatSpec {
  /** Takes an argument in parentheses: `round(2)`, `implode('|')`. */
  arg: "none" | "int" | "string";
  make(arg: string | undefined): Formatter;
}

interface WallClock {
  y: string;
  mo: string;
  d: string;
  h: string;
  mi: string;
  s: string;
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));
const four = (n: number) => String(n).padStart(4, "0");

/**
 * Wall-clock parts in `timezone`. Plain Jushuitan text (`2024-03-01 10:00:00[.123]`, or compact `20240301[1000[00]]`)
 * is split without any zone arithmetic (it already is Shanghai wall-clock time); instants (epoch numbers, text with
 * Z/offset) are converted into the zone. Both through the time module (shared/util/time.ts).
 */
export function wallClock(value: unknown, timezone: string): WallClock | null {
  if (typeof value === "string") {
    const text = value.trim();
    const t = splitWallText(text, true);
    if (t) return { y: four(t.year), mo: two(t.month), d: two(t.day), h: two(t.hour), mi: two(t.minute), s: two(t.second) };
  }
  // The time module's one reading, shared with the templates' date filters.
  const ms = instantOfValue(value, timezone);
  return ms === null ? null : fromInstant(ms, timezone);
}

function fromInstant(ms: number, timezone: string): WallClock {
  const w = timeWallClock(ms, timezone);
  return { y: four(w.year), mo: two(w.month), d: two(w.day), h: two(w.hour), mi: two(w.minute), s: two(w.second) };
}

function dateFormatter(render: (w: WallClock) => string, name: string): Formatter {
  return (value, timezone) => {
    const w = wallClock(value, timezone);
    if (!w)
      throw new FormatError(
        `cannot read ${JSON.stringify(value)} as a date for format "${name}"`,
        { value, format: name },
        "Source dates must look like 2024-03-01, 2024-03-01 10:00:00, an ISO instant or epoch seconds/ms.",
      );
    return render(w);
  };
}

function toNumber(value: unknown, format: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value.replace(/,/g, "")) : NaN;
  if (!Number.isFinite(n)) throw new FormatError(`${JSON.stringify(value)} is not a number (format "${format}")`, { value, format });
  return n;
}

/** Half-away-from-zero rounding that survives binary noise (1.005 → 1.01). */
export function roundTo(n: number, digits: number): number {
  const factor = 10 ** digits;
  const shifted = Number((Math.abs(n) * factor).toPrecision(15));
  return (Math.sign(n) * Math.round(shifted)) / factor;
}

function unquote(arg: string | undefined): string | undefined {
  if (arg === undefined) return undefined;
  const m = /^(['"])(.*)\1$/s.exec(arg);
  return m ? m[2] : arg;
}

const FORMATS: Record<string, FormatSpec> = {
  date: { arg: "none", make: () => dateFormatter((w) => `${w.y}-${w.mo}-${w.d}`, "date") },
  datetime: { arg: "none", make: () => dateFormatter((w) => `${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.s}`, "datetime") },
  // QEasy's dateTime is date + hours:minutes (no seconds).
  dateTime: { arg: "none", make: () => dateFormatter((w) => `${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}`, "dateTime") },
  time: { arg: "none", make: () => dateFormatter((w) => `${w.h}:${w.mi}:${w.s}`, "time") },
  shortDate: { arg: "none", make: () => dateFormatter((w) => `${w.mo}-${w.d}`, "shortDate") },
  shortTime: { arg: "none", make: () => dateFormatter((w) => `${w.h}:${w.mi}`, "shortTime") },
  shortDateTime: { arg: "none", make: () => dateFormatter((w) => `${w.mo}-${w.d} ${w.h}:${w.mi}`, "shortDateTime") },
  isoDateTime: { arg: "none", make: () => dateFormatter((w) => `${w.y}-${w.mo}-${w.d}T${w.h}:${w.mi}:${w.s}`, "isoDateTime") },
  timestamp: {
    arg: "none",
    make: () => (value, timezone) => {
      const w = wallClock(value, timezone);
      if (!w) throw new FormatError(`cannot read ${JSON.stringify(value)} as a date for format "timestamp"`, { value, format: "timestamp" });
      return Math.floor(parseInZone(`${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.s}`, timezone)! / 1000);
    },
  },
  // QEasy documents round(2) of 19.9956 as 20.00: text with exactly `digits` decimals (docs/flows.md).
  // https://github.com/qeasy-cloud/datahub/blob/871d0b7/docs/guide/value-formatting.md (数值运算)
  round: {
    arg: "int",
    make: (arg) => {
      const digits = arg === undefined ? 2 : Number(arg);
      return (value) => fixed(roundTo(toNumber(value, "round"), digits), digits);
    },
  },
  // QEasy: "刚刚、一分钟前、一小时前、一天前、一周前、一个月前、一年前 等" (value-formatting.md, 日期格式转换).
  dateDescription: {
    arg: "none",
    make: () => (value, timezone, now) => {
      const w = wallClock(value, timezone);
      if (!w)
        throw new FormatError(
          `cannot read ${JSON.stringify(value)} as a date for format "dateDescription"`,
          { value, format: "dateDescription" },
          "give a date such as 2024-03-01 10:00:00 or epoch seconds",
        );
      const at = parseInZone(`${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.s}`, timezone)!;
      return describeAge((now ?? Date.now()) - at);
    },
  },
  intval: { arg: "none", make: () => (value) => Math.trunc(toNumber(value, "intval")) },
  amount: {
    arg: "none",
    make: () => (value) => {
      const n = roundTo(toNumber(value, "amount"), 2);
      const [int, frac] = Math.abs(n).toFixed(2).split(".");
      return `${n < 0 ? "-" : ""}￥${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${frac}`;
    },
  },
  implode: {
    arg: "string",
    make: (arg) => {
      const sep = unquote(arg) ?? ",";
      return (value) => {
        if (Array.isArray(value)) return value.map((v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : String(v ?? ""))).join(sep);
        return String(value);
      };
    },
  },
  StringToArray: {
    arg: "string",
    make: (arg) => {
      const sep = unquote(arg) ?? ",";
      return (value) => {
        if (Array.isArray(value)) return value;
        return String(value)
          .split(sep)
          .map((s) => s.trim())
          .filter((s) => s !== "");
      };
    },
  },
  longText: {
    arg: "int",
    make: (arg) => {
      const max = arg === undefined ? 15 : Number(arg);
      return (value) => {
        const chars = Array.from(String(value));
        return chars.length > max ? `${chars.slice(0, max).join("")}...` : chars.join("");
      };
    },
  },
};

export const FORMAT_NAMES = Object.keys(FORMATS);

/** `n` with exactly `digits` decimals, from the already rounded value (no binary noise: 20 → "20.00"). */
function fixed(n: number, digits: number): string {
  const text = n.toFixed(digits);
  return text === `-${(0).toFixed(digits)}` ? text.slice(1) : text;
}

const AGE_UNITS: [ms: number, unit: string][] = [
  [365 * 86_400_000, "年"],
  [30 * 86_400_000, "个月"],
  [7 * 86_400_000, "周"],
  [86_400_000, "天"],
  [3_600_000, "小时"],
  [60_000, "分钟"],
];

/** QEasy's relative text: 刚刚 under a minute, then the largest whole unit ("一天前", "3天前"; ahead: "…后"). */
export function describeAge(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of AGE_UNITS) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return `${n === 1 ? "一" : String(n)}${unit}${ms >= 0 ? "前" : "后"}`;
    }
  }
  return "刚刚";
}

/**
 * Parses a format like `date`, `round(2)` or `implode('|')` into a function. Throws a FormatError naming
 * the allowed formats when the name or argument is wrong (flow loading reports it with its JSON path).
 */
export function parseFormat(format: string): Formatter {
  const m = /^\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*$/s.exec(format);
  const spec = m ? FORMATS[m[1]!] : undefined;
  if (!m || !spec) {
    throw new FormatError(
      `unknown format ${JSON.stringify(format)}`,
      { format },
      `use one of: ${FORMAT_NAMES.map((n) => (FORMATS[n]!.arg === "none" ? n : `${n}(…)`)).join(", ")}`,
    );
  }
  const arg = m[2]?.trim();
  if (spec.arg === "none" && arg !== undefined && arg !== "") {
    throw new FormatError(`format "${m[1]}" takes no argument`, { format }, `write just "${m[1]}"`);
  }
  if (spec.arg === "int" && arg !== undefined && !/^\d{1,2}$/.test(arg)) {
    throw new FormatError(`format "${m[1]}" needs a whole number argument, got ${JSON.stringify(arg)}`, { format }, `e.g. "${m[1]}(2)"`);
  }
  return spec.make(arg === "" ? undefined : arg);
}

export interface FormatRuleInput {
  old: string;
  new: string;
  format: string;
}

interface CompiledRule {
  oldPath: string[];
  newPath: string[];
  rule: FormatRuleInput;
  fn: Formatter;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Compiles the rules once; the returned function copies a document and applies them in order.
 * A value that cannot be formatted throws a FormatError naming the rule and the value.
 */
export function compileFormatRules(
  rules: readonly FormatRuleInput[],
  timezone: string = DEFAULT_ZONE,
  options: { now?: () => number } = {},
): (doc: Record<string, unknown>) => Record<string, unknown> {
  const clock = options.now;
  const compiled: CompiledRule[] = rules.map((rule) => {
    const fn = parseFormat(rule.format);
    return { oldPath: rule.old.split("."), newPath: rule.new.split("."), rule, fn: clock ? (v, tz) => fn(v, tz, clock()) : fn };
  });
  if (compiled.length === 0) return (doc) => doc;

  // The common case (top-level `old` and `new`, like io_date → io_date_new) skips the copy-on-write walk.
  if (compiled.every((c) => c.oldPath.length === 1 && c.newPath.length === 1)) {
    return (doc) => {
      const out: Record<string, unknown> = { ...doc };
      for (const c of compiled) {
        const value = out[c.oldPath[0]!];
        if (!isEmpty(value)) out[c.newPath[0]!] = run(c, value, timezone);
      }
      return out;
    };
  }

  return (doc) => {
    const out: Record<string, unknown> = { ...doc };
    // Objects and arrays already copied for this document: copy-on-write, each at most once.
    const owned = new Set<unknown>([out]);
    for (const c of compiled) applyAt(out, c.oldPath, c.newPath, c, owned, timezone);
    return out;
  };
}

/** Whether walking `path` (up to its leaf) meets an array: the rule then runs per element. */
function crossesArray(obj: Record<string, unknown>, path: readonly string[]): boolean {
  let cur: unknown = obj;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isObject(cur)) return false;
    cur = cur[path[i]!];
    if (Array.isArray(cur)) return true;
  }
  return false;
}

function ensureOwned(parent: Record<string, unknown>, key: string, owned: Set<unknown>): unknown {
  const value = parent[key];
  if (owned.has(value)) return value;
  if (Array.isArray(value)) {
    const copy = value.map((el) => (isObject(el) ? { ...el } : el));
    owned.add(copy);
    for (const el of copy) owned.add(el);
    parent[key] = copy;
    return copy;
  }
  if (isObject(value)) {
    const copy = { ...value };
    owned.add(copy);
    parent[key] = copy;
    return copy;
  }
  return value;
}

function applyAt(
  obj: Record<string, unknown>,
  oldRel: readonly string[],
  newRel: readonly string[],
  c: CompiledRule,
  owned: Set<unknown>,
  timezone: string,
): void {
  if (!crossesArray(obj, oldRel)) {
    const value = getPath(obj, oldRel);
    if (!isEmpty(value)) setOwned(obj, newRel, run(c, value, timezone), owned);
    return;
  }
  const head = oldRel[0]!;
  const next = ensureOwned(obj, head, owned);
  // Inside lines `new` is relative to the line: `items.qty` → `items.qty_int` writes line.qty_int.
  const rel = newRel.length > 1 && newRel[0] === head ? newRel.slice(1) : newRel;
  if (Array.isArray(next)) {
    for (const el of next) if (isObject(el)) applyAt(el, oldRel.slice(1), rel, c, owned, timezone);
  } else if (isObject(next)) {
    applyAt(next, oldRel.slice(1), rel, c, owned, timezone);
  }
}

function run(c: CompiledRule, value: unknown, timezone: string): unknown {
  try {
    return c.fn(value, timezone);
  } catch (error) {
    if (error instanceof FormatError) {
      throw new FormatError(
        `formatResponse ${c.rule.old} → ${c.rule.new} (${c.rule.format}): ${error.message}`,
        { ...error.details, old: c.rule.old },
        error.hint,
      );
    }
    throw error;
  }
}

function getPath(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function setOwned(obj: Record<string, unknown>, path: readonly string[], value: unknown, owned: Set<unknown>): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    let next = ensureOwned(cur, key, owned);
    if (!isObject(next)) {
      next = {};
      owned.add(next);
      cur[key] = next;
    }
    cur = next as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}
