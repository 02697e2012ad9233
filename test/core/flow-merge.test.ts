import { describe, expect, it } from "vitest";
import { compileMerge, mergeRecords, periodEndOf, type MergeConfig, type MergeInput } from "../../shared/transform/merge.ts";
import { planMerge, recordWritten, type WrittenGroups } from "../../shared/transform/merge-policy.ts";
import { seededRandom } from "../emulators/catalog.ts";

const vars = { lastSyncTime: 0, currentTime: 0 };
const DAY = 86_400_000;
/** Start of 2024-03-02 in Shanghai: the instant that closes 2024-03-01. */
const END_OF_MAR_1 = Date.UTC(2024, 2, 1, 16);

const config: MergeConfig = {
  groupBy: ["io_date_new", "wms_co_id"],
  lines: "items",
  lineGroupBy: ["sku_id"],
  calculate: { qty: "$sum", sale_amount: "$sum", sale_price: "$max" },
  headerCalculate: { remark: "$first", pay_amount: "$sum" },
  keyTemplate: "SO-{io_date_new}-{wms_co_id}",
  period: { field: "io_date_new", unit: "day" },
};

function doc(id: number, day: string, wh: number, lines: [string, number, number][], remark = `r${id}`): MergeInput {
  return {
    id: String(id),
    record: {
      io_id: id,
      io_date_new: day,
      wms_co_id: wh,
      remark,
      pay_amount: lines.reduce((s, l) => s + l[2], 0),
      items: lines.map(([sku_id, qty, sale_amount]) => ({ sku_id, qty, sale_amount, sale_price: qty ? sale_amount / qty : 0 })),
    },
  };
}

const DOCS = [
  doc(12, "2024-03-01", 10817, [
    ["A", 1, 59],
    ["B", 2, 19.8],
  ]),
  doc(3, "2024-03-01", 10817, [["A", 2, 118]]),
  doc(7, "2024-03-01", 10818, [["C", 1, 169]]),
  doc(25, "2024-03-02", 10817, [["B", 1, 9.9]]),
  doc(100, "2024-03-01", 10817, [
    ["B", 3, 29.7],
    ["D", 1, 0.1],
  ]),
];

