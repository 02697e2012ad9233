import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import type { Clock } from "../../shared/ports.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

const TPLUS = "jst-sales-out-to-tplus";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A process of its own: nothing in memory survives from the previous one (its clock object included). */
function processClock(h: CliHarness): Clock {
  return { now: () => h.e2e.clock.now(), sleep: (ms, signal) => h.e2e.clock.sleep(ms, signal) };
}

describe("back-to-back CLI processes share the app's minute", () => {
  it("a backfill started right after another waits for the minute the first one left (no 200 answers)", async () => {
    h = await startCliHarness({ salesOut: 13_000, days: 5 });
    await h.fillReferences();
    h.e2e.stack.jushuitan.clearRequests();
    const args = ["sync", TPLUS, "--from", day(E2E_START - 4 * DAY_MS), "--to", day(E2E_START - DAY_MS), "--dry-run", "--json"];
    const started = h.e2e.clock.now();
    const first = await h.cli(args, { clock: processClock(h) });
    expect(first.code, first.stderr).toBe(0);
    const firstRequests = h.e2e.stack.jushuitan.requests().length;
    const second = await h.cli(args, { clock: processClock(h) });
    expect(second.code, second.stderr).toBe(0);
    const log = h.e2e.stack.jushuitan.requests();
    const elapsed = h.e2e.clock.now() - started;
    console.log(
      `back-to-back: ${firstRequests} + ${log.length - firstRequests} requests, ${log.filter((r) => r.code === 199).length} × 199, ${log.filter((r) => r.code === 200).length} × 200, ${(elapsed / 1000).toFixed(1)} s emulated`,
    );
    // Together well over a minute's 100: the second process must know what the first one spent.
    expect(log.length).toBeGreaterThan(110);
    expect(firstRequests).toBeLessThan(100);
    expect(log.filter((r) => r.code === 199 || r.code === 200)).toHaveLength(0);
    // The window is kept in the state directory (one small value per app), not only in memory.
    expect((await readdir(join(h.dir, ".jst-bridge"))).some((f) => f.startsWith("rate"))).toBe(true);
  });
});
