/**
 * shared/transform/merge.ts against its Stryker survivors (issue 18 item 6): the accumulators' edge values (empty,
 * mixed types, objects, numbers beyond the exact-sum range), numeric ids, dotted field paths, dedupe's choice between
 * two versions of one document, key templates that read fields outside groupBy, lines that are not objects, maxLines
 * members and the errors' details and hints. Pure functions: no clock, no network.
 */
import { describe, expect, it } from "vitest";
import { BridgeError } from "../../shared/errors.ts";
import {
  compareIds,
  compileMerge,
  type MergeConfig,
  type MergedDocument,
  MergeError,
  type MergeInput,
  mergeRecords,
  periodEndOf,
} from "../../shared/transform/merge.ts";

const vars = { lastSyncTime: 0, currentTime: 0 };
const ZONE = "Asia/Shanghai";
type Row = Record<string, unknown>;

/** One group ("G") whose documents each carry one line `{ k: "A", v }` (or `{ k: "A" }` when v is undefined). */
function sumOf(acc: NonNullable<MergeConfig["calculate"]>[string], values: unknown[]): unknown {
  const merge = compileMerge({ groupBy: ["g"], lines: "items", lineGroupBy: ["k"], calculate: { v: acc }, keyTemplate: "G" });
  const inputs = values.map((v, i) => ({ id: String(i + 1), record: { g: 1, items: [v === undefined ? { k: "A" } : { k: "A", v }] } }));
  const [doc] = merge.mergeGroup("G", inputs);
  return (doc!.record.items as Row[])[0]!.v;
}

/** The header value of one accumulator over documents carrying `h` (absent when undefined). */
function headerOf(acc: NonNullable<MergeConfig["headerCalculate"]>[string], values: unknown[]): unknown {
  const merge = compileMerge({ groupBy: ["g"], lines: "items", headerCalculate: { h: acc }, keyTemplate: "G" });
  const inputs = values.map((h, i) => ({ id: String(i + 1), record: h === undefined ? { g: 1, items: [] } : { g: 1, h, items: [] } }));
  return merge.mergeGroup("G", inputs)[0]!.record.h;
}

function thrown(fn: () => unknown): BridgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BridgeError);
    return e as BridgeError;
  }
  throw new Error("expected an error");
}

describe("compareIds", () => {
  it("orders numeric ids as numbers and others as text, and is 0 only for equal ids", () => {
    expect(compareIds("9", "10")).toBeLessThan(0); // "9" is a digit: numeric
    expect(compareIds("10", "9")).toBeGreaterThan(0);
    expect(compareIds("b", "10")).toBeGreaterThan(0); // text: "b" > "1"
    expect(compareIds("+5", "9")).toBeLessThan(0); // "+" is not a digit: "+" < "9"
    expect(compareIds("1a", "9")).toBeLessThan(0); // "a" is not a digit
    expect(compareIds("b", "a")).toBe(1);
    expect(compareIds("a", "b")).toBe(-1);
    expect(compareIds("a", "a")).toBe(0);
    expect(compareIds("12", "12")).toBe(0);
  });
});

