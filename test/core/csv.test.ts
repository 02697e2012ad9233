import { describe, expect, it } from "vitest";
import { parseCsv } from "../../shared/util/csv.ts";

describe("parseCsv", () => {
  it("reads a header line, quoted fields, numbers and CRLF", () => {
    const rows = parseCsv('\uFEFFwms_co_id,name,tplus_code\r\n10817,"杭州主仓, A区",01\r\n10818,"say ""hi""\nthere",02\r\n');
    expect(rows).toEqual([
      { wms_co_id: 10817, name: "杭州主仓, A区", tplus_code: "01" },
      { wms_co_id: 10818, name: 'say "hi"\nthere', tplus_code: "02" },
    ]);
  });
  it("explains bad input", () => {
    expect(() => parseCsv("")).toThrow(/no header/);
    expect(() => parseCsv('a,b\n"x,1')).toThrow(/unterminated/);
    expect(() => parseCsv("a,b\n1,2,3")).toThrow(/row 2 has 3 fields/);
  });
});
