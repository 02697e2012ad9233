/**
 * Adversary (issue 18 item 2, one time module): compact date text gives different instants on two paths.
 * formatResponse reads "20240301" / "20240301100000" as wall-clock dates (time.ts splitWallText with `compact`),
 * but a template date filter `{io_date|date}` (template/variables.ts instantOf) does not recognise them as dates,
 * falls through to Number(text) and reads them as epoch numbers: 20240301 → unix SECONDS → 1970-08-23, and
 * 20240301100000 (> 1e11) → epoch MILLISECONDS → the year 2611. Both silently, no error.
 * Expected: the same date as formatResponse (or a "not a date" error). Was: 1970-08-23 and 2611-…. Fixed: both read
 * through the time module's instantOfValue (shared/util/time.ts), whose parseInZone reads compact text.
 */
import { describe, expect, it } from "vitest";
import { compileValue } from "../../shared/template/index.ts";
import { compileFormatRules } from "../../shared/transform/format-response.ts";

const vars = { lastSyncTime: Date.UTC(2024, 1, 29), currentTime: Date.UTC(2024, 2, 20), timezone: "Asia/Shanghai" };

function viaTemplate(value: string): unknown {
  return compileValue("{io_date|date}").evaluate({ record: { io_date: value }, vars });
}

function viaFormatResponse(value: string): unknown {
  return compileFormatRules([{ old: "io_date", new: "day", format: "date" }])({ io_date: value }).day;
}

describe("compact date text read by a template filter and by formatResponse", () => {
  for (const text of ["20240301", "20240301100000"]) {
    it(`${text}: one date on both paths`, () => {
      expect(viaFormatResponse(text)).toBe("2024-03-01");
      let templated: unknown;
      try {
        templated = viaTemplate(text);
      } catch {
        return; // refusing it as "not a date" is a consistent answer too
      }
      expect(templated).toBe("2024-03-01");
    });
  }
  it("the plain form agrees (control)", () => {
    expect(viaTemplate("2024-03-01 10:00:00")).toBe(viaFormatResponse("2024-03-01 10:00:00"));
  });
});
