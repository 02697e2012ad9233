// The one numeric env parser (shared/compose/env.ts numberFromEnv): plain decimal text only, a message that names the
// variable, the bounds, an example and the value given.
import { describe, expect, it } from "vitest";
import { ledgerOptions, maxPagesPerWindow, numberFromEnv, requestTimeoutMs } from "../../shared/compose/env.ts";

describe("numberFromEnv", () => {
  it("takes plain decimal text (a decimal point where the setting is not whole)", () => {
    expect(requestTimeoutMs({ REQUEST_TIMEOUT_MS: "30000" })).toBe(30_000);
    expect(requestTimeoutMs({ REQUEST_TIMEOUT_MS: "1500.5" })).toBe(1500.5);
    expect(maxPagesPerWindow({ JST_MAX_PAGES_PER_WINDOW: "2000" })).toBe(2000);
    expect(ledgerOptions({ LEDGER_RETENTION_DAYS: "35" })).toEqual({ ledger: { retentionMs: 35 * 86_400_000 } });
    expect(requestTimeoutMs({})).toBeUndefined();
    expect(requestTimeoutMs({ REQUEST_TIMEOUT_MS: "" })).toBeUndefined();
  });

  it.each(["0x7530", "0b101", "0o43", "3e5", "1e3", " 300", "300 ", "+300", "Infinity", "300ms", "1_000", ".5", "5."])(
    "refuses %j with the name and an example",
    (raw) => {
      expect(() => requestTimeoutMs({ REQUEST_TIMEOUT_MS: raw })).toThrow(
        `REQUEST_TIMEOUT_MS must be a number of milliseconds between 50 and 600000, in plain decimal digits such as REQUEST_TIMEOUT_MS=30000 (got "${raw}")`,
      );
    },
  );

  it("a whole setting refuses a decimal point; a sign only where the bounds go below zero", () => {
    expect(() => maxPagesPerWindow({ JST_MAX_PAGES_PER_WINDOW: "20.0" })).toThrow(/JST_MAX_PAGES_PER_WINDOW=2000/);
    expect(() => numberFromEnv({ X: "-3" }, "X", { min: 0, max: 9, hint: "" })).toThrow(/X must be a number between 0 and 9/);
    expect(numberFromEnv({ X: "-3" }, "X", { min: -9, max: 9, whole: true, hint: "" })).toBe(-3);
    expect(() => numberFromEnv({ X: "-3.5" }, "X", { min: -9, max: 9, whole: true, hint: "" })).toThrow(/whole number/);
  });
});

describe("JST_RATE_PER_SECOND / JST_RATE_PER_MINUTE go through the same parser", () => {
  it("plain whole numbers only", async () => {
    const { jstRateFromEnv } = await import("../../shared/http/rate-budget.ts");
    expect(jstRateFromEnv({})).toEqual({ perSecond: 5, perMinute: 100 });
    expect(jstRateFromEnv({ JST_RATE_PER_SECOND: "10", JST_RATE_PER_MINUTE: "300" })).toEqual({ perSecond: 10, perMinute: 300 });
    expect(() => jstRateFromEnv({ JST_RATE_PER_SECOND: "0x10" })).toThrow(
      /JST_RATE_PER_SECOND must be a positive whole number of requests.*JST_RATE_PER_SECOND=5/,
    );
    expect(() => jstRateFromEnv({ JST_RATE_PER_MINUTE: "1e3" })).toThrow(/JST_RATE_PER_MINUTE/);
    expect(() => jstRateFromEnv({ JST_RATE_PER_MINUTE: "0" })).toThrow(/JST_RATE_PER_MINUTE/);
  });
});
