import { describe, expect, it } from "vitest";
import { compileExpression, TemplateEvalError, type TemplateVars } from "../../shared/template/index.ts";

const NOW = Date.UTC(2024, 1, 29, 17, 30, 45, 250); // 2024-03-01 01:30:45.250 in Shanghai (a leap-year edge)
const shanghai: TemplateVars = { lastSyncTime: NOW - 86_400_000, currentTime: NOW };
const utc: TemplateVars = { ...shanghai, timezone: "UTC" };

function ev(expr: string, vars: TemplateVars = shanghai, record: Record<string, unknown> = {}): unknown {
  return compileExpression(expr).evaluate({ record, vars });
}

function table(rows: [string, unknown][], vars: TemplateVars = shanghai) {
  for (const [expr, expected] of rows) expect(ev(expr, vars), expr).toEqual(expected);
}

describe("DATE_FORMAT specifiers (MySQL manual examples, zone UTC)", () => {
  it("formats like MySQL", () => {
    table(
      [
        ["DATE_FORMAT('2009-10-04 22:23:00', '%W %M %Y')", "Sunday October 2009"],
        ["DATE_FORMAT('2007-10-04 22:23:00', '%H:%i:%s')", "22:23:00"],
        ["DATE_FORMAT('1900-10-04 22:23:00', '%D %y %a %d %m %b %j')", "4th 00 Thu 04 10 Oct 277"],
        ["DATE_FORMAT('1997-10-04 22:23:00', '%H %k %I %r %T %S %w')", "22 22 10 10:23:00 PM 22:23:00 00 6"],
        ["DATE_FORMAT('2024-03-05 07:08:09.123', '%Y-%m-%d %H:%i:%s.%f')", "2024-03-05 07:08:09.123000"],
        ["DATE_FORMAT('2024-03-05 00:08:09', '%c/%e %l %h %p %y%%')", "3/5 12 12 AM 24%"],
        ["DATE_FORMAT('2024-03-21', '%D %D')", "21st 21st"],
        ["DATE_FORMAT('2024-03-12', '%D')", "12th"],
        ["DATE_FORMAT('2024-03-23', '%D')", "23rd"],
        ["DATE_FORMAT(NULL, '%Y')", null],
        ["DATE_FORMAT('2024-03-05', '%q%')", "q%"],
      ],
      utc,
    );
  });

  it("week numbers %U %u %V %v %X %x", () => {
    table(
      [
        ["DATE_FORMAT('2024-01-01', '%X %V | %x %v | %U %u')", "2023 53 | 2024 01 | 00 01"],
        ["DATE_FORMAT('2023-01-01', '%X %V | %x %v | %U %u')", "2023 01 | 2022 52 | 01 00"],
        ["DATE_FORMAT('2020-12-31', '%X %V | %x %v | %U %u')", "2020 52 | 2020 53 | 52 53"],
        ["DATE_FORMAT('2021-01-03', '%x %v')", "2020 53"],
        ["DATE_FORMAT('2019-12-30', '%x %v')", "2020 01"],
      ],
      utc,
    );
  });

  it("a format computed at run time works too", () => {
    expect(ev("DATE_FORMAT('2024-03-05', CONCAT('%Y', '/', '%m'))", utc)).toBe("2024/03");
  });

  it("rejects what is not a date", () => {
    expect(() => ev("DATE_FORMAT('2006-06-00', '%d')")).toThrow(TemplateEvalError);
    expect(() => ev("DATE_FORMAT('yesterday', '%Y')")).toThrow(/'yesterday' is not a date/);
    expect(() => ev("DATE_FORMAT(1700000000, '%Y')")).toThrow(expect.objectContaining({ hint: expect.stringMatching(/FROM_UNIXTIME/) }));
  });
});

