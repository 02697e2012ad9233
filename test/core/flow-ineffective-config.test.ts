// Issue 18 item 3: configuration that has no effect, or that silently disagrees with another setting, is refused
// (Benthos-style) with the JSON path and how to fix it, instead of being accepted and ignored.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { importQeasyDetailed } from "../../shared/flow/qeasy-import.ts";
import { checkFlow, loadFlow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";

const salesOut = (): Record<string, any> => structuredClone(SEED_FLOW_DOCUMENTS["jst-sales-out-to-tplus"]) as Record<string, any>;

function problemsOf(doc: unknown) {
  return checkFlow(doc).problems;
}

describe("configuration without effect is refused", () => {
  it('source.paging.type "cursor": the engine picks rowversion/keyset/offset paging itself, so "cursor" changed nothing', () => {
    const doc = salesOut();
    doc.source.paging = { type: "cursor", pageSize: 50 };
    const problems = problemsOf(doc);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "source.paging.type" });
    expect(problems[0]!.problem).toMatch(/has no effect/);
    expect(problems[0]!.hint).toMatch(/"window"/);
    expect(() => loadFlow(doc)).toThrow(ConfigError);
  });

  it("source.timeField that disagrees with params.date_type: Jushuitan filters by one field, the windows by the other", () => {
    const doc = salesOut();
    doc.source.timeField = "io_date"; // date_type stays 0 (modified)
    const problems = problemsOf(doc);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "source.timeField" });
    expect(problems[0]!.problem).toContain("date_type");
    expect(problems[0]!.hint).toMatch(/date_type.*2/);
  });

  it("source.timeField io_date without any date_type (Jushuitan then filters by modified) is refused too", () => {
    const doc = salesOut();
    delete doc.source.params.date_type;
    doc.source.timeField = "io_date";
    expect(problemsOf(doc).map((p) => p.path)).toEqual(["source.timeField"]);
  });

  it("consistent settings still load: the seeds, and timeField io_date with date_type 2", () => {
    for (const doc of Object.values(SEED_FLOW_DOCUMENTS)) expect(problemsOf(doc)).toEqual([]);
    const doc = salesOut();
    doc.source.params.date_type = 2;
    doc.source.timeField = "io_date";
    expect(problemsOf(doc)).toEqual([]);
  });

  it("a QEasy scheme with a start_ts request field imports into a loadable flow (window paging, a note says why)", () => {
    const scheme = JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/qeasy/seed-003-sales-out-to-tplus.json"), "utf8"));
    scheme.source.request.push({ field: "start_ts", type: "string", value: "0" });
    const { flow, notes } = importQeasyDetailed(scheme);
    expect(flow.source.paging.type).toBe("window");
    expect(notes.join("\n")).toMatch(/start_ts.*rowversion/);
  });

  it("request params the reader sets per window and page are refused with the path and what to do instead", () => {
    const doc = salesOut();
    Object.assign(doc.source.params, {
      page_size: 30,
      page_index: 1,
      start_ts: 0,
      ts: 0,
      modified_begin: "{{DAYS_AGO_3|datetime}}",
      modified_end: "2026-01-01",
    });
    const byPath = Object.fromEntries(problemsOf(doc).map((p) => [p.path, p]));
    expect(Object.keys(byPath).sort()).toEqual(
      ["modified_begin", "modified_end", "page_index", "page_size", "start_ts", "ts"].map((name) => `source.params.${name}`),
    );
    expect(byPath["source.params.page_size"]!.problem).toMatch(/has no effect: the reader sets page_size itself/);
    expect(byPath["source.params.page_size"]!.hint).toMatch(/source\.paging\.pageSize/);
    expect(byPath["source.params.modified_begin"]!.hint).toMatch(/incremental\.startAt or a range backfill/);
    expect(() => loadFlow(doc)).toThrow(/source\.params\.page_size/);
  });

  it("the window bounds written as their own placeholders (QEasy's form) still load", () => {
    const doc = salesOut();
    for (const [begin, end] of [
      ["{{LAST_SYNC_TIME|datetime}}", "{{CURRENT_TIME|datetime}}"],
      ["{{ LAST_SYNC_TIME }}", "{{CURRENT_TIME}}"],
    ]) {
      Object.assign(doc.source.params, { modified_begin: begin, modified_end: end });
      expect(problemsOf(doc)).toEqual([]);
    }
    Object.assign(doc.source.params, { modified_begin: "{{CURRENT_TIME|datetime}}" }); // the other bound: not what the window sends
    expect(problemsOf(doc).map((p) => p.path)).toEqual(["source.params.modified_begin"]);
  });

  it("a QEasy scheme with paging fields or a literal modified_begin imports into a loadable flow (dropped with a note)", () => {
    const scheme = JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/qeasy/seed-000-other-in-to-kis.json"), "utf8"));
    const begin = scheme.source.request.find((r: { field: string }) => r.field === "modified_begin");
    begin.value = "2024-01-01 00:00:00";
    const { flow, notes } = importQeasyDetailed(scheme);
    expect(flow.source.params).not.toHaveProperty("modified_begin");
    expect(flow.source.params).not.toHaveProperty("page_size");
    expect(flow.source.paging.pageSize).toBe(30);
    expect(notes.join("\n")).toMatch(/modified_begin: "2024-01-01 00:00:00" dropped/);
  });
});
