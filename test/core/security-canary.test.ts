/**
 * Issue 15 / security review #1, #6, #7: an upstream that echoes every credential leaks nothing into logs,
 * run records, dead letters, other stored state or the alert body, for every connector (the matrix is in
 * test/helpers/canary-matrix.ts; `npm run security` prints it).
 */
import { describe, expect, it } from "vitest";
import { CANARY_SCENARIOS, runCanaryScenario } from "../helpers/canary-matrix.ts";

describe("canary matrix: echoed secrets × outputs", () => {
  for (const scenario of CANARY_SCENARIOS) {
    it(scenario.name, async () => {
      const result = await runCanaryScenario(scenario);
      // The echo really happened and reached the outputs (else the test proves nothing).
      expect(result.echoed, "the upstream echoed nothing").toBeGreaterThan(0);
      expect(result.checked["run records"]).toBeGreaterThan(0);
      expect(result.checked["alert body"], "no alert was sent").toBeGreaterThan(0);
      expect(result.leaks.map((l) => `${l.output}: ${l.secret.slice(0, 6)}…`)).toEqual([]);
    }, 30_000);
  }
});
