import { md5Hex } from "../util/md5.ts";

/**
 * JSON with object keys sorted, so equal content always hashes equally whatever the key order. Built by one string
 * concatenation per value (no per-object arrays of entries): it runs once per mapped document (contentHash), and the
 * text must stay byte for byte what it always was (ledger hashes compare against it).
 */
export function stableStringify(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      // JSON.stringify's own rule: finite numbers as String() writes them (-0 as 0), others null.
      return Number.isFinite(value) ? (value === 0 ? "0" : String(value)) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      return JSON.stringify(value) ?? "null";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // A hole stays empty, as Array#map + join left it.
      if (!(i in value)) continue;
      const v: unknown = value[i];
      out += v === undefined ? "null" : stableStringify(v);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${quoted(k)}:${stableStringify(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** JSON-quoted keys: payloads repeat the same few field names, so each is quoted once. */
const quotedKeys = new Map<string, string>();
function quoted(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (quotedKeys.size < 10_000) quotedKeys.set(key, q);
  }
  return q;
}

/** Content hash of a target payload: tells an unchanged re-read (skip) from a changed document. */
export function contentHash(payload: unknown): string {
  return md5Hex(stableStringify(payload));
}
