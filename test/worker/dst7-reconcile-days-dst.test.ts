/**
 * Issue 18 item 2 (one time module, civil-date arithmetic), after adv18b-day-ranges-dst: the Worker's other day
 * ranges still counted a day as 24 h. In a flow zone with DST (Europe/Berlin: 2026-03-29 has 23 hours, 2026-10-25
 * has 25) "re-sweep this day" lost the 25-hour day's last hour (or read an hour of the next day), the scheduled
 * "last N days" reconcile started an hour off its first day, and the dashboard's "reconcile now" form proposed a
 * day too many. Expected: the instants the CLI's parseRange gives for the same days. Pure functions, explicit dates.
 */
import { describe, expect, it } from "vitest";
import { seedFlow } from "../../shared/flows/index.ts";
import { parseRange } from "../../shared/util/range.ts";
import { manualReconcileDays, reconcileRange, resweepRange } from "../../worker/observe/reconcile-service.ts";

const ZONE = "Europe/Berlin";
const berlin = { ...seedFlow("jst-other-in-to-kis"), timezone: ZONE };
const NOW = Date.parse("2026-11-10T12:00:00Z");

describe("Worker day ranges in a zone with DST", () => {
  for (const day of ["2026-10-25", "2026-03-29"]) {
    it(`re-sweep ${day}: that whole day, as the CLI reads it`, () => {
      expect(resweepRange(berlin, day, NOW)).toEqual(parseRange(day, day, ZONE, "cli"));
    });
  }

  it("the last 2 days after the 25-hour day start at the first day's midnight", () => {
    // 2026-10-26 12:00 CET: the two days before are 2026-10-24 (24 h) and 2026-10-25 (25 h).
    expect(reconcileRange(berlin, Date.parse("2026-10-26T11:00:00Z"), { days: 2 })).toEqual(parseRange("2026-10-24", "2026-10-25", ZONE, "cli"));
  });

  it("the last 2 days after the 23-hour day", () => {
    expect(reconcileRange(berlin, Date.parse("2026-03-30T10:00:00Z"), { days: 2 })).toEqual(parseRange("2026-03-28", "2026-03-29", ZONE, "cli"));
  });

  it("reconcile now, just after midnight following the 23-hour day, proposes the scheduled days and today", () => {
    const now = Date.parse("2026-03-29T22:30:00Z"); // 2026-03-30 00:30 CEST
    const days = reconcileRange(berlin, now, {});
    const proposed = manualReconcileDays(berlin, now);
    expect(proposed.to).toBe("2026-03-30");
    // The proposed first day is the scheduled range's first day.
    expect(parseRange(proposed.from, proposed.from, ZONE, "cli")!.from).toBe(days.from);
  });

  it("a plain day still spans 24 hours (control)", () => {
    const r = resweepRange(berlin, "2026-06-10", NOW);
    expect(r.to - r.from).toBe(86_400_000);
  });
});