describe("exact sums and their fallback", () => {
  it("an integer added to a large integer stays exact (1 + 1e15)", () => {
    expect(sumOf("$sum", [1, 1e15])).toBe(1_000_000_000_000_001);
  });

  it("an integer after cents widens nothing wrongly, cents after an integer scale the integer up", () => {
    const cents = Array.from({ length: 1000 }, () => 0.01);
    expect(sumOf("$sum", [...cents, 1])).toBe(11); // float: 10.9999999999998
    expect(sumOf("$sum", [1, ...cents])).toBe(11);
  });

  it("values beyond the fast path: large, 7 decimals, exponent forms", () => {
    expect(sumOf("$sum", [1234567890.25, 0.5])).toBe(1234567890.75);
    expect(sumOf("$sum", [1.1234567, 1.1234567])).toBe(2.2469134);
    // 1e-7 has no decimal form (String gives "1e-7"): the float sum, cleaned, not 0.
    expect(sumOf("$sum", [1e-7, 2e-7])).toBe(3e-7);
    expect(sumOf("$sum", [0.1234567890123, 1])).toBe(1.1234567890123); // 13 places: the float sum
    // Exact where the float sum, even cleaned, is not: 1234567890120.01 and 7141.16048860001.
    expect(
      sumOf(
        "$sum",
        Array.from({ length: 1000 }, () => 1234567890.12),
      ),
    ).toBe(1234567890120);
    expect(
      sumOf(
        "$sum",
        Array.from({ length: 58 }, () => 123.1234567),
      ),
    ).toBe(7141.1604886);
  });

  it("text values take the same fallback as numbers", () => {
    expect(sumOf("$sum", ["1e-7", "2e-7"])).toBe(3e-7);
  });

  it("beyond 2^53 units the float sum is cleaned to 15 digits", () => {
    expect(sumOf("$sum", [9007199254740991, 2])).toBe(9007199254740990);
  });

  it("a NaN number is refused like text, with the field, value, document and a hint", () => {
    const e = thrown(() => sumOf("$sum", [1, Number.NaN]));
    expect(e).toBeInstanceOf(MergeError);
    expect(e.code).toBe("merge_failed");
    expect(e.message).toMatch(/cannot sum v=null of document 2: not a number/);
    expect(e.details).toEqual({ field: "v", value: Number.NaN, id: "2" });
    expect(e.hint).toBe('Fix the source value or use "$first" for v.');
  });

  it("booleans are not numbers; $avg says average", () => {
    expect(thrown(() => sumOf("$sum", [true])).message).toMatch(/cannot sum v=true/);
    expect(thrown(() => sumOf("$avg", ["x"])).message).toMatch(/cannot average v="x" of document 1/);
  });

  it("$avg of no values is null; empty values are not counted", () => {
    expect(sumOf("$avg", [undefined, null, ""])).toBeNull();
    expect(sumOf("$avg", [2, "", 4])).toBe(3);
  });
});

describe("$min, $max, $first, $last, $push, $addToSet, $count", () => {
  it("$min and $max compare numbers as numbers, text and mixed values as text, and skip empty values", () => {
    expect(sumOf("$min", [10, 9, 100])).toBe(9);
    expect(sumOf("$max", [9, 100, 10])).toBe(100);
    expect(sumOf("$max", [100, 9, 10])).toBe(100);
    expect(sumOf("$min", ["b", "a", "c"])).toBe("a");
    expect(sumOf("$max", ["b", "c", "a"])).toBe("c");
    expect(sumOf("$max", ["10", 9])).toBe(9); // "9" > "10" as text
    expect(sumOf("$min", [9, "10"])).toBe("10");
    expect(sumOf("$min", ["10", 9])).toBe("10");
    expect(sumOf("$max", [9, "10"])).toBe(9);
    expect(sumOf("$min", [1, "1"])).toBe(1); // equal as text: the first stays
    expect(sumOf("$max", [1, "1"])).toBe(1);
    expect(sumOf("$min", [3, ""])).toBe(3);
    expect(sumOf("$max", [3, null, 1])).toBe(3);
  });

  it("$first takes the first defined value, $last the last defined one", () => {
    expect(headerOf("$first", [undefined, "x", "y"])).toBe("x");
    expect(headerOf("$last", ["x", "y", undefined])).toBe("y");
  });

  it("$push keeps duplicates and skips absent values; $addToSet keeps distinct values, objects by content", () => {
    expect(sumOf("$push", [1, undefined, 1])).toEqual([1, 1]);
    expect(sumOf("$push", [undefined])).toEqual([]);
    expect(sumOf("$addToSet", [1, undefined, 1, "1"])).toEqual([1, "1"]);
    expect(sumOf("$addToSet", [{ a: 1 }, { a: 2 }, { a: 1 }])).toEqual([{ a: 1 }, { a: 2 }]);
    // null, NaN and Infinity are three values (their JSON is "null" for each).
    expect(sumOf("$addToSet", [null, Number.NaN, Number.POSITIVE_INFINITY, null])).toEqual([null, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(sumOf("$count", [1, "", null, 0])).toBe(2);
  });

  it("header accumulators count a flattened document once", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", headerCalculate: { pay: "$sum" }, keyTemplate: "G" }, { flatRows: true });
    const rows: MergeInput[] = [
      { id: "1", seq: 0, record: { g: 1, pay: 5, sku: "A" } },
      { id: "1", seq: 1, record: { g: 1, pay: 5, sku: "B" } },
      { id: "2", seq: 0, record: { g: 1, pay: 7, sku: "A" } },
    ];
    const [doc] = merge.mergeGroup("G", rows);
    expect(doc!.record.pay).toBe(12);
    expect(doc!.record.items).toEqual(rows.map((r) => r.record));
  });
});

describe("periods", () => {
  it("a month period ends on the next month's first day, December's in the next year", () => {
    expect(periodEndOf("2024-03-15", "month", ZONE)).toBe(Date.UTC(2024, 2, 31, 16));
    expect(periodEndOf("2024-12-05 10:00:00", "month", ZONE)).toBe(Date.UTC(2024, 11, 31, 16));
    expect(periodEndOf("2024-03-15 10:20:00", "hour", ZONE)).toBe(Date.UTC(2024, 2, 15, 3));
  });

  it("a group's period end is the latest of its members'; without a period there is none", () => {
    const config: MergeConfig = { groupBy: ["g"], lines: "items", keyTemplate: "G", period: { field: "day", unit: "day" } };
    const merge = compileMerge(config);
    const inputs = (days: unknown[]) => days.map((day, i) => ({ id: String(i + 1), record: { g: 1, day } }));
    expect(merge.periodEnd(inputs(["2024-03-02", "2024-03-01"]))).toBe(Date.UTC(2024, 2, 2, 16));
    expect(merge.periodEnd(inputs(["2024-03-01", "2024-03-02", "2024-03-01"]))).toBe(Date.UTC(2024, 2, 2, 16));
    expect(compileMerge({ ...config, period: undefined }).periodEnd(inputs(["2024-03-01"]))).toBeUndefined();
  });

  it("a member whose period field is not a date is an error naming it", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G", period: { field: "day", unit: "day" } });
    const e = thrown(() => merge.periodEnd([{ id: "7", record: { g: 1, day: "soon" } }]));
    expect(e).toBeInstanceOf(MergeError);
    expect(e.message).toBe('document 7: day="soon" is not a date, so its merge period is unknown');
    expect(e.details).toEqual({ id: "7", field: "day" });
    expect(e.hint).toBe("Make sure every document carries day.");
    const nothing = thrown(() => merge.periodEnd([{ id: "8", record: { g: 1 } }]));
    expect(nothing.message).toMatch(/document 8: day=undefined is not a date/);
  });
});

