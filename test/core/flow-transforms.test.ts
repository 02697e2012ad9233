import { describe, expect, it } from "vitest";
import { compileCondition, type ConditionInput } from "../../shared/transform/condition.ts";
import { compileFlatten } from "../../shared/transform/flatten.ts";
import { compileFormatRules, FormatError, parseFormat, roundTo } from "../../shared/transform/format-response.ts";

const TZ = "Asia/Shanghai";

describe("formatResponse", () => {
  it("formats dates, times and numbers the QEasy way", () => {
    const at = "2024-03-15 14:30:25";
    expect(parseFormat("date")(at, TZ)).toBe("2024-03-15");
    expect(parseFormat("datetime")("2024-03-15 14:30:25.487", TZ)).toBe("2024-03-15 14:30:25");
    expect(parseFormat("dateTime")(at, TZ)).toBe("2024-03-15 14:30");
    expect(parseFormat("time")(at, TZ)).toBe("14:30:25");
    expect(parseFormat("shortDate")(at, TZ)).toBe("03-15");
    // QEasy documents round(2) of 19.9956 as 20.00: text with the decimals kept (issue 14).
    expect(parseFormat("round(2)")("19.9956", TZ)).toBe("20.00");
    expect(parseFormat("round(2)")(1.005, TZ)).toBe("1.01");
    expect(parseFormat("round")(2.345, TZ)).toBe("2.35");
    expect(parseFormat("intval")("10.8", TZ)).toBe(10);
    expect(parseFormat("intval")(-10.8, TZ)).toBe(-10);
    expect(parseFormat("amount")(1000000, TZ)).toBe("￥1,000,000.00");
    expect(parseFormat("amount")("158000.5", TZ)).toBe("￥158,000.50");
    expect(parseFormat("implode")(["重要", "紧急"], TZ)).toBe("重要,紧急");
    expect(parseFormat("implode('|')")(["P001", "P002"], TZ)).toBe("P001|P002");
    expect(parseFormat("StringToArray")("SO1, SO2,,SO3", TZ)).toEqual(["SO1", "SO2", "SO3"]);
    expect(parseFormat("longText(5)")("这是一个很长的文本", TZ)).toBe("这是一个很...");
  });

  it("reads instants into the flow timezone and plain text as wall-clock time", () => {
    // 2024-03-15T16:30:00Z is 00:30 the next day in Shanghai.
    expect(parseFormat("date")("2024-03-15T16:30:00Z", TZ)).toBe("2024-03-16");
    expect(parseFormat("date")(Date.UTC(2024, 2, 15, 16, 30), TZ)).toBe("2024-03-16");
    expect(parseFormat("date")(Date.UTC(2024, 2, 15, 16, 30) / 1000, TZ)).toBe("2024-03-16");
    expect(parseFormat("date")("20240315143000", TZ)).toBe("2024-03-15");
    expect(parseFormat("date")("2024-03-15 23:59:59", "UTC")).toBe("2024-03-15");
  });

  it("rejects unknown formats and unreadable values with clear errors", () => {
    expect(() => parseFormat("dat")).toThrow(/unknown format "dat"/);
    expect(() => parseFormat("round(x)")).toThrow(/needs a whole number argument/);
    expect(() => parseFormat("date(2)")).toThrow(/takes no argument/);
    const f = compileFormatRules([{ old: "io_date", new: "d", format: "date" }]);
    expect(() => f({ io_date: "2024-02-30 10:00:00" })).toThrow(FormatError);
    expect(() => f({ io_date: "yesterday" })).toThrow('formatResponse io_date → d (date): cannot read "yesterday" as a date');
  });

  it("applies rules in order, copies instead of mutating, skips empty values", () => {
    const rules = compileFormatRules([
      { old: "io_date", new: "io_date_new", format: "date" },
      { old: "io_date_new", new: "day", format: "shortDate" },
      { old: "missing", new: "x", format: "date" },
    ]);
    const doc = { io_date: "2024-03-01 10:00:00", remark: "" };
    const out = rules(doc);
    expect(out).toEqual({ io_date: "2024-03-01 10:00:00", remark: "", io_date_new: "2024-03-01", day: "03-01" });
    expect(doc).toEqual({ io_date: "2024-03-01 10:00:00", remark: "" });
  });

  it("runs a rule per detail line when old goes through the line array", () => {
    const rules = compileFormatRules([
      { old: "items.qty", new: "items.qty_int", format: "intval" },
      { old: "items.sale_price", new: "price", format: "round(1)" },
      { old: "receiver.date", new: "receiver_day", format: "date" },
    ]);
    const doc = { items: [{ qty: "2.7", sale_price: 9.95 }, { qty: 3 }], receiver: { date: "2024-01-02 03:04:05" } };
    const out = rules(doc);
    expect(out.items).toEqual([
      { qty: "2.7", sale_price: 9.95, qty_int: 2, price: "10.0" },
      { qty: 3, qty_int: 3 },
    ]);
    expect(out.receiver_day).toBe("2024-01-02");
    expect(doc.items[0]).toEqual({ qty: "2.7", sale_price: 9.95 });
  });

  it("rounds half away from zero without binary noise", () => {
    expect(roundTo(2.675, 2)).toBe(2.68);
    expect(roundTo(-2.675, 2)).toBe(-2.68);
    expect(roundTo(0.1 + 0.2, 2)).toBe(0.3);
  });
});

