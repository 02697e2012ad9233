import { describe, expect, it } from "vitest";
import { formatInZone, parseInZone, startOfDayInZone } from "../../shared/util/time.ts";

describe("time in Asia/Shanghai", () => {
  it("parses Jushuitan datetimes with and without milliseconds", () => {
    expect(parseInZone("2023-01-03 09:43:26")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26));
    expect(parseInZone("2023-01-03 09:43:26.487")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26, 487));
    expect(parseInZone("2023-01-03")).toBe(Date.UTC(2023, 0, 2, 16, 0, 0));
    expect(parseInZone("2023-01-03T09:43:26")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26));
  });

  it("rejects text that is not a date", () => {
    for (const bad of ["", "yesterday", "2023-13-01", "2024-02-30 00:00:00", "2023-01-03 25:00:00", "2023/01/03"]) {
      expect(parseInZone(bad), bad).toBeNull();
    }
  });

  it("honours an explicit offset", () => {
    expect(parseInZone("2023-01-03T09:43:26Z")).toBe(Date.UTC(2023, 0, 3, 9, 43, 26));
    expect(parseInZone("2023-01-03 09:43:26+08:00")).toBe(Date.UTC(2023, 0, 3, 1, 43, 26));
  });

  it("formats instants as Shanghai wall-clock time and round-trips", () => {
    const ms = Date.UTC(2024, 11, 31, 17, 5, 9);
    expect(formatInZone(ms)).toBe("2025-01-01 01:05:09");
    expect(formatInZone(ms, "YYYY-MM-DD")).toBe("2025-01-01");
    expect(parseInZone(formatInZone(ms))).toBe(ms);
  });

  it("supports other zones, including DST", () => {
    const ms = Date.UTC(2024, 6, 1, 12, 0, 0);
    expect(formatInZone(ms, "YYYY-MM-DD HH:mm", "America/New_York")).toBe("2024-07-01 08:00");
    expect(parseInZone("2024-07-01 08:00:00", "America/New_York")).toBe(ms);
    expect(formatInZone(ms, "HH:mm", "UTC")).toBe("12:00");
  });

  it("finds the start of the Shanghai day", () => {
    expect(startOfDayInZone(Date.UTC(2024, 0, 1, 15, 59))).toBe(Date.UTC(2023, 11, 31, 16, 0));
    expect(startOfDayInZone(Date.UTC(2024, 0, 1, 16, 0))).toBe(Date.UTC(2024, 0, 1, 16, 0));
  });
});
