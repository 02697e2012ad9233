/** One parser for the keys that belong to another document (engine/key-scheme.ts), as the builders make them. */
import { describe, expect, it } from "vitest";
import { baseKeyOf, isCorrectionKey, parseRelatedKey, relatedKeys } from "../../shared/engine/key-scheme.ts";

describe("relatedKeys / parseRelatedKey / baseKeyOf", () => {
  it("parses what the builders make, back to the base key", () => {
    const cases = [
      [relatedKeys.supplement("2024-06-19|10817|", 2), "supplement", 2],
      [relatedKeys.red("2100010", 1), "red", 1],
      [relatedKeys.blue("2100010", 3), "blue", 3],
      [relatedKeys.correction("S2-2024-06-19-10817", 12), "correction", 12],
      [relatedKeys.correctionBlue(relatedKeys.correction("S2-2024-06-19-10817", 4)), "correction-blue", 4],
    ] as const;
    for (const [key, kind, n] of cases) {
      const parsed = parseRelatedKey(key);
      expect(parsed, key).toMatchObject({ kind, n });
      expect(baseKeyOf(key)).toBe(parsed!.base);
      expect(isCorrectionKey(key)).toBe(kind !== "supplement");
    }
    expect(baseKeyOf(relatedKeys.correctionBlue(relatedKeys.correction("G", 4)))).toBe("G");
  });

  it("an original key is its own base (also one with dashes and digits)", () => {
    for (const key of ["2100010", "S2-2024-06-19-10817", "A-R", "A-Rx1", "-R1"]) {
      expect(parseRelatedKey(key), key).toBeUndefined();
      expect(baseKeyOf(key)).toBe(key);
      expect(isCorrectionKey(key)).toBe(false);
    }
  });
});
