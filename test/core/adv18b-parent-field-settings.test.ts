/**
 * Adversary (issue 18 item 3, ineffective configuration is refused): on a mapping field of type "object" or "array"
 * WITH children, the mapping (transform/map.ts mapNodes) builds the value from the children and never reads the
 * field's own `default` or `format`: a missing line array still maps to [] and no format runs. semantic.ts refuses
 * `value` on such an object ("value is not used") but accepted `default` and `format` there without a word.
 * Expected: each refused at its JSON path. Actual (old code): the flow loads.
 */
import { describe, expect, it } from "vitest";
import { checkFlow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";

type Doc = { target: { fields: Array<Record<string, unknown>> } };

function problemPaths(mutate: (flow: Doc) => void): string[] {
  const flow = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as Doc;
  mutate(flow);
  return checkFlow(flow).problems.map((p) => p.path);
}

describe("default and format on a field built from its children", () => {
  it("are refused on an object and on an array with children", () => {
    // The KIS seed: fields[0] is Head (object with children), fields[1] is Entry (array of items with children).
    expect(problemPaths(() => {})).toEqual([]);
    expect(problemPaths((f) => void (f.target.fields[0]!.default = { FNote: "-" }))).toEqual(["target.fields[0].default"]);
    expect(problemPaths((f) => void (f.target.fields[0]!.format = "date"))).toEqual(["target.fields[0].format"]);
    expect(problemPaths((f) => void (f.target.fields[1]!.default = []))).toEqual(["target.fields[1].default"]);
    expect(problemPaths((f) => void (f.target.fields[1]!.format = "round(2)"))).toEqual(["target.fields[1].format"]);
  });
});
