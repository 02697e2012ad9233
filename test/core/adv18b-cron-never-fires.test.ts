/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): a schedule whose day of month never
 * occurs in its months passed the cron check (shared/flow/cron.ts cronProblem): "0 2 31 4 *" (April has 30 days) or
 * "0 2 30 2 *" was accepted for a flow's schedule.cron / FLOW_SCHEDULES, and the flow would never run, while the
 * dashboard's next run (cron-next.ts) is null. Expected: refused with the reason. Actual: accepted.
 */
import { describe, expect, it } from "vitest";
import { cronProblem } from "../../shared/flow/cron.ts";

describe("a cron that can never fire", () => {
  it("is refused; one that fires rarely is not", () => {
    for (const cron of ["0 2 31 4 *", "0 2 30 2 *", "0 2 31 2,4,6 *", "0 2 31 APR *"]) expect(cronProblem(cron), cron).toMatch(/never/);
    // Leap day, month ends, either-day-field rule, names, Quartz extras (not expanded: left alone).
    for (const cron of ["0 2 29 2 *", "0 2 31 * *", "0 2 31 4 MON", "0 9 * * MON-FRI", "0 9 * JUL *", "0 0 L * *", "0 0 * * 5#2", "*/30 * * * *"]) {
      expect(cronProblem(cron), cron).toBeNull();
    }
  });
});
