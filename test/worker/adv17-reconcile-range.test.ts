import { describe, expect, it } from "vitest";
import { seedFlow } from "../../shared/flows/index.ts";
import { reconcileRange } from "../../worker/observe/reconcile-service.ts";

// Adversary 17: POST /flows/:id/reconcile says "at most 31 days at a time"; a from/to range of 32 days passed.
describe("adversary 17: the reconcile range limit", () => {
  it("refuses 32 days and takes 31", () => {
    const flow = seedFlow("jst-other-in-to-kis");
    const now = Date.UTC(2024, 5, 20, 2, 0, 0);
    expect(() => reconcileRange(flow, now, { from: "2024-01-01", to: "2024-02-01" })).toThrow(/at most 31 days/);
    const ok = reconcileRange(flow, now, { from: "2024-01-01", to: "2024-01-31" });
    expect((ok.to - ok.from) / 86_400_000).toBe(31);
  });
});
