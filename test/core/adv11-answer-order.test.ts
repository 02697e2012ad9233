/**
 * Adversarial review of issue 11: Jushuitan's answer order is undocumented. When answers are not ordered by
 * `modified` (here: newest id first), keyset is refused and the scan falls back to offset paging for the whole run —
 * the failure of engine-review finding 1 (an edit on an already-read page shifts a row past the reader).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 120_000 });

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv11: answers ordered newest id first, not by modified", () => {
  it("rows already served are re-saved mid-scan: nothing is skipped", async () => {
    e2e = await startE2E({ otherInOut: 3000, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0" }, jushuitan: { answerOrder: "id-desc" } });
    e2e.stack.jushuitan.addFaults({ kind: "editServed", path: "/open/other/inout/query", skip: 1, times: 30, count: 1 });
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("success");
    e2e.stack.jushuitan.clearFaults();
    e2e.clock.advance(3_600_000);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const expected = expectedTargets(e2e, { kis: e2e.clock.now() - 5 * 60_000, tplusDayEnd: 0 }).kis;
    const actual = actualTargets(e2e).kis;
    expect(expected.size).toBeGreaterThan(10);
    expect([...expected.keys()].filter((k) => !actual.has(k))).toEqual([]);
  });
});
