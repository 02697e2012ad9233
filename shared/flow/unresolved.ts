/**
 * "No silent loss": a template path that resolves to nothing for every record a preview, dry run, run or
 * fixture case saw is reported with the value's flow path and the nearest paths that do exist
 * ("did you mean item.qty → qty?"). The check reads each path with the same scope rules as the mapping
 * (scopedPathReader), over the records the mapping was given, so it costs nothing on the mapping's hot path.
 */
import { scopedAggregateReader, scopedPathReader, type EvalScope } from "../template/index.ts";
import type { CompiledMapping } from "../transform/map.ts";
import { editDistance } from "../util/edit-distance.ts";

export interface UnresolvedPath {
  /** Flow path of the value, e.g. `target.fields[2].children[0].value`. */
  flowPath: string;
  /** The path as the template reads it (`items.qty`, `../remark`, `items[].qty` inside an aggregate). */
  path: string;
  /** Records it was tried on (documents, or their lines inside children mappings). */
  records: number;
  /** Nearest existing paths, best first (at most 3). */
  suggestions: string[];
  message: string;
}

/** A children array computed by a template (map.ts UNNAMED_ARRAY): its lines cannot be enumerated here. */
const UNNAMED_ARRAY = "\u0000";
/** Bound the work per value and batch: warnings need evidence from a sample, not from every line. */
const MAX_SCOPES = 2000;
const NO_VARS = { lastSyncTime: 0, currentTime: 0 };

type Rec = Record<string, unknown>;
interface Scope {
  record: Rec;
  ancestors: Rec[];
}

interface Check {
  flowPath: string;
  path: string;
  lineArrays: readonly string[];
  read: (scopes: readonly Scope[]) => boolean;
  resolved: boolean;
  records: number;
  /** A few scopes it failed on, for suggestions. */
  sample: Scope[];
}

const isRec = (v: unknown): v is Rec => v !== null && typeof v === "object" && !Array.isArray(v);

