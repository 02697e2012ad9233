/**
 * stableStringify (engine/hash.ts) was rewritten for speed (issue 18 item 4: the content hash was ~40 % of the KIS
 * mapping's CPU). Ledger entries hold hashes of its text, so the text must be byte for byte the old one: checked
 * against the previous implementation on payload-like and odd values.
 */
import { describe, expect, it } from "vitest";
import { contentHash, stableStringify } from "../../shared/engine/hash.ts";
import { md5Hex } from "../../shared/util/md5.ts";

/** The implementation before the rewrite, verbatim. */
function previous(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : previous(v))).join(",")}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${previous((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

describe("stableStringify", () => {
  it("writes exactly what the previous implementation wrote", () => {
    // biome-ignore lint/suspicious/noSparseArray: a hole is one of the odd values checked
    const sparse = [1, , 3];
    const values: unknown[] = [
      { Head: { FBillNo: "2100001", Fdate: "2024-03-01T10:20:07", FTranType: 10, Fnote: "退货入库" }, Entry: [{ FItemID: "1", FQty: 2.5, FAuxPrice: -0 }] },
      { b: 1, a: { d: [1, "2", null, undefined, { z: undefined, y: true }], c: undefined }, "\u2028": "line", 'quote"': "\\" },
      [undefined, () => 1, Symbol("s"), Number.NaN, Infinity, 1e21, "\ud800"],
      sparse,
      { date: new Date(0), nested: [[[]], {}], 10: "ten", 2: "two", B: 0, a: 0 },
      "plain",
      42,
      null,
      undefined,
      true,
    ];
    for (const v of values) expect(stableStringify(v)).toBe(previous(v));
    for (const v of values) expect(contentHash(v)).toBe(md5Hex(previous(v)));
  });
});
