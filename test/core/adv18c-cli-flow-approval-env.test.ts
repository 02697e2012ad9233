/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): FLOW_APPROVAL (the env contract's
 * comma-separated flow ids that write nothing until approved) is applied by the Worker only
 * (worker/observe/config-env.ts applyObserveEnv). The CLI and the Action read the same env contract and know the name
 * (shared/compose/env-names.ts: no "unknown variable" warning), yet `FLOW_APPROVAL=jst-other-in-to-kis` in the CLI's
 * .env had no effect: `jst-bridge sync jst-other-in-to-kis --from … --to …` wrote every bill of the flow the
 * deployment holds for approval. Expected: nothing written and a failed sync naming the approval, as for a flow
 * whose JSON says "approval": "required" (test/core/adv18b-cli-approval.test.ts). Actual (old code): bills in KIS.
 * The real CLI in-process against the emulators over loopback HTTP (test/core/cli-harness.ts). Explicit dates.
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("FLOW_APPROVAL in the CLI's environment", () => {
  it("holds the listed seed flow's writes until its plan is approved, naming FLOW_APPROVAL", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    await appendFile(join(h.dir, ".env"), "FLOW_APPROVAL=jst-other-in-to-kis, some-other-flow\n");
    const range = ["--from", day(E2E_START - 3 * DAY_MS), "--to", day(E2E_START - DAY_MS)];
    const preview = await h.cli(["sync", "jst-other-in-to-kis", ...range, "--dry-run"]);
    expect(preview.code, preview.stderr).toBe(0);
    const r = await h.cli(["sync", "jst-other-in-to-kis", ...range]);
    expect(h.e2e.stack.kis.bills()).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}\n${r.stderr}`).toMatch(/approv/i);
    expect(`${r.stdout}\n${r.stderr}`).toContain("FLOW_APPROVAL");
  });
});
