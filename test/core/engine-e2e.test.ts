import { afterEach, describe, expect, it } from "vitest";
import { startOfDayInZone } from "../../shared/util/time.ts";
import { actualTargets, E2E_START, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

function expectTargetsMatch(current: E2E) {
  const expected = expectedTargets(current, { kis: E2E_START - 5 * 60_000, tplusDayEnd: startOfDayInZone(E2E_START) });
  const actual = actualTargets(current);
  expect(expected.kis.size).toBeGreaterThan(10);
  expect(expected.tplus.size).toBeGreaterThan(5);
  expect(Object.fromEntries(actual.kis)).toEqual(Object.fromEntries(expected.kis));
  expect(Object.fromEntries(actual.tplus)).toEqual(Object.fromEntries(expected.tplus));
  // One stored document per key: nothing doubled.
  expect(actual.kisCount).toBe(expected.kis.size);
  return { expected, actual };
}

describe("engine end to end (Node, emulators over HTTP)", () => {
  it("syncs both seed flows exactly, and a second run writes nothing", async () => {
    e2e = await startE2E();
    const kis = await e2e.runToCompletion(KIS);
    const tplus = await e2e.runToCompletion(TPLUS);
    expect(kis.at(-1)!.outcome).toBe("success");
    expect(tplus.at(-1)!.outcome).toBe("success");
    const { expected } = expectTargetsMatch(e2e);
    expect(kis.reduce((n, s) => n + s.counts.written, 0)).toBe(expected.kis.size);
    expect(tplus.reduce((n, s) => n + s.counts.written, 0)).toBe(expected.tplus.size);

    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS);
    expect(again.summary.counts.written).toBe(0);
    expectTargetsMatch(e2e);
  });
});
