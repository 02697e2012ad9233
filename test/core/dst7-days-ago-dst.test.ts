/**
 * Issue 18 item 2 (one time module, civil-date arithmetic): `{{DAYS_AGO_n}}` counted back n × 24 h, so in a flow
 * zone with DST (flow.timezone may be any IANA zone, e.g. Europe/Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25)
 * the day before could be two days before, or a wall time an hour off. Expected: n calendar days back in the zone,
 * the same wall time (as dayjs' subtract(n, "day")). Explicit instants only: nothing here reads the real clock.
 */
import { describe, expect, it } from "vitest";
import { compileValue, type TemplateVars } from "../../shared/template/index.ts";

function at(source: string, currentTime: number, timezone: string) {
  const vars: TemplateVars = { lastSyncTime: currentTime, currentTime, timezone };
  return compileValue(source).evaluate({ record: {}, vars });
}

describe("DAYS_AGO_n in a zone with DST counts calendar days", () => {
  it("just after midnight following the 23-hour day: DAYS_AGO_1 is that day", () => {
    // 2026-03-30 00:30 CEST; 24 h earlier is 2026-03-28 23:30 CET.
    expect(at("{{DAYS_AGO_1|date}}", Date.parse("2026-03-29T22:30:00Z"), "Europe/Berlin")).toBe("2026-03-29");
  });
  it("the same wall time a day before the 25-hour day's noon", () => {
    // 2026-10-25 12:00 CET; 24 h earlier is 2026-10-24 13:00 CEST.
    expect(at("{{DAYS_AGO_1|datetime}}", Date.parse("2026-10-25T11:00:00Z"), "Europe/Berlin")).toBe("2026-10-24 12:00:00");
  });
  it("Asia/Shanghai (no DST) is unchanged (control)", () => {
    const now = Date.UTC(2024, 0, 2, 4, 5, 6, 789);
    expect(at("{{DAYS_AGO_7|timestamp_ms}}", now, "Asia/Shanghai")).toBe(now - 7 * 86_400_000);
  });
});
