/**
 * Edges of the merge policy that the Stryker run on shared/transform/merge-policy.ts found unconstrained (issue 18):
 * the registry keeps members in id order whatever order they were written in, and a group whose merge throws
 * files every one of its members with the group's key (nothing silently dropped). Each test fails on the
 * hand-applied mutant named in it.
 */
import { describe, expect, it } from "vitest";
import { BridgeError } from "../../shared/errors.ts";
import { compileMerge, type MergeConfig, type MergeInput } from "../../shared/transform/merge.ts";
import { planMerge, recordWritten } from "../../shared/transform/merge-policy.ts";

const vars = { lastSyncTime: 0, currentTime: 0 };
const config: MergeConfig = {
  groupBy: ["day", "wh"],
  lines: "items",
  lineGroupBy: ["sku"],
  calculate: { qty: "$sum" },
  keyTemplate: "K-{day}-{wh}",
};
const input = (id: number, day: string, items: unknown = [{ sku: "A", qty: 1 }]): MergeInput => ({ id: String(id), record: { day, wh: 1, items } });

describe("merge policy edges", () => {
  it("recordWritten keeps a group's members in id order (mutant: no sort)", () => {
    const after = recordWritten({ K: { members: ["20"], supplements: 0 } }, [{ groupKey: "K", members: ["100", "3"], supplement: 1 }]);
    expect(after.K).toEqual({ members: ["3", "20", "100"], supplements: 1 });
  });

  it("a group whose merge fails files each member with an error naming the group (mutants: empty catch, {} entries, no groupKey)", () => {
    const merge = compileMerge(config);
    const throwing = {
      ...merge,
      mergeGroup: () => {
        throw new TypeError("boom");
      },
    };
    const plan = planMerge([input(2, "d1"), input(1, "d1"), input(5, "d2")], throwing, { vars });
    expect(plan.documents).toEqual([]);
    expect(plan.errors.map((e) => e.id)).toEqual(["1", "2", "5"]);
    for (const { error } of plan.errors) {
      expect(error).toBeInstanceOf(BridgeError);
      expect(error.message).toContain("boom");
    }
    expect(plan.errors[0]!.error.details).toMatchObject({ groupKey: "K-d1-1" });
    expect(plan.errors[2]!.error.details).toMatchObject({ groupKey: "K-d2-1" });
  });
});

describe("merge policy: held and skipped (Stryker survivors on merge-policy.ts, issue 18)", () => {
  const byDay = compileMerge({ ...config, period: { field: "day", unit: "day" } }, { timezone: "Asia/Shanghai" });

  it("without closedBefore every period counts as closed: a dated group is written, not held (mutant: `end !== undefined ||`)", () => {
    const plan = planMerge([input(1, "2024-03-01"), input(2, "2024-03-01")], byDay, { vars });
    expect(plan.held).toEqual([]);
    expect(plan.documents.map((d) => [d.key, d.members])).toEqual([["K-2024-03-01-1", ["1", "2"]]]);
  });

  it("a late member of a written group goes into the supplement and is not reported as skipped (mutant: `if (true)` skip)", () => {
    const plan = planMerge([input(1, "2024-03-01"), input(2, "2024-03-01"), input(3, "2024-03-01")], byDay, {
      vars,
      written: { "K-2024-03-01-1": { members: ["1", "2"], supplements: 0 } },
    });
    expect(plan.skipped.map((s) => s.id)).toEqual(["1", "2"]);
    expect(plan.documents.map((d) => [d.key, d.members])).toEqual([["K-2024-03-01-1-S1", ["3"]]]);
  });
});
