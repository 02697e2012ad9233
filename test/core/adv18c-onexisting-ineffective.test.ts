/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): `target.onExisting: "error"` next to a
 * `target.onChange` was accepted and never read. runner.ts turns onExisting into deps.onChanged, which only
 * document-writer.ts changedAfterWrite reads; with onChange set, a not merged document goes to the change writer
 * (settleDocument → changeWriter.reviewDocument) and a merged one through the outbox (a changed written part is a
 * dead letter from lostPlan), so changedAfterWrite is not reached outside a dry run, where it plans "changed" either
 * way. A flow saying `"onExisting": "error", "onChange": "ignore"` thus has every changed document ignored with a
 * warning, not dead-lettered as it reads. Expected: the flow is refused at target.onExisting with a fix.
 * Actual (old code): accepted. (The default "skip", which the seed flows also spell out, cannot be told from an
 * unset value after parsing and is left alone.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFlow } from "../../shared/flow/schema.ts";

const seed = (id: string) => JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "shared", "flows", `${id}.json`), "utf8"));

describe('target.onExisting "error" with target.onChange', () => {
  for (const id of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
    it(`${id}: refused at target.onExisting, naming onChange and the fix`, () => {
      const flow = seed(id);
      flow.target.onExisting = "error";
      flow.target.onChange = "ignore";
      const { problems } = checkFlow(flow);
      const p = problems.find((x) => x.path === "target.onExisting");
      expect(p?.problem).toContain("no effect");
      expect(p?.problem).toContain("onChange");
      expect(p?.hint).toContain('"deadLetter"');
    });
  }

  it("onExisting error without onChange, and the seeds as they are, are accepted", () => {
    const flow = seed("jst-other-in-to-kis");
    delete flow.target.onChange;
    flow.target.onExisting = "error";
    expect(checkFlow(flow).problems).toEqual([]);
    expect(checkFlow(seed("jst-other-in-to-kis")).problems).toEqual([]);
    expect(checkFlow(seed("jst-sales-out-to-tplus")).problems).toEqual([]);
  });
});
