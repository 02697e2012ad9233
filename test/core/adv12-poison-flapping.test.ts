/**
 * Adversarial review of issue 12 (poison documents): a target that goes down in the middle of a run is an outage,
 * not N poison documents. Real engine, real KIS client, KIS emulator over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedKis } from "../helpers/targets.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv12: poison counting during a real outage", () => {
  it("a KIS outage that starts after the first write of each run dead-letters no good bill", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 150 });
    const store = new FlowStateStore(e2e.kv);
    // Three runs; in each the target takes one bill and then answers 500 to every create (it went down mid-run).
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(30 * 60_000);
      e2e.stack.kis.clearFaults();
      e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", skip: 1, times: 100_000 }]);
      await e2e.run(KIS);
    }
    // Nothing is wrong with any bill: none may be dead-lettered for an outage.
    const letters = await store.listDeadLetters(KIS);
    expect(letters.map((l) => l.externalKey)).toEqual([]);
    // Once the target is back every bill is written (dead letters would need a manual replay each).
    e2e.stack.kis.clearFaults();
    e2e.clock.advance(30 * 60_000);
    await e2e.runToCompletion(KIS);
    const docs = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut);
    expect(e2e.stack.kis.bills().length).toBe(expectedKis(docs, 0, e2e.clock.now() - 5 * 60_000).size);
  }, 120_000);
});
