import { describe, expect, it } from "vitest";
import { compileValue, LookupMissError, TemplateEvalError, type TemplateVars } from "../../shared/template/index.ts";
import { runFuzz } from "../helpers/template-fuzz.ts";

// The interpreter must behave identically inside workerd: zone data from the runtime's Intl, no eval,
// no Node APIs.
const vars: TemplateVars = { lastSyncTime: Date.UTC(2024, 0, 1), currentTime: Date.UTC(2024, 0, 2, 4, 5, 6), pageIndex: 1, pageSize: 30 };
const doc = { io_id: 1001, so_id: "SO-7", io_date: "2023-01-03 09:43:26", items: [{ sku_id: "SKU-A", qty: 2, sale_price: 19.9 }] };
const lookups = { get: (name: string) => (name === "materials" ? [{ content: { F_103: "SKU-A", FItemID: 1001 } }] : undefined) };

describe("template language inside workerd", () => {
  it("evaluates the seed fragments", () => {
    const scope = { record: doc, vars };
    expect(compileValue("{io_id}").evaluate(scope)).toBe(1001);
    expect(compileValue("_function REPLACE ('{{io_date|datetime}}',' ','T')").evaluate(scope)).toBe("2023-01-03T09:43:26");
    expect(compileValue("{{LAST_SYNC_TIME|datetime}}").evaluate(scope)).toBe("2024-01-01 08:00:00");
    expect(compileValue("{PAGINATION_START_PAGE}").evaluate(scope)).toBe(1);
    const line = compileValue('_mongoQuery findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}');
    expect(line.evaluate({ record: doc.items[0]!, parent: doc, vars, lookups, defaultLookupTable: "materials" })).toBe(1001);
    expect(() => line.evaluate({ record: { sku_id: "NOPE" }, vars, lookups, defaultLookupTable: "materials" })).toThrow(LookupMissError);
  });

  it("dates, money and errors match the Node results", () => {
    const scope = { record: doc, vars: { ...vars, timezone: "America/New_York" } };
    expect(compileValue("_function DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i')").evaluate(scope)).toBe("2024-01-01 23:05");
    expect(compileValue("_function ROUND(SUM(items, qty * sale_price) * 1.13, 2)").evaluate(scope)).toBe(44.97);
    expect(() => compileValue("_function io_date + 1").evaluate(scope)).toThrow(TemplateEvalError);
  });

  it("survives a fuzz run", () => {
    const report = runFuzz(500, 4242);
    expect(report.failures).toEqual([]);
    expect(report.prototypesIntact).toBe(true);
    expect(report.validCompiled).toBe(report.validGenerated);
  });
});
