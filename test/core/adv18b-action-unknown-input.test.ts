/**
 * Adversary (issue 18 item 3, configuration with no effect is refused): a misspelled Action input was ignored. The
 * runner passes `with: { dry_run: true }` to the step as INPUT_DRY_RUN; core.getInput("dry-run") reads INPUT_DRY-RUN,
 * so the input has no effect and the step WRITES what the workflow asked only to preview (the runner's own
 * "Unexpected input(s)" is a warning annotation; the step still runs).
 * Expected: the step fails before anything is written, naming the input and the one it probably meant.
 * Actual (old code): a real backfill, bills created in KIS, the step green.
 * The @actions/core fake is test/helpers/actions-core-fake.ts (as test/core/action-run.test.ts); the emulators run over loopback HTTP.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";
import { core, credentialInputs, resetCore } from "../helpers/actions-core-fake.ts";

// @actions/core replaced by the typed fake in test/helpers/actions-core-fake.ts.
vi.mock("@actions/core", async () => (await import("../helpers/actions-core-fake.ts")).actionsCore);

const { run } = await import("../../action/main.ts");

const KIS = "jst-other-in-to-kis";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let h: CliHarness | undefined;
beforeEach(resetCore);
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("an Action input the action does not declare", () => {
  it("is refused before anything is written, with the input it probably meant", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    core.state.inputs = {
      ...credentialInputs(h),
      flow: KIS,
      from: day(E2E_START - 3 * DAY_MS),
      to: day(E2E_START - DAY_MS),
      state: "file",
      "state-dir": ".jst-bridge",
    };
    // What the runner sets for `with: { dry_run: "true" }` (the declared input is dry-run → INPUT_DRY-RUN).
    await run({ clock: h.e2e.clock, cwd: h.dir, env: { REQUEST_TIMEOUT_MS: "400", INPUT_DRY_RUN: "true" } });
    expect(h.e2e.stack.kis.bills()).toEqual([]);
    expect(core.state.failed.join("\n")).toMatch(/dry_run.*dry-run/s);
  });
});
