/**
 * Adversary (issue 18, one time module): a date with an explicit offset suffix went through `Date.parse`, a second
 * parser with its own rules, so the same text was checked differently with and without a suffix. Without one,
 * 2026-02-30 and 24:00:00 are refused (splitWallText); with `+08:00` or `Z` they were accepted and rolled over
 * (2026-02-30 → March 2, 24:00 → the next day), and V8's legacy forms (`Sun Mar 01 2026 10:00:00 GMT+0800`,
 * `01/03/2026 10:00:00 +08:00`, month first) were accepted too. Every date reader (templates, formatResponse,
 * the CLI's --from/--to, the API, startAt, Jushuitan row times) goes through parseInZone. Explicit texts only.
 */
import { describe, expect, it } from "vitest";
import { parseDateOption } from "../../action/cli/dates.ts";
import { compileFormatRules } from "../../shared/transform/format-response.ts";
import { parseInZone } from "../../shared/util/time.ts";

describe("parseInZone with an offset suffix checks the date like without one", () => {
  it("refuses a day or an hour that does not exist, with or without the suffix", () => {
    for (const text of ["2026-02-30 10:00:00", "2026-02-30 10:00:00+08:00", "2026-02-29T10:00:00Z", "2026-03-01 24:00:00", "2026-03-01T24:00:00+08:00"]) {
      expect(parseInZone(text, "Asia/Shanghai"), text).toBeNull();
    }
  });

  it("refuses texts that are not yyyy-MM-dd[ HH:mm[:ss[.f]]] followed by the offset", () => {
    for (const text of ["Sun Mar 01 2026 10:00:00 GMT+0800", "01/03/2026 10:00:00 +08:00", "2026-03-01T10:00:00 +08:00"]) {
      expect(parseInZone(text, "Asia/Shanghai"), text).toBeNull();
    }
  });

  it("still reads the offsets it documents: Z, ±hh:mm and ±hhmm, with fractions", () => {
    expect(parseInZone("2023-01-03T09:43:26Z")).toBe(Date.UTC(2023, 0, 3, 9, 43, 26));
    expect(parseInZone("2023-01-03 09:43:26+08:00")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26));
    expect(parseInZone("2023-01-03 09:43+0800")).toBe(Date.UTC(2023, 0, 3, 1, 43));
    expect(parseInZone("2023-01-03T09:43:26.123-05:30")).toBe(Date.UTC(2023, 0, 3, 15, 13, 26, 123));
    // .NET (T+) writes seven fraction digits: read to the millisecond, as before.
    expect(parseInZone("2023-01-03T09:43:26.1234567+08:00")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26, 123));
  });

  it("the CLI's --from and formatResponse refuse 2026-02-30 with a suffix as they do without one", () => {
    expect(() => parseDateOption("from", "2026-02-30 00:00:00")).toThrow(/is not a date/);
    expect(() => parseDateOption("from", "2026-02-30 00:00:00+08:00")).toThrow(/is not a date/);
    const format = compileFormatRules([{ old: "d", new: "e", format: "date" }]);
    expect(() => format({ d: "2026-02-30T10:00:00+08:00" })).toThrow(/cannot read/);
  });
});
