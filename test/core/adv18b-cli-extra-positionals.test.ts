/**
 * Adversary (issue 18 item 3, configuration with no effect is refused): the CLI's option parser is strict (an
 * unknown --flag is refused) but words after a command's arguments were dropped without a word:
 *   jst-bridge sync jst-other-in-to-kis --from … --to … dry-run      (the "--" forgotten)
 * ran a real backfill, and `jst-bridge sync flow-a flow-b` synced flow-a only.
 * Expected: exit 1 naming the extra argument, nothing written. Actual (old code): exit 0, bills created in KIS.
 * The real CLI in-process against the emulators over loopback HTTP (test/core/cli-harness.ts). Explicit dates.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, runOfflineCli, startCliHarness } from "./cli-harness.ts";

const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("a CLI argument that a command does not take", () => {
  it("is refused before anything is written", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const r = await h.cli(["sync", "jst-other-in-to-kis", "--from", day(E2E_START - 3 * DAY_MS), "--to", day(E2E_START - DAY_MS), "dry-run"]);
    expect(h.e2e.stack.kis.bills()).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/dry-run/);
  });

  it("validate refuses a second file instead of checking only the first", async () => {
    const r = await runOfflineCli(["validate", "a.json", "b.json"], "/tmp");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b\.json/);
  });
});
