/** Sums in merged documents are exact per field (engine-review finding 13). */
import { describe, expect, it } from "vitest";
import { compileMerge, type MergeConfig, type MergeInput } from "../../shared/transform/merge.ts";

const config: MergeConfig = {
  groupBy: ["day"],
  lines: "items",
  lineGroupBy: ["sku_id"],
  calculate: { qty: "$sum", amount: "$sum", price: "$avg" },
  keyTemplate: "G-{day}",
};

function inputs(n: number, line: (i: number) => Record<string, unknown>): MergeInput[] {
  return Array.from({ length: n }, (_, i) => ({ id: String(i + 1), record: { day: "2024-03-01", items: [{ sku_id: "A", ...line(i) }] } }));
}

describe("exact sums in merged lines", () => {
  it("1000 × 0.01 is 10 and 1000 × 0.07 is 70 (float accumulation gave 9.99999999999983 and 69.9999999999997)", () => {
    const merge = compileMerge(config);
    const [doc] = merge.mergeGroup(
      "G-2024-03-01",
      inputs(1000, () => ({ qty: 0.01, amount: 0.07, price: 0.07 })),
    );
    const line = (doc!.record.items as Array<Record<string, unknown>>)[0]!;
    expect(line.qty).toBe(10);
    expect(line.amount).toBe(70);
    expect(line.price).toBe(0.07);
  });

  it("mixed precisions, negatives, strings and large values sum exactly", () => {
    const merge = compileMerge(config);
    const values = [0.1, 0.2, "0.3", -0.05, 12345678.91, 1e-3, 3];
    const [doc] = merge.mergeGroup(
      "G-2024-03-01",
      inputs(values.length, (i) => ({ qty: values[i], amount: 1, price: 1 })),
    );
    const line = (doc!.record.items as Array<Record<string, unknown>>)[0]!;
    expect(line.qty).toBe(12345682.461);
    expect(line.amount).toBe(values.length);
  });
});
