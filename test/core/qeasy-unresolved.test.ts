/**
 * No silent loss (issue 14 item 2): a template path that resolves to nothing for every record is reported with
 * the value's flow path and the nearest existing paths — in preview, in the builder (dry run / run) and in the
 * run record; a required field that maps to nothing dead-letters the document with its path.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createDocumentBuilder } from "../../shared/flow/builder.ts";
import { preview } from "../../shared/flow/preview.ts";
import { loadFlow } from "../../shared/flow/schema.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

function flowWith(lineFields: unknown[], headerFields: unknown[] = []) {
  return loadFlow({
    id: "t-unresolved",
    name: "t",
    version: 1,
    source: { type: "jushuitan", endpoint: "/open/other/inout/query", params: {} },
    incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
    target: {
      type: "kis",
      operation: "APP006992/api/OtherInStock/Save",
      externalKey: "{io_id}",
      fields: [
        { field: "FBillNo", type: "string", value: "{io_id}" },
        ...headerFields,
        { field: "Entry", type: "array", value: "items", children: lineFields },
      ],
    },
  });
}

const docs = [
  { io_id: 1, remark: "r", modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 2 }] },
  { io_id: 2, remark: "s", modified: "2024-03-01 10:00:00", items: [{ sku_id: "B", qty: 1 }] },
];

describe("unresolved template paths", () => {
  it("preview warns with the flow path and the nearest existing path (typo in a line field)", () => {
    const flow = flowWith(
      [
        { field: "Qty", type: "float", value: "{{items.qtty}}" },
        { field: "Sku", type: "string", value: "{{items.sku_id}}" },
      ],
      [{ field: "Memo", type: "string", value: "{{remak}}" }],
    );
    const result = preview(flow, docs);
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => [w.flowPath, w.path, w.suggestions[0]])).toEqual([
      ["target.fields[1].value", "remak", "remark"],
      ["target.fields[2].children[0].value", "items.qtty", "items.qty"],
    ]);
    expect(result.warnings[1]!.message).toMatch(
      /target\.fields\[2\]\.children\[0\]\.value: "items\.qtty" resolves to nothing in all 2 records; did you mean items\.qtty → items\.qty/,
    );
  });

  it("a line path written at the header is reported with the line field as suggestion", () => {
    const flow = flowWith([{ field: "Sku", type: "string", value: "{sku_id}" }], [{ field: "Qty", type: "float", value: "{{items.qty}}" }]);
    const [w] = preview(flow, docs).warnings;
    expect(w!.flowPath).toBe("target.fields[1].value");
    expect(w!.suggestions[0]).toBe("items[].qty");
    expect(w!.message).toMatch(/map it inside the children mapping of items/);
  });

  it("no warning when a path resolves for at least one record", () => {
    const flow = flowWith([{ field: "Gift", type: "string", value: "{is_gift}" }]);
    expect(preview(flow, [...docs, { io_id: 3, modified: "2024-03-01 10:00:00", items: [{ is_gift: "true" }] }]).warnings).toEqual([]);
  });

  it("the document builder (dry run and run) carries the warning across batches until a record resolves it", () => {
    const builder = createDocumentBuilder(flowWith([{ field: "Qty", type: "float", value: "{{items.qtty}}" }]));
    const ctx = { lastSyncTime: 0, currentTime: Date.UTC(2024, 2, 2) };
    expect(builder.build([docs[0]!], ctx).unresolved?.[0]?.path).toBe("items.qtty");
    expect(builder.build([docs[1]!], ctx).unresolved?.[0]?.message).toMatch(/all 2 records/);
    expect(builder.build([{ io_id: 9, items: [{ qtty: 1 }] }], ctx).unresolved).toBeUndefined();
  });

  it("a required field that maps to nothing dead-letters the document with the payload path", () => {
    const flow = flowWith([{ field: "Qty", type: "float", value: "{{items.qtty}}", required: true }]);
    const result = preview(flow, docs);
    expect(result.documents).toEqual([]);
    expect(result.errors.map((e) => [e.id, e.error.code, e.error.details?.path])).toEqual([
      ["1", "mapping_required", "Entry[0].Qty"],
      ["2", "mapping_required", "Entry[0].Qty"],
    ]);
  });
});

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("unresolved paths in the run record", () => {
  it("a dry run and a run of the real engine report the path; the stored run record keeps it", async () => {
    e2e = await startE2E();
    const flow = e2e.flows["jst-other-in-to-kis"]!;
    const entry = flow.target.fields.find((f) => f.type === "array")!;
    entry.children!.push({ field: "FNote", type: "string", value: "{{items.remarkk}}" });
    const dry = await e2e.run("jst-other-in-to-kis", { dryRun: true });
    expect(dry.summary.warnings?.map((w) => w.path)).toEqual(["items.remarkk"]);
    expect(dry.summary.warnings?.[0]?.flowPath).toMatch(/^target\.fields\[\d+\]\.children\[\d+\]\.value$/);
    const real = await e2e.run("jst-other-in-to-kis");
    expect(real.summary.warnings?.[0]?.suggestions).toContain("items.remark");
    const stored = await new FlowStateStore(e2e.kv).getRun("jst-other-in-to-kis", real.summary.runId);
    expect((stored as { warnings?: { path: string }[] }).warnings?.[0]?.path).toBe("items.remarkk");
  });
});
