/**
 * QEasy `beatFlat`: one row per detail line, carrying the header fields plus the line's fields under a
 * prefix (`items` → `items_sku_id`, `items_qty` …, as seed 003's mapping shows). The detail array itself
 * is left out of the rows. A document without lines yields no rows.
 */
import { ownSet } from "../util/own.ts";

export interface FlattenOptions {
  /** The detail array, e.g. "items". */
  path: string;
  /** Prefix of line fields; default `<path>_`. */
  prefix?: string;
}

export function compileFlatten(options: FlattenOptions): (doc: Record<string, unknown>) => Record<string, unknown>[] {
  const key = options.path;
  const prefix = options.prefix ?? `${key}_`;
  return (doc) => {
    const lines = doc[key];
    if (!Array.isArray(lines) || lines.length === 0) return [];
    const header: Record<string, unknown> = {};
    for (const k in doc) if (k !== key) ownSet(header, k, doc[k]);
    const rows: Record<string, unknown>[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const row: Record<string, unknown> = { ...header };
      const line = lines[i];
      if (line !== null && typeof line === "object" && !Array.isArray(line)) {
        for (const k in line as Record<string, unknown>) ownSet(row, prefix + k, (line as Record<string, unknown>)[k]);
      } else {
        row[prefix + "value"] = line;
      }
      rows[i] = row;
    }
    return rows;
  };
}

export function flatten(doc: Record<string, unknown>, options: FlattenOptions): Record<string, unknown>[] {
  return compileFlatten(options)(doc);
}