describe("merge", () => {
  const merge = compileMerge(config);

  it("groups documents, merges lines with the accumulators, and keys groups deterministically", () => {
    const { documents, errors } = mergeRecords(DOCS, merge, vars);
    expect(errors).toEqual([]);
    expect(documents.map((d) => [d.key, d.members])).toEqual([
      ["SO-2024-03-01-10817", ["3", "12", "100"]],
      ["SO-2024-03-01-10818", ["7"]],
      ["SO-2024-03-02-10817", ["25"]],
    ]);
    const first = documents[0]!;
    // Members in id order: 3 (A), 12 (A, B), 100 (B, D); lines keep their first position.
    expect(first.record.items).toEqual([
      { sku_id: "A", qty: 3, sale_amount: 177, sale_price: 59 },
      { sku_id: "B", qty: 5, sale_amount: 49.5, sale_price: 9.9 },
      { sku_id: "D", qty: 1, sale_amount: 0.1, sale_price: 0.1 },
    ]);
    expect(first.record).toMatchObject({
      io_date_new: "2024-03-01",
      wms_co_id: 10817,
      remark: "r3",
      pay_amount: 226.6,
      _merge_key: "SO-2024-03-01-10817",
      _merge_group: "SO-2024-03-01-10817",
      _merge_count: 3,
      _merge_members: ["3", "12", "100"],
      _merge_supplement: 0,
    });
    expect(first.record.io_id).toBeUndefined(); // fields outside groupBy/calculate are not carried (QEasy behaviour)
    expect(first.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it("is independent of the order documents arrive in", () => {
    const base = mergeRecords(DOCS, merge, vars).documents;
    const random = seededRandom(42);
    for (let round = 0; round < 10; round++) {
      const shuffled = [...DOCS].sort(() => random() - 0.5);
      const again = mergeRecords(shuffled, merge, vars).documents;
      expect(again).toEqual(base);
    }
  });

  it("ignores a document delivered twice by overlapping windows", () => {
    const twice = mergeRecords([...DOCS, DOCS[0]!, DOCS[1]!], merge, vars).documents;
    expect(twice).toEqual(mergeRecords(DOCS, merge, vars).documents);
  });

  it("splits a group into numbered parts at maxLines, each with its own members", () => {
    const split = compileMerge({ ...config, maxLines: 2 });
    const docs = mergeRecords(DOCS, split, vars).documents.filter((d) => d.groupKey === "SO-2024-03-01-10817");
    expect(docs.map((d) => [d.key, d.part, d.parts, d.members, (d.record.items as unknown[]).length])).toEqual([
      ["SO-2024-03-01-10817-1", 1, 2, ["3", "12", "100"], 2],
      ["SO-2024-03-01-10817-2", 2, 2, ["100"], 1],
    ]);
  });

  it("supports every accumulator and the all-lines-into-one form", () => {
    const m = compileMerge({
      groupBy: ["g"],
      lines: "items",
      lineGroupBy: [],
      calculate: { n: "$sum", avg: "$avg", lo: "$min", hi: "$max", f: "$first", l: "$last", all: "$push", set: "$addToSet", c: "$count" },
      keyTemplate: "K{g}",
    });
    const rows = [3, 1, 2].map((i) => ({
      id: String(i),
      record: { g: 1, items: [{ n: i, avg: i * 2, lo: i, hi: i, f: `f${i}`, l: `l${i}`, all: i, set: i % 2, c: i === 2 ? "" : "x" }] },
    }));
    const [d] = mergeRecords(rows, m, vars).documents;
    expect(d!.record.items).toEqual([{ n: 6, avg: 4, lo: 1, hi: 3, f: "f1", l: "l3", all: [1, 2, 3], set: [1, 0], c: 2 }]);
  });

  it("keeps lines unchanged without lineGroupBy", () => {
    const m = compileMerge({ groupBy: ["g"], lines: "items", keyTemplate: "K{g}" });
    const rows = [
      { id: "2", record: { g: 1, items: [{ a: 2 }] } },
      { id: "1", record: { g: 1, items: [{ a: 1 }, { a: 1.5 }] } },
    ];
    expect(mergeRecords(rows, m, vars).documents[0]!.record.items).toEqual([{ a: 1 }, { a: 1.5 }, { a: 2 }]);
  });

  it("merges flattened rows (beatFlat) as lines", () => {
    const m = compileMerge(
      { groupBy: ["io_date_new"], lines: "items", lineGroupBy: ["items_sku_id"], calculate: { items_qty: "$sum" }, keyTemplate: "JST-{io_date_new}" },
      { flatRows: true },
    );
    const rows: MergeInput[] = [
      { id: "1", seq: 0, record: { io_date_new: "2024-03-01", items_sku_id: "A", items_qty: 1 } },
      { id: "1", seq: 1, record: { io_date_new: "2024-03-01", items_sku_id: "B", items_qty: 2 } },
      { id: "2", seq: 0, record: { io_date_new: "2024-03-01", items_sku_id: "A", items_qty: 4 } },
    ];
    const [d] = mergeRecords(rows, m, vars).documents;
    expect(d!.members).toEqual(["1", "2"]);
    expect(d!.record.items).toEqual([
      { items_sku_id: "A", items_qty: 5 },
      { items_sku_id: "B", items_qty: 2 },
    ]);
  });

  it("reports documents that cannot be grouped or summed, per document", () => {
    const bad = [doc(1, "2024-03-01", 10817, [["A", 1, 5]]), { id: "2", record: { io_date_new: "", wms_co_id: 10817, items: [] } }];
    const { documents, errors } = mergeRecords(bad, merge, vars);
    expect(documents).toHaveLength(1);
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["2", "merge_failed"]]);
    expect(errors[0]!.error.message).toContain("has no value for merge field io_date_new");
    const nan = mergeRecords(
      [doc(1, "2024-03-01", 1, [["A", 1, 5]]), { id: "9", record: { io_date_new: "2024-03-01", wms_co_id: 1, items: [{ sku_id: "A", qty: "two" }] } }],
      merge,
      vars,
    );
    expect(nan.errors.map((e) => e.id)).toEqual(["1", "9"]);
    expect(nan.errors[0]!.error.message).toContain('cannot sum qty="two" of document 9');
  });

  it("computes period ends in the flow timezone", () => {
    expect(periodEndOf("2024-03-01", "day", "Asia/Shanghai")).toBe(END_OF_MAR_1);
    expect(periodEndOf("2024-03-01 10:20:00", "hour", "Asia/Shanghai")).toBe(Date.UTC(2024, 2, 1, 3));
    expect(periodEndOf("2024-12-15", "month", "Asia/Shanghai")).toBe(Date.UTC(2024, 11, 31, 16));
    expect(periodEndOf("garbage", "day", "Asia/Shanghai")).toBeNull();
  });
});

describe("late-arrival policy across consecutive runs", () => {
  const merge = compileMerge(config);

  const writes: string[][] = [];
  /** One engine run: plan, "write" the documents, remember what was written. */
  function run(batch: MergeInput[], closedBefore: number, written: WrittenGroups) {
    const plan = planMerge(batch, merge, { closedBefore, written, vars });
    for (const d of plan.documents) writes.push(d.members);
    return { plan, written: recordWritten(written, plan.documents) };
  }

  it("holds open days, writes closed ones once, and turns late documents into supplements", () => {
    const day1 = DOCS.filter((d) => d.record.io_date_new === "2024-03-01" && d.record.wms_co_id === 10817);
    let written: WrittenGroups = {};

    // Run 1, during 2024-03-01: the day is still open, nothing is written.
    let r = run(day1.slice(0, 2), END_OF_MAR_1 - 1, written);
    expect(r.plan.documents).toEqual([]);
    expect(r.plan.held).toEqual([{ groupKey: "SO-2024-03-01-10817", members: ["3", "12"], periodEnd: END_OF_MAR_1 }]);
    written = r.written;

    // Run 2, after midnight: the lookback re-reads everything; the closed day is written once.
    r = run(day1, END_OF_MAR_1, written);
    expect(r.plan.documents.map((d) => [d.key, d.members])).toEqual([["SO-2024-03-01-10817", ["3", "12", "100"]]]);
    written = r.written;
    expect(written["SO-2024-03-01-10817"]).toEqual({ members: ["3", "12", "100"], supplements: 0 });
    const original = r.plan.documents[0]!;

    // Run 3: the same documents again (overlap): nothing to write, each reported as already written.
    r = run(day1, END_OF_MAR_1 + DAY, written);
    expect(r.plan.documents).toEqual([]);
    expect(r.plan.skipped.map((s) => s.id)).toEqual(["3", "12", "100"]);
    written = r.written;

    // Run 4: a late document of that day arrives with the overlap: supplement S1 with only the new member.
    const late = doc(101, "2024-03-01", 10817, [["A", 5, 295]]);
    r = run([...day1, late], END_OF_MAR_1 + DAY, written);
    expect(r.plan.documents.map((d) => [d.key, d.members, d.supplement])).toEqual([["SO-2024-03-01-10817-S1", ["101"], 1]]);
    expect(r.plan.documents[0]!.record.items).toEqual([{ sku_id: "A", qty: 5, sale_amount: 295, sale_price: 59 }]);
    expect(r.plan.documents[0]!.record._merge_key).toBe("SO-2024-03-01-10817-S1");
    written = r.written;

    // Run 5: re-read again — nothing twice.
    r = run([late, ...day1], END_OF_MAR_1 + 2 * DAY, written);
    expect(r.plan.documents).toEqual([]);
    written = r.written;

    // Run 6: two more late documents → S2 holding both.
    const later = [doc(150, "2024-03-01", 10817, [["B", 1, 9.9]]), doc(140, "2024-03-01", 10817, [["B", 1, 9.9]])];
    r = run([...later, late], END_OF_MAR_1 + 2 * DAY, written);
    expect(r.plan.documents.map((d) => [d.key, d.members])).toEqual([["SO-2024-03-01-10817-S2", ["140", "150"]]]);
    written = r.written;
    expect(written["SO-2024-03-01-10817"]).toEqual({ members: ["3", "12", "100", "101", "140", "150"], supplements: 2 });

    // Every source document was written exactly once across all runs.
    const all = writes.flat();
    expect(all.length).toBe(new Set(all).size);
    expect(all.sort()).toEqual(["100", "101", "12", "140", "150", "3"]);
    expect(writes).toHaveLength(3);
  });

  it("gives the same plan whatever the order, and keeps other groups independent", () => {
    const written = recordWritten({}, [{ groupKey: "SO-2024-03-01-10818", members: ["7"], supplement: 0 }]);
    const a = planMerge(DOCS, merge, { closedBefore: END_OF_MAR_1 + DAY, written, vars });
    const b = planMerge([...DOCS].reverse(), merge, { closedBefore: END_OF_MAR_1 + DAY, written: (k) => written[k], vars });
    expect(b).toEqual(a);
    expect(a.documents.map((d) => d.key)).toEqual(["SO-2024-03-01-10817", "SO-2024-03-02-10817"]);
    expect(a.skipped).toEqual([{ id: "7", groupKey: "SO-2024-03-01-10818", reason: "already written in group SO-2024-03-01-10818" }]);
  });

  it("without closedBefore every group counts as closed", () => {
    expect(planMerge(DOCS, merge, { vars }).documents).toHaveLength(3);
    expect(planMerge(DOCS, merge, { vars, closedBefore: END_OF_MAR_1 }).held.map((h) => h.groupKey)).toEqual(["SO-2024-03-02-10817"]);
  });

  it("recordWritten does not change its input", () => {
    const before: WrittenGroups = { K: { members: ["1"], supplements: 0 } };
    const after = recordWritten(before, [{ groupKey: "K", members: ["2"], supplement: 1 }]);
    expect(before).toEqual({ K: { members: ["1"], supplements: 0 } });
    expect(after).toEqual({ K: { members: ["1", "2"], supplements: 1 } });
  });
});
