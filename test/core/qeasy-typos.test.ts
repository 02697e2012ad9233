/**
 * Issue 14 "never drops a field silently", finding 14 of the adversarial review: a misspelt lookup where-key must not
 * fall back to the default silently, and a near miss of a known /open/… endpoint is named at import.
 * Also guards the numeric-text comparison (adv14 F13) against equating two different long ids.
 */
import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { importQeasyDetailed } from "../../shared/flow/qeasy-import.ts";
import { loadFlow } from "../../shared/flow/schema.ts";
import { compileValue, TemplateEvalError } from "../../shared/template/index.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };

const flow = (value: string) =>
  loadFlow({
    id: "t-typos",
    name: "t",
    version: 1,
    source: { type: "jushuitan", endpoint: "/open/other/inout/query", params: {} },
    incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
    references: [{ name: "materials", keyField: "F_103" }],
    target: {
      type: "kis",
      operation: "APP006992/api/OtherInStock/Save",
      externalKey: "{io_id}",
      defaultLookupTable: "materials",
      fields: [
        { field: "FBillNo", type: "string", value: "{io_id}" },
        { field: "Entry", type: "array", value: "items", children: [{ field: "FItemID", type: "int", value, default: 0 }] },
      ],
    },
  });
const docs = [{ io_id: 1, modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 2 }] }];

describe("issue 14: misspelt lookup keys", () => {
  it("a where key no row of the table has is a per-document error, not the default", () => {
    const r = preview(flow('_mongoQuery findField=content.FItemID where={"content.F_1033":{"$eq":"{{items.sku_id}}"}}'), docs, {
      vars,
      tables: { materials: [{ content: { F_103: "A", FItemID: 1001 } }] },
    });
    expect(r.documents).toEqual([]);
    expect(r.errors.map((e) => e.error.message).join("\n")).toMatch(/no row of lookup table "materials" has the field content\.F_1033/);
  });

  it("a real miss (the key exists, the value does not) still takes the default; an empty table is a miss too", () => {
    const value = '_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{{items.sku_id}}"}}';
    const miss = preview(flow(value), docs, { vars, tables: { materials: [{ content: { F_103: "Z", FItemID: 1001 } }] } });
    expect(miss.documents[0]!.payload.Entry).toEqual([{ FItemID: 0 }]);
    const empty = preview(flow(value), docs, { vars, tables: { materials: [] } });
    expect(empty.documents[0]!.payload.Entry).toEqual([{ FItemID: 0 }]);
  });
});

describe("issue 14: endpoint typos", () => {
  it("a near miss of a known /open/… path is kept but named in the import notes", () => {
    const { flow: f, notes } = importQeasyDetailed({
      source: { api: "/open/other/inout/qeury" },
      target: { api: "/tplus/api/v2/otherDispatch/Create", request: [{ field: "ExternalCode", value: "{io_id}" }] },
    });
    expect(f.source.endpoint).toBe("/open/other/inout/qeury");
    expect(notes.join("\n")).toMatch(/did you mean \/open\/other\/inout\/query/);
  });
});

describe("issue 14: numeric text compared as numbers only where that is exact", () => {
  const eq = compileValue("_function IF({{a}} = {{b}}, 'same', 'different')");
  const at = (a: unknown, b: unknown) => eq.evaluate({ record: { a, b }, vars });
  it("9.00 = 9.0 (round(2) text), but two long ids differing in the last digit stay different", () => {
    expect(at("9.00", "9.0")).toBe("same");
    expect(at("12345678901234567890", "12345678901234567891")).toBe("different");
    expect(at("007", "7")).toBe("same"); // QEasy pastes 007 into the SQL unquoted: the number 7
    expect(compileValue("_function IF('9.00' < '10.00', 'lt', 'ge')").evaluate({ record: {}, vars })).toBe("ge"); // quoted text stays text
  });
  it("errors stay template errors", () => {
    expect(() => compileValue("_function {{a}} + 1").evaluate({ record: { a: "x" }, vars })).toThrow(TemplateEvalError);
  });
});