describe("two versions of one document", () => {
  const merge = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G" });
  const both = (a: MergeInput, b: MergeInput): Row[][] =>
    [merge.mergeGroup("G", [a, b]), merge.mergeGroup("G", [b, a])].map((docs) => docs[0]!.record.items as Row[]);
  const version = (modified: string | undefined, qty: number): MergeInput => ({
    id: "1",
    record: { g: 1, ...(modified === undefined ? {} : { modified }), items: [{ qty }] },
  });

  it("the later `modified` wins whatever the order, even with a smaller record", () => {
    expect(both(version("2024-03-02 10:00:00", 1), version("2024-03-01 10:00:00", 9))).toEqual([[{ qty: 1 }], [{ qty: 1 }]]);
  });

  it("a version with `modified` wins over one without", () => {
    expect(both(version("2024-03-01 10:00:00", 1), version(undefined, 9))).toEqual([[{ qty: 1 }], [{ qty: 1 }]]);
  });

  it("equal `modified`: the larger record wins whatever the order", () => {
    expect(both(version("2024-03-01 10:00:00", 1), version("2024-03-01 10:00:00", 9))).toEqual([[{ qty: 9 }], [{ qty: 9 }]]);
    expect(both(version(undefined, 3), version(undefined, 2))).toEqual([[{ qty: 3 }], [{ qty: 3 }]]);
  });

  it("flattened rows of one document are ordered by their line index", () => {
    const flat = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G" }, { flatRows: true });
    for (const order of [
      [2, 0, 1],
      [1, 0, 2],
    ]) {
      const rows: MergeInput[] = order.map((seq) => ({ id: "5", seq, record: { g: 1, seq } }));
      expect((flat.mergeGroup("G", rows)[0]!.record.items as Row[]).map((r) => r.seq)).toEqual([0, 1, 2]);
    }
  });
});

