// Issue 18 item 2: one time module. Before it, templates, formatResponse and the shared parseInZone each parsed
// dates their own way and disagreed (parseInZone read years 0–99 through Date.UTC as 1900–1999), and
// startOfDayInZone took the offset of the instant, not of the day's start (wrong on a DST day).
import dayjs from "dayjs";
import { describe, expect, it } from "vitest";
import { parseInstant } from "../../shared/template/dates.ts";
import { parseFormat } from "../../shared/transform/format-response.ts";
import { periodEndOf } from "../../shared/transform/merge.ts";
import { addDaysToDay, formatInZone, parseInZone, splitWallText, startOfDayInZone } from "../../shared/util/time.ts";

const SHANGHAI = "Asia/Shanghai";
const NEW_YORK = "America/New_York";

describe("one parser for date text", () => {
  const texts = [
    "2024-03-01",
    "2024-03-01 10:00",
    "2024-03-01 10:00:00",
    "2024-03-01T10:00:00.5",
    "2024-03-01 10:00:00.123456",
    " 2024-03-01 10:00:00 ",
    "2024-02-29 23:59:59",
    "0099-05-01 10:00:00",
    "2024-02-30",
    "2023-02-29 00:00:00",
    "2024-03-01 24:00:00",
    "2024-03-01 10:60:00",
    "2024/03/01",
    "yesterday",
    "",
  ];

  it("parseInZone, the templates' date parsing and formatResponse read every text the same way", () => {
    const datetime = parseFormat("datetime");
    for (const zone of [SHANGHAI, NEW_YORK]) {
      for (const text of texts) {
        const shared = parseInZone(text, zone);
        expect(parseInstant(text, zone), `template ${JSON.stringify(text)} ${zone}`).toBe(shared);
        let formatted: unknown = null;
        try {
          formatted = datetime(text, zone);
        } catch {}
        expect(formatted === null ? null : parseInZone(String(formatted), zone), `formatResponse ${JSON.stringify(text)} ${zone}`).toBe(
          shared === null ? null : Math.floor(shared / 1000) * 1000,
        );
      }
    }
  });

  it("splits wall-clock text by character codes, compact forms only when asked", () => {
    expect(splitWallText("2024-03-01 10:20:30.25")).toMatchObject({
      year: 2024,
      month: 3,
      day: 1,
      hour: 10,
      minute: 20,
      second: 30,
      millisecond: 250,
      dateOnly: false,
    });
    expect(splitWallText("20240301")).toBeNull();
    expect(splitWallText("20240301", true)).toMatchObject({ year: 2024, month: 3, day: 1, dateOnly: true });
    expect(splitWallText("202403011020", true)).toMatchObject({ hour: 10, minute: 20, second: 0 });
    expect(splitWallText("20240230", true)).toBeNull();
  });
});

describe("civil-date arithmetic and zones", () => {
  it("the fast formats agree with dayjs in a fixed and a DST zone", () => {
    for (let ms = Date.UTC(2023, 0, 1); ms < Date.UTC(2025, 0, 1); ms += 97 * 3_600_000 + 13 * 60_000 + 17_000) {
      for (const zone of [SHANGHAI, NEW_YORK]) {
        expect(formatInZone(ms, "YYYY-MM-DD HH:mm:ss", zone)).toBe(dayjs(ms).tz(zone).format("YYYY-MM-DD HH:mm:ss"));
        expect(formatInZone(ms, "YYYY-MM-DD", zone)).toBe(dayjs(ms).tz(zone).format("YYYY-MM-DD"));
      }
    }
  });

  it("the start of a day on which DST begins is that day's midnight", () => {
    // 2024-03-10: New York moves from EST (-5) to EDT (-4) at 02:00; midnight was still EST.
    expect(startOfDayInZone(Date.UTC(2024, 2, 10, 16), NEW_YORK)).toBe(Date.UTC(2024, 2, 10, 5));
    expect(startOfDayInZone(Date.UTC(2024, 2, 10, 15, 59), SHANGHAI)).toBe(Date.UTC(2024, 2, 9, 16));
  });

  it("periods end where the calendar says, across month, year and leap-day edges", () => {
    expect(periodEndOf("2024-12-15 08:00:00", "month", SHANGHAI)).toBe(parseInZone("2025-01-01", SHANGHAI));
    expect(periodEndOf("2024-02-29 23:10:00", "hour", SHANGHAI)).toBe(parseInZone("2024-03-01 00:00:00", SHANGHAI));
    expect(periodEndOf("2024-12-31", "day", SHANGHAI)).toBe(parseInZone("2025-01-01", SHANGHAI));
    expect(addDaysToDay("2024-02-28", 1)).toBe("2024-02-29");
    expect(addDaysToDay("2024-12-31", 1)).toBe("2025-01-01");
    expect(addDaysToDay("2024-03-01", -1)).toBe("2024-02-29");
  });
});