function getPath(obj: unknown, segments: readonly string[]): unknown {
  let cur = obj;
  for (const key of segments) {
    if (!isRec(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** The line scopes a value in `lineArrays` (innermost first) is evaluated in, as map.ts builds them; null when unknowable. */
function scopesOf(record: Rec, lineArrays: readonly string[]): Scope[] | null {
  let scopes: Scope[] = [{ record, ancestors: [] }];
  const outerFirst = [...lineArrays].reverse();
  for (let level = 0; level < outerFirst.length; level++) {
    const name = outerFirst[level]!;
    if (name === UNNAMED_ARRAY) return null;
    let segments = name.split(".");
    for (const outer of outerFirst.slice(0, level).reverse()) {
      const prefix = outer.split(".");
      if (segments.length > prefix.length && prefix.every((p, i) => segments[i] === p)) {
        segments = segments.slice(prefix.length);
        break;
      }
    }
    const next: Scope[] = [];
    for (const scope of scopes) {
      const lines = getPath(scope.record, segments);
      if (!Array.isArray(lines)) continue;
      const ancestors = [scope.record, ...scope.ancestors];
      for (const el of lines) {
        next.push({ record: isRec(el) ? el : { value: el }, ancestors });
        if (next.length >= MAX_SCOPES) break;
      }
    }
    scopes = next;
  }
  return scopes;
}

function toEvalScope(scope: Scope): EvalScope {
  return { record: scope.record, parent: scope.ancestors[0], ancestors: scope.ancestors, vars: NO_VARS };
}

/** A check for one path; aggregates' per-line paths (`items[].qty`) project through the arrays. */
function reader(path: string, lineArrays: readonly string[]): ((scopes: readonly Scope[]) => boolean) | null {
  const parts = path.split("[].");
  const head = scopedPathReader(parts[0]!, lineArrays);
  if (!head) return null;
  const rest = parts.slice(1).map((p) => p.split("."));
  return (scopes) => {
    for (const scope of scopes) {
      let values: unknown[] = [head(toEvalScope(scope))];
      for (const segments of rest) {
        const next: unknown[] = [];
        for (const v of values) {
          if (!Array.isArray(v)) continue;
          for (const el of v) {
            const got = getPath(el, segments);
            if (got !== undefined) next.push(got);
          }
        }
        values = next;
      }
      if (values.some((v) => v !== undefined)) return true;
    }
    return false;
  };
}

/** Paths a template could read in these scopes: the line's own (also with its array's prefix), then the enclosing records'. */
function availablePaths(scopes: readonly Scope[], lineArrays: readonly string[]): Set<string> {
  const out = new Set<string>();
  const addKeys = (obj: Rec, prefix: string, depth: number) => {
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix + k;
      out.add(p);
      if (depth > 0 && isRec(v)) addKeys(v, `${p}.`, depth - 1);
      // Line fields seen from the header: only reachable per line (children mapping) or by an aggregate.
      if (depth > 0 && Array.isArray(v) && isRec(v[0])) for (const inner of Object.keys(v[0])) out.add(`${p}[].${inner}`);
    }
  };
  for (const scope of scopes.slice(0, 20)) {
    addKeys(scope.record, "", 2);
    if (lineArrays[0] && lineArrays[0] !== UNNAMED_ARRAY) for (const k of Object.keys(scope.record)) out.add(`${lineArrays[0]}.${k}`);
    for (const a of scope.ancestors) for (const k of Object.keys(a)) if (!Array.isArray(a[k])) out.add(k);
  }
  return out;
}

const lastSegment = (p: string) =>
  p
    .replace(/^\.\.\//, "")
    .split(/\.|\[\]\./)
    .pop() ?? p;

/** The nearest existing paths to `path`, best first. */
export function nearestPaths(path: string, available: Iterable<string>, max = 3): string[] {
  const target = path.replace(/^\.\.\//, "").replace(/^parent\./, "");
  const last = lastSegment(path);
  const scored: { p: string; score: number }[] = [];
  for (const p of available) {
    if (p === target) continue;
    const lastD = editDistance(lastSegment(p), last);
    const fullD = editDistance(p, target);
    const limit = Math.max(2, Math.floor(target.length / 3));
    if (lastD <= Math.max(1, Math.floor(last.length / 4)) || fullD <= limit) scored.push({ p, score: lastD + fullD / 100 });
  }
  scored.sort((a, b) => a.score - b.score || a.p.length - b.p.length || (a.p < b.p ? -1 : 1));
  return scored.slice(0, max).map((s) => s.p);
}

export interface UnresolvedTracker {
  /** Feeds the records the mapping is given (documents after formatResponse/condition/flatten/merge). */
  observe(records: readonly Rec[]): void;
  /** Paths that resolved for none of the records observed so far (empty before any record). */
  report(): UnresolvedPath[];
}

export function createUnresolvedTracker(mapping: CompiledMapping): UnresolvedTracker {
  const checks: Check[] = [];
  for (const v of mapping.values) {
    if (v.value.kind === "literal") continue;
    const lineArrays = v.lineArrays ?? [];
    const aggregates = v.value.aggregateFields;
    for (const path of v.value.fields) {
      let read = reader(path, lineArrays);
      // A path an aggregate reads whole (SUM(items.qty)) resolves when it yields a value through the arrays.
      const agg = aggregates && aggregates.includes(path) ? scopedAggregateReader(path, lineArrays) : null;
      if (agg) {
        const plain = read;
        read = (scopes) => scopes.some((sc) => agg(toEvalScope(sc)).some((x) => x !== undefined)) || (plain ? plain(scopes) : false);
      }
      if (read) checks.push({ flowPath: v.path, path, lineArrays, read, resolved: false, records: 0, sample: [] });
    }
  }
  return {
    observe(records) {
      for (const check of checks) {
        if (check.resolved) continue;
        for (const record of records) {
          const scopes = scopesOf(record, check.lineArrays);
          if (scopes === null) {
            check.resolved = true; // computed arrays: nothing to say
            break;
          }
          check.records += scopes.length;
          if (check.read(scopes)) {
            check.resolved = true;
            check.sample = [];
            break;
          }
          if (check.sample.length < 20) check.sample.push(...scopes.slice(0, 20 - check.sample.length));
        }
      }
    },
    report() {
      const out: UnresolvedPath[] = [];
      for (const check of checks) {
        if (check.resolved || check.records === 0) continue;
        const suggestions = nearestPaths(check.path, availablePaths(check.sample, check.lineArrays));
        const perLine = suggestions.find((s) => s.includes("[]."));
        const hint =
          (suggestions.length > 0 ? `; did you mean ${suggestions.map((s) => `${check.path} → ${s}`).join(", ")}?` : "") +
          (perLine
            ? ` (${perLine} is a line field: map it inside the children mapping of ${perLine.split("[].")[0]}, or aggregate it with SUM(${perLine.replace("[].", ".")}))`
            : "");
        out.push({
          flowPath: check.flowPath,
          path: check.path,
          records: check.records,
          suggestions,
          message: `${check.flowPath}: "${check.path}" resolves to nothing in all ${check.records} record${check.records === 1 ? "" : "s"}${hint}`,
        });
      }
      return out;
    },
  };
}

/** One-shot form of the tracker. */
export function findUnresolvedPaths(mapping: CompiledMapping, records: readonly Rec[]): UnresolvedPath[] {
  const tracker = createUnresolvedTracker(mapping);
  tracker.observe(records);
  return tracker.report();
}
