// Adversary (issue 18, one time module): the measured fast paths around dayjs disagree with dayjs / the zone's
// own clock in zones with DST. Jushuitan, T+ and KIS speak Asia/Shanghai, but `flow.timezone` accepts any IANA
// zone (semantic.ts checks only that Intl knows it) and time.ts promises "other zones, DST included, work through
// the same offsets". Each case below is a normal expectation of correct behaviour (it.fails until fixed in s5-fixE). Explicit instants only: nothing here depends on the real clock.
import dayjs from "dayjs";
import timezone from "dayjs/plugin/timezone.js";
import utc from "dayjs/plugin/utc.js";
import { describe, expect, it } from "vitest";
import { formatInZone, offsetMs, parseInZone, startOfDayInZone } from "../../shared/util/time.ts";
import { planWindows } from "../../shared/engine/window.ts";

dayjs.extend(utc);
dayjs.extend(timezone);

const DAY = 86_400_000;

describe("adv18: time module in DST zones", () => {
  // America/Santiago, 2026-09-06: clocks jump from 00:00 (-04) to 01:00 (-03); the local day starts at 01:00 -03
  // (04:00Z). startOfDayInZone does `fromLocalMs(midnight)`; midnight does not exist, and the two-pass settle lands on
  // 03:00Z = 2026-09-05 23:00 -04, an instant of the PREVIOUS day. Day-aligned windows (merge flows) then start an
  // hour early: the last hour of Sept 5 is read in the Sept 6 window, after Sept 5's group was built from the window
  // that closed it — a late original member becomes a supplement (or a HeldGroupError) for rows that were on time.
  // Expected: the start of Sept 6 is an instant whose local date is 2026-09-06. Actual: 2026-09-05 23:00:00.
  // Fault: shared/util/time.ts startOfDayInZone / fromLocalMs (no gap handling; dayjs.tz answers 01:00 -03).
  it("startOfDayInZone of a day whose midnight is skipped (America/Santiago) lies in that day", () => {
    const zone = "America/Santiago";
    const start = startOfDayInZone(Date.parse("2026-09-06T16:00:00Z"), zone);
    expect(formatInZone(start, "YYYY-MM-DD HH:mm:ss", zone).slice(0, 10)).toBe("2026-09-06");
    expect(start).toBe(Date.parse("2026-09-06T04:00:00Z"));
  });

  // The same fault seen from the window planner: a merge flow's range ends at "the start of the current day"; run on
  // Sept 6 it ends at Sept 5 23:00 -04, so Sept 5's last hour is cut off the closed day (its window no longer ends on a
  // day boundary, closesPeriod() says no, and the day waits a run). Expected rangeTo = 2026-09-06T04:00Z; actual 03:00Z.
  it("a day-aligned range run on the skipped-midnight day ends where that local day starts (America/Santiago)", () => {
    const zone = "America/Santiago";
    const { rangeTo } = planWindows({
      watermark: Date.parse("2026-09-03T04:00:00Z"),
      now: Date.parse("2026-09-06T16:00:00Z"),
      lookbackMs: 0,
      endLagMs: 0,
      maxWindowMs: DAY,
      alignToDays: true,
      timezone: zone,
    });
    expect(rangeTo).toBe(Date.parse("2026-09-06T04:00:00Z"));
  });

  // America/New_York, 2026-03-08 02:00–02:59 does not exist. parseInZone("… 02:00:00") returns 06:00Z (= 01:00 EST),
  // an hour BEFORE what "… 01:59:59" parses to (06:59:59Z). A later wall-clock text parses to an earlier instant, so a
  // row stamped 02:xx in the gap (sources write such text) sorts before 01:59 rows, and a window bound or startAt given
  // as 02:30 moves back an hour. dayjs.tz (the library the module is built on) answers 03:00 EDT (07:00Z).
  // Expected: monotonic (02:00 ≥ 01:59:59). Actual: 02:00 → 06:00Z < 06:59:59Z. Fault: time.ts fromLocalMs.
  it("parseInZone is monotonic across a spring-forward gap (America/New_York)", () => {
    const zone = "America/New_York";
    const before = parseInZone("2026-03-08 01:59:59", zone)!;
    const gap = parseInZone("2026-03-08 02:00:00", zone)!;
    expect(gap).toBeGreaterThan(before);
  });

  // America/St_Johns switches at 02:00 NST = 05:30Z: mid-hour. offsetMs caches one offset per (zone, UTC hour), so
  // whichever instant of 05:00–06:00Z is asked first decides the offset of the whole hour. After a look-up at 05:15Z
  // (NST, -3:30), 05:45Z (NDT, -2:30, local 03:15) is formatted as 02:15 — a wall time that does not exist that day.
  // Same for Australia/Lord_Howe (+10:30/+11 at 15:30Z). The answer depends on call order, not on the instant.
  // Expected "2026-03-08 03:15:00". Actual "2026-03-08 02:15:00". Fault: time.ts offsetMs (hour-granular cache).
  it("offsets of a zone that changes on the half hour do not depend on which instant was asked first", () => {
    const zone = "America/St_Johns";
    offsetMs(zone, Date.parse("2026-03-08T05:15:00Z"));
    expect(formatInZone(Date.parse("2026-03-08T05:45:00Z"), "YYYY-MM-DD HH:mm:ss", zone)).toBe("2026-03-08 03:15:00");
  });

  // Fixed with the findings above: the answers agree with dayjs.tz (the library the module is built on) on both sides
  // of each change, in whichever order the instants are asked, and a wall time in a gap moves forward by the gap.
  it("offsets around half-hour and whole-hour changes agree with dayjs, asked in either order", () => {
    const cases: Array<[string, string]> = [
      ["Australia/Lord_Howe", "2026-04-04T15:00:00Z"], // +11 → +10:30 at 15:00Z (02:00 local)
      ["Australia/Lord_Howe", "2026-10-03T15:30:00Z"], // +10:30 → +11 at 15:30Z
      ["America/St_Johns", "2026-11-01T04:30:00Z"], // NDT → NST at 04:30Z
      ["Europe/Berlin", "2026-03-29T01:00:00Z"],
    ];
    for (const [zone, change] of cases) {
      const at = Date.parse(change);
      const probes = [-3_600_000, -1800_000, -1000, 0, 1000, 1800_000, 3_599_000].map((d) => at + d);
      for (const order of [probes, [...probes].reverse()]) {
        for (const ms of order) expect(offsetMs(`${zone}`, ms), `${zone} ${new Date(ms).toISOString()}`).toBe(dayjs(ms).tz(zone).utcOffset() * 60_000);
      }
    }
  });

  it("wall times in a spring-forward gap resolve forward like dayjs; a repeated hour keeps the earlier instant", () => {
    const ny = "America/New_York";
    expect(parseInZone("2026-03-08 02:00:00", ny)).toBe(Date.parse("2026-03-08T07:00:00Z"));
    expect(parseInZone("2026-03-08 02:30:00", ny)).toBe(dayjs.tz("2026-03-08 02:30:00", ny).valueOf());
    expect(parseInZone("2026-03-08 03:00:00", ny)).toBe(Date.parse("2026-03-08T07:00:00Z"));
    expect(parseInZone("2026-11-01 01:30:00", ny)).toBe(Date.parse("2026-11-01T05:30:00Z")); // EDT, the first 01:30
    expect(parseInZone("2026-10-04 02:15:00", "Australia/Lord_Howe")).toBe(dayjs.tz("2026-10-04 02:15:00", "Australia/Lord_Howe").valueOf());
    expect(startOfDayInZone(Date.parse("2026-06-01T12:00:00Z"), "Asia/Shanghai")).toBe(Date.parse("2026-05-31T16:00:00Z"));
  });
});