describe("NOW / CURDATE / UNIX_TIMESTAMP / FROM_UNIXTIME in the scope's zone", () => {
  it("NOW() is the run's CURRENT_TIME at second precision", () => {
    expect(ev("NOW()")).toBe("2024-03-01 01:30:45");
    expect(ev("NOW()", utc)).toBe("2024-02-29 17:30:45");
    expect(ev("SYSDATE()")).toBe(ev("NOW()"));
    expect(ev("CURRENT_TIMESTAMP()")).toBe(ev("NOW()"));
    expect(ev("LOCALTIME()")).toBe(ev("NOW()"));
    expect(ev("LOCALTIMESTAMP()")).toBe(ev("NOW()"));
    expect(ev("CURDATE()")).toBe("2024-03-01");
    expect(ev("CURDATE()", utc)).toBe("2024-02-29");
    expect(ev("CURRENT_DATE()")).toBe("2024-03-01");
  });

  it("UNIX_TIMESTAMP", () => {
    expect(ev("UNIX_TIMESTAMP()")).toBe(Math.floor(NOW / 1000));
    expect(ev("UNIX_TIMESTAMP('2015-11-13 10:20:19')")).toBe(Date.UTC(2015, 10, 13, 2, 20, 19) / 1000);
    expect(ev("UNIX_TIMESTAMP('2015-11-13 10:20:19')", utc)).toBe(Date.UTC(2015, 10, 13, 10, 20, 19) / 1000);
    expect(ev("UNIX_TIMESTAMP('2015-11-13')")).toBe(Date.UTC(2015, 10, 12, 16) / 1000);
    expect(ev("UNIX_TIMESTAMP(NULL)")).toBeNull();
  });

  it("FROM_UNIXTIME", () => {
    const ts = Date.UTC(2015, 10, 13, 2, 8, 1) / 1000;
    expect(ev(`FROM_UNIXTIME(${ts})`)).toBe("2015-11-13 10:08:01");
    expect(ev(`FROM_UNIXTIME(${ts})`, utc)).toBe("2015-11-13 02:08:01");
    expect(ev(`FROM_UNIXTIME(${ts}, '%Y %D %M %h:%i:%s %x')`)).toBe("2015 13th November 10:08:01 2015");
    expect(ev("FROM_UNIXTIME(ts, '%Y-%m-%d')", shanghai, { ts: String(ts) })).toBe("2015-11-13");
    expect(ev("FROM_UNIXTIME(-1)")).toBeNull();
    expect(ev("FROM_UNIXTIME(NULL)")).toBeNull();
    expect(ev("UNIX_TIMESTAMP(FROM_UNIXTIME(1700000000))")).toBe(1_700_000_000);
  });
});

