/**
 * Placeholders: `{path}`, `{{NAME}}`, `{{NAME|filter}}`.
 *
 * Run variables (LAST_SYNC_TIME, CURRENT_TIME, DAYS_AGO_n, PAGINATION_START_PAGE, PAGINATION_PAGE_SIZE)
 * are recognised in both brace forms (seed 003 writes `{PAGINATION_START_PAGE}`). Time variables without a
 * filter are unix seconds, as in QEasy (`FROM_UNIXTIME({{LAST_SYNC_TIME}} - 600)`). In double braces a flow
 * variable declared in CompileOptions.variables wins over a record field; any other SCREAMING_SNAKE name is
 * an unknown variable (a typo caught at compile time). Everything else is a record path; `{FOO_BAR}` in
 * single braces always reads the field, which is the escape hatch for such field names.
 */
import { addDaysInZone, instantOfValue } from "../util/time.ts";
import { formatEpoch } from "./dates.ts";
import { parsePath, type FieldPath } from "./paths.ts";
import { SqlDate, ValueError, show } from "./values.ts";
import { editDistance } from "../util/edit-distance.ts";

export type Filter = "datetime" | "date" | "timestamp" | "timestamp_ms";
export const FILTERS: readonly Filter[] = ["datetime", "date", "timestamp", "timestamp_ms"];

export type Placeholder =
  | { kind: "time"; name: string; base: "last" | "current"; daysAgo: number; filter: Filter | undefined }
  | { kind: "page"; name: string; which: "index" | "size" | "row" }
  | { kind: "extra"; name: string; filter: Filter | undefined }
  | { kind: "field"; path: FieldPath; filter: Filter | undefined };

export const BUILTIN_VARIABLES = ["LAST_SYNC_TIME", "CURRENT_TIME", "DAYS_AGO_n", "PAGINATION_START_PAGE", "PAGINATION_PAGE_SIZE", "PAGINATION_START_ROW"];

const MAX_PLACEHOLDER = 512;
const SCREAMING = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const DAYS_AGO = /^DAYS_AGO_(\d{1,6})$/;

/** A syntax problem in a placeholder; `offset` is relative to the placeholder start. */
export class PlaceholderError extends Error {
  readonly offset: number;
  readonly expected: string;
  readonly hint: string;
  constructor(message: string, offset: number, expected: string, hint: string) {
    super(message);
    this.offset = offset;
    this.expected = expected;
    this.hint = hint;
  }
}

export interface PlaceholderMatch {
  placeholder: Placeholder;
  /** Index just past the closing brace(s). */
  end: number;
  /** Normalised text for traces. */
  text: string;
}

function builtin(name: string): Placeholder | "filtered-page" | null {
  if (name === "LAST_SYNC_TIME") return { kind: "time", name, base: "last", daysAgo: 0, filter: undefined };
  if (name === "CURRENT_TIME") return { kind: "time", name, base: "current", daysAgo: 0, filter: undefined };
  const m = DAYS_AGO.exec(name);
  if (m) return { kind: "time", name, base: "current", daysAgo: Number(m[1]), filter: undefined };
  if (name === "PAGINATION_START_PAGE") return { kind: "page", name, which: "index" };
  if (name === "PAGINATION_PAGE_SIZE") return { kind: "page", name, which: "size" };
  // Offset paging (Kingdee StartRow style): (page − 1) × size, 0 on the first page.
  if (name === "PAGINATION_START_ROW") return { kind: "page", name, which: "row" };
  return null;
}

