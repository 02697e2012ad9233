/** Issue 14 item 5: the rest of the template language as QEasy writes it. */
import { describe, expect, it } from "vitest";
import { lookupTables } from "../../shared/flow/preview.ts";
import { importQeasyPart } from "../../shared/flow/qeasy-parts.ts";
import { compileValue } from "../../shared/template/index.ts";
import { compileFormatRules, parseFormat } from "../../shared/transform/format-response.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1, 2, 0, 0), currentTime: Date.UTC(2024, 2, 2, 2, 0, 0) };
const TZ = "Asia/Shanghai";
const QEASY_ROWS = lookupTables({
  "b1335076-c5a0-3f4e-9b7e-0e4c1c2d0001": [
    { content: { FItemID: 1001, FUnitID: 11, F_103: "TX100-11" } },
    { content: { FItemID: 1002, FUnitID: 12, F_103: "TX100-12" } },
  ],
});

describe("QEasy language forms", () => {
  it("_mongoQuery <collection-id> findField=… where=… (positional collection), rows stored under content", () => {
    const v = compileValue('_mongoQuery b1335076-c5a0-3f4e-9b7e-0e4c1c2d0001 findField=content.FUnitID where={"content.F_103":{"$eq":"{sku_id}"}}');
    expect(v.tables).toEqual(["b1335076-c5a0-3f4e-9b7e-0e4c1c2d0001"]);
    expect(v.evaluate({ record: { sku_id: "TX100-12" }, vars, lookups: QEASY_ROWS })).toBe(12);
  });

  it("where-keys and findField without content. read {content:{…}} rows", () => {
    const v = compileValue('_mongoQuery b1335076-c5a0-3f4e-9b7e-0e4c1c2d0001 findField=FItemID where={"F_103":"{sku_id}"}');
    expect(v.evaluate({ record: { sku_id: "TX100-11" }, vars, lookups: QEASY_ROWS })).toBe(1001);
  });

  it("|dateTime in any case is the datetime filter", () => {
    for (const f of ["dateTime", "DATETIME", "DateTime"]) {
      expect(compileValue(`{{io_date|${f}}}`).evaluate({ record: { io_date: "2024-03-01T10:11:12" }, vars })).toBe("2024-03-01 10:11:12");
    }
    expect(compileValue("{{LAST_SYNC_TIME|Date}}").evaluate({ record: {}, vars })).toBe("2024-03-01");
    expect(compileValue("{{CURRENT_TIME|TIMESTAMP_MS}}").evaluate({ record: {}, vars })).toBe(vars.currentTime);
  });

  it("{{PAGINATION_START_ROW}} is (page − 1) × size", () => {
    const v = compileValue("{{PAGINATION_START_ROW}}");
    expect(v.evaluate({ record: {}, vars: { ...vars, pageIndex: 1, pageSize: 50 } })).toBe(0);
    expect(v.evaluate({ record: {}, vars: { ...vars, pageIndex: 3, pageSize: 50 } })).toBe(100);
  });

  it('formatResponse round(2) gives QEasy\'s text "20.00"; dateDescription the relative text', () => {
    expect(parseFormat("round(2)")("19.9956", TZ)).toBe("20.00");
    expect(parseFormat("round")(1.005, TZ)).toBe("1.01");
    const now = Date.UTC(2024, 2, 2, 2, 0, 0); // 2024-03-02 10:00 Shanghai
    const rules = compileFormatRules([{ old: "created", new: "created_desc", format: "dateDescription" }], TZ, { now: () => now });
    expect(rules({ created: "2024-03-01 10:00:00" }).created_desc).toBe("一天前");
    expect(rules({ created: "2024-03-02 09:59:30" }).created_desc).toBe("刚刚");
    expect(rules({ created: "2024-02-20 10:00:00" }).created_desc).toBe("一周前");
    expect(rules({ created: "2024-03-02 07:00:00" }).created_desc).toBe("3小时前");
  });

  it("request parser ArrayToString beside StringToArray", () => {
    const r = importQeasyPart({
      api: "/open/orders/out/simple/query",
      type: "QUERY",
      request: [
        { field: "shop_ids", type: "string", value: ["1", "2"], parser: { name: "ArrayToString", params: "," } },
        { field: "so_ids", type: "string", value: "A,B", parser: { name: "StringToArray", params: "," } },
      ],
    });
    expect((r.result as any).source.params).toMatchObject({ shop_ids: "1,2", so_ids: ["A", "B"] });
  });

  it("a malformed expression is refused with its column (QEasy would return the text unchanged)", () => {
    expect(() => compileValue("_function ROUND({{qty}} * , 2)", { path: "target.fields[0].value" })).toThrow(/column 27\): unexpected ","/);
    expect(() => compileValue("{{items.qty", { path: "p" })).toThrow(/column 1\b/);
  });
});