describe("date arithmetic", () => {
  it("DATE_ADD / DATE_SUB with every unit", () => {
    table([
      ["DATE_ADD('2018-05-01', INTERVAL 1 DAY)", "2018-05-02"],
      ["DATE_SUB('2018-05-01', INTERVAL 1 YEAR)", "2017-05-01"],
      ["DATE_ADD('2020-12-31 23:59:59', INTERVAL 1 SECOND)", "2021-01-01 00:00:00"],
      ["DATE_ADD('2018-12-31 23:59:59', INTERVAL 1 DAY)", "2019-01-01 23:59:59"],
      ["DATE_ADD('2100-12-31 23:59:59', INTERVAL 1 MINUTE)", "2101-01-01 00:00:59"],
      ["DATE_SUB('2025-01-01 00:00:00', INTERVAL 1 HOUR)", "2024-12-31 23:00:00"],
      ["DATE_ADD('2018-05-01', INTERVAL 1 HOUR)", "2018-05-01 01:00:00"],
      ["DATE_ADD('2024-01-31', INTERVAL 1 MONTH)", "2024-02-29"],
      ["DATE_ADD('2023-01-31', INTERVAL 1 MONTH)", "2023-02-28"],
      ["DATE_SUB('2024-03-31', INTERVAL 1 MONTH)", "2024-02-29"],
      ["DATE_ADD('2024-02-29', INTERVAL 1 YEAR)", "2025-02-28"],
      ["DATE_ADD('2024-01-01', INTERVAL 2 WEEK)", "2024-01-15"],
      ["DATE_ADD('2024-01-15', INTERVAL 1 QUARTER)", "2024-04-15"],
      ["DATE_ADD('2024-01-15', INTERVAL -3 DAY)", "2024-01-12"],
      ["DATE_ADD('2024-01-15', INTERVAL 1 + 1 DAY)", "2024-01-17"],
      ["DATE_ADD(NULL, INTERVAL 1 DAY)", null],
      ["DATE_ADD('2024-01-15', INTERVAL NULL DAY)", null],
      ["'2024-01-15' + INTERVAL 1 DAY", "2024-01-16"],
      ["INTERVAL 1 DAY + '2024-01-15'", "2024-01-16"],
      ["'2024-01-15 10:00:00' - INTERVAL 30 MINUTE", "2024-01-15 09:30:00"],
      ["ADDDATE('2024-01-15', 10)", "2024-01-25"],
      ["SUBDATE('2024-01-15', INTERVAL 1 MONTH)", "2023-12-15"],
      ["DATE_ADD(NOW(), INTERVAL -1 DAY)", "2024-02-29 01:30:45"],
      ["DATE_FORMAT(DATE_SUB(CURDATE(), INTERVAL 1 DAY), '%Y%m%d')", "20240229"],
    ]);
  });

  it("day arithmetic follows the zone's wall clock across DST", () => {
    const ny: TemplateVars = { ...shanghai, timezone: "America/New_York" };
    // 2024-03-10 is the spring-forward day in New York: one calendar day is 23 hours.
    expect(ev("DATE_ADD('2024-03-09 12:00:00', INTERVAL 1 DAY)", ny)).toBe("2024-03-10 12:00:00");
    expect(ev("UNIX_TIMESTAMP(DATE_ADD('2024-03-09 12:00:00', INTERVAL 1 DAY)) - UNIX_TIMESTAMP('2024-03-09 12:00:00')", ny)).toBe(23 * 3600);
    expect(ev("DATE_ADD('2024-03-09 12:00:00', INTERVAL 24 HOUR)", ny)).toBe("2024-03-10 13:00:00");
  });

  it("DATEDIFF / DATE / LAST_DAY / field extractors", () => {
    table([
      ["DATEDIFF('2007-12-31 23:59:59', '2007-12-30')", 1],
      ["DATEDIFF('2010-11-30 23:59:59', '2010-12-31')", -31],
      ["DATEDIFF(NOW(), '2024-01-01')", 60],
      ["DATEDIFF(NULL, '2024-01-01')", null],
      ["DATE('2003-12-31 01:02:03')", "2003-12-31"],
      ["LAST_DAY('2003-02-05')", "2003-02-28"],
      ["LAST_DAY('2004-02-05')", "2004-02-29"],
      ["LAST_DAY('2004-01-01 01:01:01')", "2004-01-31"],
      ["YEAR('1987-01-01')", 1987],
      ["MONTH('2008-02-03')", 2],
      ["DAY('2007-02-03')", 3],
      ["DAYOFMONTH('2007-02-03')", 3],
      ["HOUR('2024-01-01 10:05:03')", 10],
      ["MINUTE('2008-02-03 10:05:03')", 5],
      ["SECOND('2008-02-03 10:05:03')", 3],
      ["DAYOFWEEK('2007-02-03')", 7],
      ["WEEKDAY('2008-02-03 22:23:00')", 6],
      ["YEAR(NULL)", null],
    ]);
  });

  it("bad dates and out-of-range results are evaluation errors", () => {
    expect(() => ev("DATE_ADD('2024-13-01', INTERVAL 1 DAY)")).toThrow(/is not a date/);
    expect(() => ev("DATE_ADD('9999-12-31', INTERVAL 1 DAY)")).toThrow(/out of range/);
    expect(() => ev("DATE_ADD('2024-01-01', INTERVAL 1e20 DAY)")).toThrow(/out of range/);
  });
});