/** "Did you mean X?" among `candidates`, or "". */
export function suggest(word: string, candidates: readonly string[]): string {
  const upper = word.toUpperCase();
  let best = "";
  let bestScore = Infinity;
  for (const c of candidates) {
    const score = editDistance(upper, c.toUpperCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best && bestScore <= Math.max(2, Math.floor(upper.length / 3)) ? ` Did you mean ${best}?` : "";
}

/**
 * Matches a placeholder at `start` (which holds `{`). Returns null when a single-brace group is not a
 * placeholder (it stays literal text, e.g. JSON); throws PlaceholderError for a malformed `{{…}}` or an
 * unknown variable or filter.
 */
export function matchPlaceholder(text: string, start: number, limit: number, variables: readonly string[] | undefined): PlaceholderMatch | null {
  const double = text.startsWith("{{", start);
  const open = double ? 2 : 1;
  const close = double ? "}}" : "}";
  // Placeholders are short: searching a bounded window keeps `{{{{…` inputs linear.
  const window = text.slice(start, Math.min(limit, start + MAX_PLACEHOLDER));
  const closeIn = window.indexOf(close, open);
  const openIn = window.indexOf("{", open);
  const closeAt = closeIn < 0 ? -1 : start + closeIn;
  if (closeIn < 0 || (openIn >= 0 && openIn < closeIn)) {
    if (double) throw new PlaceholderError("unterminated {{…}} placeholder", 0, "}}", "Close the placeholder with }} (e.g. {{LAST_SYNC_TIME|datetime}}).");
    return null;
  }
  const inner = text.slice(start + open, closeAt);
  const bar = inner.indexOf("|");
  const rawName = (bar < 0 ? inner : inner.slice(0, bar)).trim();
  const rawFilter = bar < 0 ? undefined : inner.slice(bar + 1).trim();
  const nameOffset = open + (inner.length - inner.trimStart().length);
  const filterOffset = bar < 0 ? 0 : open + bar + 1;

  const fail = (message: string, offset: number, expected: string, hint: string): null => {
    if (!double) return null;
    throw new PlaceholderError(message, offset, expected, hint);
  };

  let filter: Filter | undefined;
  if (rawFilter !== undefined) {
    // QEasy writes filters in any case (`|dateTime`, `|DATETIME`): match them case-insensitively.
    const normal = FILTERS.find((f) => f === rawFilter.toLowerCase());
    if (!normal) {
      if (!double && !parsePath(rawName) && !builtin(rawName)) return null;
      throw new PlaceholderError(
        `unknown filter "${rawFilter}"`,
        filterOffset,
        FILTERS.join(" | "),
        `Filters are ${FILTERS.join(", ")}.${suggest(rawFilter, FILTERS)}`,
      );
    }
    filter = normal;
  }

  const end = closeAt + close.length;
  const shown = `${double ? "{{" : "{"}${rawName}${filter ? `|${filter}` : ""}${close}`;
  const known = builtin(rawName);
  if (known && typeof known === "object") {
    if (known.kind === "page") {
      if (filter)
        throw new PlaceholderError(`filter "${filter}" does not apply to ${rawName}`, filterOffset, "}}", `${rawName} is a number; remove the filter.`);
      return { placeholder: known, end, text: shown };
    }
    if (known.kind === "time") {
      if (known.daysAgo > 36_500)
        throw new PlaceholderError("DAYS_AGO_n is limited to 36500 days", nameOffset, "a smaller n", "Use DAYS_AGO_1 … DAYS_AGO_36500.");
      return { placeholder: { ...known, filter }, end, text: shown };
    }
  }
  if (double && variables?.includes(rawName)) return { placeholder: { kind: "extra", name: rawName, filter }, end, text: shown };
  if (double && SCREAMING.test(rawName)) {
    const candidates = [...BUILTIN_VARIABLES.filter((v) => v !== "DAYS_AGO_n"), ...(variables ?? [])];
    throw new PlaceholderError(
      `unknown variable ${rawName}`,
      nameOffset,
      `one of ${BUILTIN_VARIABLES.join(", ")}${variables?.length ? `, ${variables.join(", ")}` : ""}`,
      `Variables are ${BUILTIN_VARIABLES.join(", ")} and the flow's declared variables.${suggest(rawName, candidates)} To read a record field with this name write {${rawName}}.`,
    );
  }
  const path = parsePath(rawName);
  if (!path)
    return fail(
      `"${rawName}" is not a field path or variable`,
      nameOffset,
      "a field path like io_id, items[0].sku_id or ../remark, or a variable",
      "Field paths use letters, digits and _, joined by . and [n].",
    );
  if (path.parent && path.segments.length > 0 && rawName.startsWith("../../"))
    return fail("only one parent level (../) is available", nameOffset, "../field", "Inside a children mapping ../x reads the parent record.");
  return { placeholder: { kind: "field", path, filter }, end, text: shown };
}

/** Epoch ms of a time variable. */
function timeBase(p: Extract<Placeholder, { kind: "time" }>, vars: { lastSyncTime: number; currentTime: number }, zone: string): number {
  const base = p.base === "last" ? vars.lastSyncTime : vars.currentTime;
  // Calendar days in the flow's zone (dayjs' subtract(n, "day")), not n × 24 h: a DST day has 23 or 25 hours.
  return p.daysAgo === 0 ? base : addDaysInZone(base, -p.daysAgo, zone);
}

/** Applies a filter to an instant. */
export function filterInstant(ms: number, filter: Filter | undefined, zone: string): string | number {
  switch (filter) {
    case "datetime":
      return formatEpoch(ms, zone, false);
    case "date":
      return formatEpoch(ms, zone, true);
    case "timestamp_ms":
      return ms;
    default:
      return Math.floor(ms / 1000);
  }
}

/** A field (or flow variable) value read as an instant for a filter: date text, SqlDate, or epoch (s or ms). */
function instantOf(value: unknown, zone: string): number {
  if (value instanceof SqlDate) return value.ms;
  // The time module's one reading, shared with formatResponse (compact 20240301 is a date on both paths).
  const ms = instantOfValue(value, zone);
  if (ms !== null) return ms;
  throw new ValueError(
    `${show(value)} is not a date`,
    "Date filters read 'YYYY-MM-DD[ HH:mm:ss]' or 'YYYYMMDD[HHmmss]' text or epoch numbers (seconds or milliseconds).",
  );
}

export interface VarSource {
  lastSyncTime: number;
  currentTime: number;
  pageIndex?: number;
  pageSize?: number;
  extra?: Record<string, unknown>;
}

/** Value of a non-field placeholder, or a filtered field value. */
export function placeholderValue(p: Placeholder, raw: unknown, vars: VarSource, zone: string): unknown {
  switch (p.kind) {
    case "time":
      return filterInstant(timeBase(p, vars, zone), p.filter, zone);
    case "page": {
      const v =
        p.which === "index"
          ? vars.pageIndex
          : p.which === "size"
            ? vars.pageSize
            : vars.pageIndex === undefined || vars.pageSize === undefined
              ? undefined
              : (vars.pageIndex - 1) * vars.pageSize;
      if (v === undefined)
        throw new ValueError(`${p.name} is not set for this evaluation`, "Only request templates of a paged source have a page; use it there.");
      return v;
    }
    default: {
      if (p.filter === undefined || raw === null || raw === undefined) return raw;
      return filterInstant(instantOf(raw, zone), p.filter, zone);
    }
  }
}

/** Own-property read of a flow variable. */
export function extraValue(vars: VarSource, name: string): unknown {
  const extra = vars.extra;
  return extra && Object.hasOwn(extra, name) ? extra[name] : undefined;
}
