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
});
