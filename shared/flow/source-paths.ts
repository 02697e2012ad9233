/**
 * "No silent loss" for the source side: a condition field or a formatResponse `old` path that no source record
 * carries is reported like an unresolved template path. A misspelt condition field drops every document (each
 * fails its condition), a misspelt `old` leaves the new field empty in every document, and neither would show
 * up among the mapping's unresolved paths. Paths project through arrays (`items.qty` reads every line's qty).
 */
import { collect } from "../template/paths.ts";
import type { Flow } from "./schema.ts";
import { nearestPaths, type UnresolvedPath } from "./unresolved.ts";

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === "object" && !Array.isArray(v);

function resolves(records: readonly Rec[], path: string): boolean {
  const segments = path.split(".");
  const out: unknown[] = [];
  for (const r of records) {
    collect(r, segments, 0, out);
    if (out.some((v) => v !== undefined)) return true;
  }
  return false;
}

/** Header keys, nested object keys and line keys (`items.qty`) of the first records, for suggestions. */
function availablePaths(records: readonly Rec[]): Set<string> {
  const out = new Set<string>();
  for (const r of records.slice(0, 20)) {
    for (const [k, v] of Object.entries(r)) {
      out.add(k);
      if (isRec(v)) for (const inner of Object.keys(v)) out.add(`${k}.${inner}`);
      if (Array.isArray(v) && isRec(v[0])) for (const inner of Object.keys(v[0])) out.add(`${k}.${inner}`);
    }
  }
  return out;
}

function unresolved(flowPath: string, path: string, records: readonly Rec[], what: string): UnresolvedPath {
  const suggestions = nearestPaths(path, availablePaths(records));
  const hint = suggestions.length > 0 ? `; did you mean ${suggestions.map((s) => `${path} → ${s}`).join(", ")}?` : "";
  return {
    flowPath,
    path,
    records: records.length,
    suggestions,
    message: `${flowPath}: "${path}" resolves to nothing in all ${records.length} record${records.length === 1 ? "" : "s"} (${what})${hint}`,
  };
}

/**
 * Condition fields and formatResponse `old` paths that none of `records` (source documents as fetched, before
 * formatResponse) resolves. A condition may test a field formatResponse creates; `isnull` tests are not reported
 * (a field that is never there is what they test for).
 */
export function unresolvedSourcePaths(flow: Pick<Flow, "source">, records: readonly Rec[]): UnresolvedPath[] {
  if (records.length === 0) return [];
  const out: UnresolvedPath[] = [];
  const created = new Set<string>();
  (flow.source.formatResponse ?? []).forEach((rule, i) => {
    if (resolves(records, rule.old)) created.add(rule.new);
    else out.push(unresolved(`source.formatResponse[${i}].old`, rule.old, records, `so ${rule.new} is always empty`));
  });
  (flow.source.condition ?? []).forEach((group, g) =>
    group.forEach((c, i) => {
      if (c.logic === "isnull" || created.has(c.field) || resolves(records, c.field)) return;
      out.push(unresolved(`source.condition[${g}][${i}].field`, c.field, records, "the condition fails for every document"));
    }),
  );
  return out;
}
