/**
 * Adversary (issue 18 item 2, one time module with civil-date arithmetic): the Worker's reconcile range
 * (worker/observe/reconcile-service.ts reconcileRange) ended a day as its start + 24 h, while the CLI and the
 * Action (action/cli/dates.ts parseRange) end it at the next day's start in the flow's zone. For a flow in a zone
 * with DST the same request covers different instants: Europe/Berlin's 2026-10-25 has 25 hours, so the Worker's
 * range stopped at 23:00 and the last hour's documents were not reconciled; 2026-03-29 (23 hours) ran an hour into
 * the next day. Expected: the range the CLI computes. Actual: from + 24 h. Pure functions, explicit dates.
 */
import { describe, expect, it } from "vitest";
import { parseRange } from "../../action/cli/dates.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { reconcileRange } from "../../worker/observe/reconcile-service.ts";

const berlin = { ...seedFlow("jst-other-in-to-kis"), timezone: "Europe/Berlin" };
const NOW = Date.parse("2026-11-10T12:00:00Z");

describe("a day range in a zone with DST, Worker reconcile vs CLI", () => {
  for (const day of ["2026-10-25", "2026-03-29"]) {
    it(`${day}: the same instants on both`, () => {
      expect(reconcileRange(berlin, NOW, { from: day, to: day })).toEqual(parseRange(day, day, "Europe/Berlin", "cli"));
    });
  }
  it("a plain day still spans 24 hours (control)", () => {
    const r = reconcileRange(berlin, NOW, { from: "2026-06-10", to: "2026-06-10" });
    expect(r.to - r.from).toBe(86_400_000);
  });
});
