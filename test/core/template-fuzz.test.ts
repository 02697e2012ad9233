import { describe, expect, it } from "vitest";
import { ADVERSARIAL, runFuzz } from "../helpers/template-fuzz.ts";

// A correctness test over thousands of cases: it must never fail on time (the machine may be loaded).
const FUZZ_TIMEOUT_MS = 120_000;

describe("template fuzzing", () => {
  it(
    "thousands of random and adversarial values only return values or template errors",
    () => {
      const report = runFuzz(4000, 20240601);
      expect(report.failures).toEqual([]);
      expect(report.prototypesIntact).toBe(true);
      // Every printed valid AST parses: the printer and the parser agree on the grammar.
      expect(report.validGenerated).toBeGreaterThan(1000);
      expect(report.validCompiled).toBe(report.validGenerated);
      // The generator reaches every outcome.
      expect(report.syntaxErrors).toBeGreaterThan(100);
      expect(report.evalErrors).toBeGreaterThan(100);
      expect(report.values).toBeGreaterThan(500);
      expect(report.lookupMisses).toBeGreaterThanOrEqual(0);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "a second seed explores other cases",
    () => {
      const report = runFuzz(1500, 7);
      expect(report.failures).toEqual([]);
      expect(report.prototypesIntact).toBe(true);
      expect(report.validCompiled).toBe(report.validGenerated);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "every adversarial value is covered with a large enough run",
    () => {
      // 10% of cases draw from ADVERSARIAL; make sure the list itself is exercised directly too.
      expect(ADVERSARIAL.length).toBeGreaterThan(40);
      const report = runFuzz(300, 99);
      expect(report.failures).toEqual([]);
    },
    FUZZ_TIMEOUT_MS,
  );
});