describe("grouping", () => {
  it("reads dotted paths, and a literal dotted key before the path", () => {
    const merge = compileMerge({ groupBy: ["shop.id", "a.b"], lines: "items", keyTemplate: "K" });
    const header = merge.mergeGroup("K", [{ id: "1", record: { shop: { id: 4 }, "a.b": "lit", items: [] } }])[0]!.record;
    expect(header["shop.id"]).toBe(4);
    expect(header["a.b"]).toBe("lit");
    const { groups, errors } = merge.group(
      [
        { id: "1", record: { shop: { id: 4 }, "a.b": "x" } },
        { id: "2", record: { shop: null, "a.b": "x" } },
        { id: "3", record: { shop: "text", "a.b": "x" } },
        { id: "4", record: { shop: { id: 4 }, a: { b: "nested" } } },
      ],
      vars,
    );
    expect(groups.map((g) => g.inputs.map((i) => i.id))).toEqual([["1", "4"]]);
    expect(errors.map((e) => [e.id, e.error.details])).toEqual([
      ["2", { id: "2", fields: ["shop.id"] }],
      ["3", { id: "3", fields: ["shop.id"] }],
    ]);
  });

  it("a string is not an object on a dotted path", () => {
    const merge = compileMerge({ groupBy: ["name.length"], lines: "items", keyTemplate: "K" });
    expect(merge.group([{ id: "1", record: { name: "abc" } }], vars).errors.map((e) => e.id)).toEqual(["1"]);
  });

  it("documents without the groupBy fields (null or empty counts as missing) are errors naming every field", () => {
    const merge = compileMerge({ groupBy: ["day", "wh"], lines: "items", keyTemplate: "K-{day}-{wh}" });
    const { groups, errors } = merge.group(
      [
        { id: "1", record: { day: null, wh: "" } },
        { id: "2", record: { day: "d" } },
      ],
      vars,
    );
    expect(groups).toEqual([]);
    expect(errors[0]!.error).toBeInstanceOf(MergeError);
    expect(errors[0]!.error.message).toBe("document 1 has no value for merge fields day, wh");
    expect(errors[0]!.error.details).toEqual({ id: "1", fields: ["day", "wh"] });
    expect(errors[0]!.error.hint).toBe("Every document must carry the groupBy fields; check formatResponse and the source data.");
    expect(errors[1]!.error.message).toBe("document 2 has no value for merge field wh");
  });

  it("a key template that reads a field outside groupBy is rendered per document", () => {
    const merge = compileMerge({ groupBy: ["day"], lines: "items", keyTemplate: "K-{day}-{wh}" });
    const { groups } = merge.group(
      [
        { id: "1", record: { day: "d", wh: 1 } },
        { id: "2", record: { day: "d", wh: 2 } },
      ],
      vars,
    );
    expect(groups.map((g) => g.groupKey)).toEqual(["K-d-1", "K-d-2"]);
  });

  it("a key template that fails for a document is that document's error; the others group", () => {
    const merge = compileMerge({ groupBy: ["day"], lines: "items", keyTemplate: "_function CONCAT('K-', DATE_FORMAT(day, '%Y'))" });
    const { groups, errors } = merge.group(
      [
        { id: "1", record: { day: "soon" } },
        { id: "2", record: { day: "2024-03-01" } },
      ],
      vars,
    );
    expect(groups.map((g) => [g.groupKey, g.inputs.map((i) => i.id)])).toEqual([["K-2024", ["2"]]]);
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["1", "template_eval"]]);
  });

  it("a bad key template is a syntax error at its path", () => {
    const flow = thrown(() => compileMerge({ groupBy: ["d"], lines: "items", keyTemplate: "{{a b}}" }, { path: "flows.x.operation" }));
    expect(flow.details).toMatchObject({ path: "flows.x.operation.keyTemplate" });
    const bare = thrown(() => compileMerge({ groupBy: ["d"], lines: "items", keyTemplate: "{{a b}}" }));
    expect(bare.details).toMatchObject({ path: "operation.keyTemplate" });
  });
});

