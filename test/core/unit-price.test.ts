/** UNIT_PRICE (shared/template/unit-price.ts): Price × Qty rounds to Amount whatever the quantity (adv12 finding 6). */
import { describe, expect, it } from "vitest";
import { compileExpression, TemplateEvalError } from "../../shared/template/index.ts";

const ev = (expr: string, record: Record<string, unknown>) => compileExpression(expr).evaluate({ record, vars: { lastSyncTime: 0, currentTime: 0 } });

describe("UNIT_PRICE", () => {
  it("carries enough decimals for the product to round to the amount", () => {
    expect(ev("UNIT_PRICE({a}, {q})", { a: 10000, q: 30000 })).toBe(0.33333333);
    for (const [a, q] of [
      [10000, 30000],
      [1, 3],
      [999999.99, 7777777],
      [0.01, 999],
      [123.45, -7],
      [5000, 100000],
    ] as const) {
      const p = ev("UNIT_PRICE({a}, {q})", { a, q }) as number;
      expect(Math.round(p * q * 100)).toBe(Math.round(a * 100));
    }
    expect(ev("UNIT_PRICE({a}, {q})", { a: 19.9, q: 3 })).toBe(6.633333);
  });
  it("is NULL where the precision it needs passes the cap (the field is left out), 0 for nothing at all", () => {
    expect(ev("UNIT_PRICE({a}, {q}, 2, 6)", { a: 10000, q: 30000 })).toBeNull();
    expect(ev("UNIT_PRICE({a}, {q})", { a: 1, q: 3e8 })).toBeNull();
    expect(ev("UNIT_PRICE({a}, {q})", { a: 0, q: 0 })).toBe(0);
  });
  it("quantity 0 with an amount is an evaluation error, not Price 0", () => {
    expect(() => ev("UNIT_PRICE({a}, {q})", { a: 12.5, q: 0 })).toThrow(TemplateEvalError);
    expect(() => ev("UNIT_PRICE({a}, {q})", { a: 12.5, q: 0 })).toThrow(/quantity 0/);
  });
});
