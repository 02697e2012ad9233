// Security review finding 15: data-keyed plain objects must keep a key named "__proto__" as an ordinary
// field (a group or column with that name was silently changed or dropped).
import { describe, expect, it } from "vitest";
import { recordWritten } from "../../shared/transform/merge-policy.ts";
import { compileFlatten } from "../../shared/transform/flatten.ts";
import { parseCsv } from "../../shared/util/csv.ts";

describe("data keys named __proto__ stay ordinary keys", () => {
  it("merge registry: a group keyed __proto__ is recorded like any other", () => {
    const next = recordWritten({}, [{ groupKey: "__proto__", members: ["b", "a"], supplement: 0 }]);
    expect(Object.keys(next)).toEqual(["__proto__"]);
    expect(Object.getOwnPropertyDescriptor(next, "__proto__")?.value).toEqual({ members: ["a", "b"], supplements: 0 });
    expect(Object.getPrototypeOf(next)).toBe(Object.prototype);
    const again = recordWritten(next, [{ groupKey: "__proto__", members: ["c"], supplement: 1 }]);
    expect(Object.getOwnPropertyDescriptor(again, "__proto__")?.value).toEqual({ members: ["a", "b", "c"], supplements: 1 });
  });

  it("CSV: a column named __proto__ keeps its values", () => {
    const rows = parseCsv("code,__proto__\nA,1\n");
    expect(Object.keys(rows[0]!)).toEqual(["code", "__proto__"]);
    expect(Object.getOwnPropertyDescriptor(rows[0]!, "__proto__")?.value).toBe(1);
  });

  it("flatten: a header field named __proto__ is copied to every line", () => {
    const doc = JSON.parse('{"__proto__": {"x": 1}, "id": 7, "items": [{"qty": 2}]}') as Record<string, unknown>;
    const rows = compileFlatten({ path: "items" })(doc);
    expect(Object.getOwnPropertyDescriptor(rows[0]!, "__proto__")?.value).toEqual({ x: 1 });
    expect(Object.getPrototypeOf(rows[0]!)).toBe(Object.prototype);
    expect(rows[0]!.items_qty).toBe(2);
  });
});
