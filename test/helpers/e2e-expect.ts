/** Assertions over the end-to-end harness (kept apart from e2e.ts so benchmarks can use the harness without vitest). */
import { expect } from "vitest";
import { startOfDayInZone } from "../../shared/util/time.ts";
import { actualTargets, E2E_START, expectedTargets, type E2E } from "./e2e.ts";

/**
 * The target emulators hold exactly what the source says up to E2E_START (KIS: modified before now − 5 min lag;
 * T+: days closed before today), with one stored document per key: nothing lost, nothing doubled.
 */
export function expectTargetsExact(current: E2E) {
  // T+ reads by `modified` up to the start of today: a closed day's documents saved today are a later supplement.
  const expected = expectedTargets(current, {
    kis: E2E_START - 5 * 60_000,
    tplusDayEnd: startOfDayInZone(E2E_START),
    tplusModifiedBefore: startOfDayInZone(E2E_START),
  });
  const actual = actualTargets(current);
  expect(expected.kis.size).toBeGreaterThan(10);
  expect(expected.tplus.size).toBeGreaterThan(5);
  expect(Object.fromEntries(actual.kis)).toEqual(Object.fromEntries(expected.kis));
  expect(Object.fromEntries(actual.tplus)).toEqual(Object.fromEntries(expected.tplus));
  expect(actual.kisCount).toBe(expected.kis.size);
  expect(actual.tplusCount).toBe(expected.tplus.size);
  return { expected, actual };
}
