import { md5Hex } from "../util/md5.ts";

/** JSON with object keys sorted, so equal content always hashes equally whatever the key order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : stableStringify(v))).join(",")}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

/** Content hash of a target payload: tells an unchanged re-read (skip) from a changed document. */
export function contentHash(payload: unknown): string {
  return md5Hex(stableStringify(payload));
}
