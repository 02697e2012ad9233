/**
 * Issue 11 item 2: a merged flow's day holding more documents than the request cap reads. It used to be the
 * smallest window a merged flow could have, so such a day failed every run ("cannot be split"). Now the window is
 * halved below a day and the day's groups are built once every part of it is read: one voucher per group.
 * Real client, emulators over HTTP, real engine and state.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { parseInZone, startOfDayInZone } from "../../shared/util/time.ts";

vi.setConfig({ testTimeout: 120_000 });

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Every group is one voucher (no supplement, no part split by a halved window) and holds what the source says. */
function expectOneVoucherPerGroup(env: E2E, expected: Map<string, unknown>) {
  const actual = actualTargets(env);
  expect(expected.size).toBeGreaterThan(1);
  expect(Object.fromEntries(actual.tplus)).toEqual(Object.fromEntries(expected));
  expect(actual.tplusCount).toBe(expected.size);
}

describe("a merged day larger than the request cap", () => {
  // JST_MAX_PAGES_PER_WINDOW=2 with pages of 50: a window may hold about 98 rows; a day here holds several hundred.
  const options = { otherInOut: 0, salesOut: 2400, days: 3, env: { JST_MAX_PAGES_PER_WINDOW: "2" } };

  it("incremental runs (windows on modified) halve below a day and write each day as one voucher per warehouse", async () => {
    e2e = await startE2E(options);
    const runs = await e2e.runToCompletion(TPLUS);
    const last = runs.at(-1)!;
    expect(last.outcome, JSON.stringify(last.error)).toBe("success");
    const windows = runs.flatMap((r) => r.windows);
    expect(windows.some((w) => w.to - w.from < 12 * 3_600_000)).toBe(true);
    expect(windows.every((w) => w.rows <= 2 * 50)).toBe(true);
    const today = startOfDayInZone(e2e.clock.now());
    expectOneVoucherPerGroup(e2e, expectedTargets(e2e, { kis: 0, tplusDayEnd: today, tplusModifiedBefore: today }).tplus);
  });

  it("a range backfill (windows on io_date) halves a day and still writes whole days, one voucher per group", async () => {
    e2e = await startE2E(options);
    const from = parseInZone("2024-06-18 00:00:00")!;
    const to = parseInZone("2024-06-20 00:00:00")!;
    const runs = await e2e.runToCompletion(TPLUS, { range: { from, to } });
    const last = runs.at(-1)!;
    expect(last.outcome, JSON.stringify(last.error)).toBe("success");
    expect(runs.flatMap((r) => r.windows).some((w) => w.to - w.from < 12 * 3_600_000)).toBe(true);
    expectOneVoucherPerGroup(e2e, expectedTargets(e2e, { kis: 0, tplusDayEnd: to }, from).tplus);
  });
});