describe("lines", () => {
  it("line keys that are objects group by content; several lineGroupBy fields group by all of them", () => {
    const byObject = compileMerge({ groupBy: ["g"], lines: "items", lineGroupBy: ["spec"], calculate: { q: "$sum" }, keyTemplate: "G" });
    const lines = (items: Row[][]) =>
      byObject.mergeGroup(
        "G",
        items.map((it, i) => ({ id: String(i + 1), record: { g: 1, items: it } })),
      )[0]!.record.items;
    expect(
      lines([
        [{ spec: { c: "red" }, q: 1 }],
        [
          { spec: { c: "red" }, q: 2 },
          { spec: { c: "blue" }, q: 4 },
        ],
      ]),
    ).toEqual([
      { spec: { c: "red" }, q: 3 },
      { spec: { c: "blue" }, q: 4 },
    ]);
    const byTwo = compileMerge({ groupBy: ["g"], lines: "items", lineGroupBy: ["k", "w"], calculate: { q: "$sum" }, keyTemplate: "G" });
    const [doc] = byTwo.mergeGroup("G", [
      {
        id: "1",
        record: {
          g: 1,
          items: [
            { k: "A", w: 1, q: 1 },
            { k: "A", w: 2, q: 2 },
            { k: "A", w: 1, q: 4 },
            { k: "B", q: 8 },
            { k: "B", w: null, q: 16 },
          ],
        },
      },
    ]);
    expect(doc!.record.items).toEqual([
      { k: "A", w: 1, q: 5 },
      { k: "A", w: 2, q: 2 },
      { k: "B", w: undefined, q: 24 },
    ]);
  });

  it("lines that are not objects and documents without a line array are skipped", () => {
    for (const lineGroupBy of [undefined, ["k"]]) {
      const merge = compileMerge({ groupBy: ["g"], lines: "items", ...(lineGroupBy ? { lineGroupBy } : {}), keyTemplate: "G" });
      const [doc] = merge.mergeGroup("G", [
        { id: "1", record: { g: 1 } },
        { id: "2", record: { g: 1, items: "AB" } },
        { id: "3", record: { g: 1, items: [null, 5, "x", { k: "A" }] } },
      ]);
      expect(doc!.record.items).toEqual([{ k: "A" }]);
      expect(doc!.members).toEqual(["1", "2", "3"]); // one part: every member, lines or not
    }
  });

  it("no inputs merge to no document", () => {
    expect(compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G" }).mergeGroup("G", [])).toEqual([]);
  });
});

describe("maxLines parts", () => {
  const parts = (docs: MergedDocument[]) => docs.map((d) => [d.key, d.part, d.record._merge_part, d.record._merge_parts, d.members, d.record._merge_count]);

  it("each part lists the members whose lines it holds, skipping lines that are not objects", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G", maxLines: 2 });
    const docs = merge.mergeGroup(
      "G",
      [
        { id: "1", record: { g: 1, items: [{ n: 1 }, null, { n: 2 }] } },
        { id: "2", record: { g: 1 } },
        { id: "3", record: { g: 1, items: [7, { n: 3 }] } },
        { id: "10", record: { g: 1, items: [{ n: 4 }, { n: 5 }] } },
      ],
      2,
    );
    expect(parts(docs)).toEqual([
      ["G-S2-1", 1, 1, 3, ["1"], 1],
      ["G-S2-2", 2, 2, 3, ["3", "10"], 2],
      ["G-S2-3", 3, 3, 3, ["10"], 1],
    ]);
    expect(docs.map((d) => (d.record.items as Row[]).map((l) => l.n))).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("with lineGroupBy a member belongs to every part holding one of its grouped lines", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", lineGroupBy: ["k"], calculate: { q: "$sum" }, keyTemplate: "G", maxLines: 1 });
    const docs = merge.mergeGroup("G", [
      { id: "1", record: { g: 1, items: [{ k: "A", q: 1 }, 3] } },
      { id: "2", record: { g: 1, items: [{ k: "B", q: 2 }, { k: "A", q: 4 }, null] } },
      { id: "3", record: { g: 1, items: "none" } },
    ]);
    expect(parts(docs)).toEqual([
      ["G-1", 1, 1, 2, ["1", "2"], 2],
      ["G-2", 2, 2, 2, ["2"], 1],
    ]);
  });

  it("flattened rows split by rows", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "G", maxLines: 2 }, { flatRows: true });
    const rows: MergeInput[] = [
      { id: "1", seq: 0, record: { g: 1, n: 1 } },
      { id: "1", seq: 1, record: { g: 1, n: 2 } },
      { id: "2", seq: 0, record: { g: 1, n: 3 } },
    ];
    expect(parts(merge.mergeGroup("G", rows))).toEqual([
      ["G-1", 1, 1, 2, ["1"], 1],
      ["G-2", 2, 2, 2, ["2"], 1],
    ]);
  });
});

describe("mergeRecords", () => {
  it("a group that fails to merge is an error for each of its documents, once", () => {
    const merge = compileMerge({ groupBy: ["g"], lines: "items", lineGroupBy: ["k"], calculate: { q: "$sum" }, keyTemplate: "G-{g}" });
    const { documents, errors } = mergeRecords(
      [
        { id: "1", seq: 0, record: { g: 1, items: [{ k: "A", q: "x" }] } },
        { id: "1", seq: 1, record: { g: 1, items: [{ k: "A", q: 1 }] } },
        { id: "2", record: { g: 2, items: [{ k: "A", q: 1 }] } },
      ],
      merge,
      vars,
    );
    expect(documents.map((d) => d.key)).toEqual(["G-2"]);
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["1", "merge_failed"]]);
  });
});