describe("condition (OR of AND groups)", () => {
  const doc = (over: Record<string, unknown> = {}) => ({
    io_id: 1,
    status: "Confirmed",
    pay_amount: "120.5",
    io_date: "2024-03-01 10:00:00",
    remark: "",
    labels: ["VIP"],
    items: [
      { sku_id: "TX100-11", name: "纯棉圆领T恤", qty: 2 },
      { sku_id: "BXW40-11", name: "运动船袜 赠品", qty: 0 },
    ],
    ...over,
  });
  const check = (groups: ConditionInput[][], d = doc(), mode: "line" | "strict" = "line") => compileCondition(groups, { mode })(d);

  it("supports every operator on header fields", () => {
    const cases: [ConditionInput, boolean][] = [
      [{ field: "status", logic: "eq", value: "Confirmed" }, true],
      [{ field: "io_id", logic: "eq", value: "1" }, true],
      [{ field: "status", logic: "neq", value: "Confirmed" }, false],
      [{ field: "pay_amount", logic: "gt", value: 100 }, true],
      [{ field: "pay_amount", logic: "egt", value: "120.5" }, true],
      [{ field: "pay_amount", logic: "lt", value: 100 }, false],
      [{ field: "pay_amount", logic: "elt", value: 120.5 }, true],
      [{ field: "status", logic: "like", value: "firm" }, true],
      [{ field: "status", logic: "like", value: "Con%ed" }, true],
      [{ field: "status", logic: "notlike", value: "firm" }, false],
      [{ field: "status", logic: "in", value: ["WaitConfirm", "Confirmed"] }, true],
      [{ field: "status", logic: "in", value: "WaitConfirm,Delete" }, false],
      [{ field: "status", logic: "notin", value: "WaitConfirm,Delete" }, true],
      [{ field: "pay_amount", logic: "between", value: "100,200" }, true],
      [{ field: "pay_amount", logic: "between", value: [121, 200] }, false],
      [{ field: "remark", logic: "isnull" }, true],
      [{ field: "remark", logic: "notnull" }, false],
      [{ field: "nothing", logic: "isnull" }, true],
      [{ field: "labels", logic: "eq", value: "VIP" }, true],
      // timestamp: compares instants; 2024-03-01 10:00 Shanghai = 1709258400
      [{ field: "io_date", logic: "egt", value: "timestamp:1709258400" }, true],
      [{ field: "io_date", logic: "gt", value: "timestamp:1709258400" }, false],
      [{ field: "io_date", logic: "lt", value: "timestamp:1709258401" }, true],
    ];
    for (const [c, expected] of cases) expect(check([[c]]).keep, JSON.stringify(c)).toBe(expected);
  });

  it("groups are OR, conditions inside a group are AND", () => {
    const a: ConditionInput = { field: "status", logic: "eq", value: "Delete" };
    const b: ConditionInput = { field: "pay_amount", logic: "gt", value: 100 };
    const c: ConditionInput = { field: "io_id", logic: "eq", value: 1 };
    expect(check([[a, b]]).keep).toBe(false);
    expect(check([[a, b], [c]]).keep).toBe(true);
    expect(check([[b, c]]).keep).toBe(true);
    const out = check([[a]]);
    expect(out).toEqual({ keep: false, reason: 'condition not met: status eq "Delete" (value "Confirmed")' });
  });

  it("line mode drops failing lines and keeps the document", () => {
    const out = check([[{ field: "items.qty", logic: "gt", value: 0 }]]);
    expect(out.keep).toBe(true);
    if (out.keep) expect((out.doc.items as unknown[]).map((l: any) => l.sku_id)).toEqual(["TX100-11"]);
    const none = check([[{ field: "items.qty", logic: "gt", value: 5 }]]);
    expect(none.keep).toBe(false);
  });

  it("strict mode drops the whole document when one line fails", () => {
    const out = check([[{ field: "items.name", logic: "notlike", value: "赠品" }]], doc(), "strict");
    expect(out.keep).toBe(false);
    if (!out.keep) expect(out.reason).toContain("strict condition: items[1]");
    expect(check([[{ field: "items.qty", logic: "egt", value: 0 }]], doc(), "strict").keep).toBe(true);
  });

  it("header and line conditions combine per group", () => {
    // (status = Delete AND qty > 0) OR (sku like BXW): only the BXW line survives.
    const out = check([
      [
        { field: "status", logic: "eq", value: "Delete" },
        { field: "items.qty", logic: "gt", value: 0 },
      ],
      [{ field: "items.sku_id", logic: "like", value: "BXW" }],
    ]);
    expect(out.keep && (out.doc.items as any[]).map((l) => l.sku_id)).toEqual(["BXW40-11"]);
  });

  it("rejects conditions that can never work at compile time", () => {
    expect(() => compileCondition([[{ field: "a", logic: "between", value: "1" }]])).toThrow(/exactly two bounds/);
    expect(() => compileCondition([[{ field: "a", logic: "eq" }]])).toThrow(/needs a value/);
  });
});

describe("flatten (beatFlat)", () => {
  it("makes one row per line with header fields and prefixed line fields", () => {
    const rows = compileFlatten({ path: "items" })({
      io_id: 7,
      io_date: "2024-03-01",
      items: [
        { sku_id: "A", qty: 1 },
        { sku_id: "B", qty: 2 },
      ],
    });
    expect(rows).toEqual([
      { io_id: 7, io_date: "2024-03-01", items_sku_id: "A", items_qty: 1 },
      { io_id: 7, io_date: "2024-03-01", items_sku_id: "B", items_qty: 2 },
    ]);
  });

  it("honours a custom prefix and yields nothing without lines", () => {
    const flat = compileFlatten({ path: "items", prefix: "d_" });
    expect(flat({ a: 1, items: [{ x: 1 }] })).toEqual([{ a: 1, d_x: 1 }]);
    expect(flat({ a: 1, items: [] })).toEqual([]);
    expect(flat({ a: 1 })).toEqual([]);
  });
});
