/**
 * Adversary (issue 18 item 3, ineffective configuration is refused): `target.batchSize` is accepted by the flow
 * schema (schema.ts) and documented as "optional, for batch writes" (docs/flows.md), but nothing reads it: the
 * composition root builds the target without it (compose/connectors.ts targetClient) and the engine never calls
 * a target's writeBatch, so every document is written on its own whatever the flow says.
 * Expected: loadFlow refuses it with its JSON path and a fix. Actual (old code): the flow loads.
 */
import { describe, expect, it } from "vitest";
import { checkFlow, loadFlow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";

describe("target.batchSize", () => {
  it("is refused as having no effect, with its JSON path and how to fix it", () => {
    for (const seed of Object.values(SEED_FLOW_DOCUMENTS) as Array<{ target: Record<string, unknown> }>) {
      const json = { ...structuredClone(seed), target: { ...structuredClone(seed.target), batchSize: 10 } };
      const { problems } = checkFlow(json);
      expect(problems.map((p) => p.path)).toEqual(["target.batchSize"]);
      expect(problems[0]!.problem).toMatch(/no effect/);
      expect(problems[0]!.hint).toMatch(/remove it/);
      expect(() => loadFlow(json)).toThrow(/target\.batchSize/);
    }
  });
});
