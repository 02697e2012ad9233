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

// Review of the fix: instantOfValue read any other all-digit text as epoch seconds, so formatResponse, which refused
// "202403" (a month) or "12345" before, turned them into 1970 dates silently. Digit text counts as an epoch only
// with 10 digits (seconds, 2001–2286) or 13 (milliseconds); anything else is not a date on either path.
describe("all-digit text that is neither a compact date nor an epoch", () => {
  for (const text of ["202403", "12345", "2024030"]) {
    it(`${text} is refused, not read as a 1970 instant`, () => {
      expect(() => viaFormatResponse(text)).toThrow();
      expect(() => viaTemplate(text)).toThrow();
    });
  }
  it("10- and 13-digit epochs still read (control)", () => {
    expect(viaFormatResponse("1709258400")).toBe("2024-03-01");
    expect(viaFormatResponse("1709258400000")).toBe("2024-03-01");
  });
});
