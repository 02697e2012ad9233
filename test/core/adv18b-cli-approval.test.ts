/**
 * Adversary (issue 18 item 1, one construction path; item 3, no setting without effect): a flow with
 * `"approval": "required"` only dry-runs on the Worker until its plan is approved (worker/runtime.ts
 * runFlowInWorker → runWithApproval), and a replay refuses (engine/replay.ts), but the CLI and the Action call
 * runFlowById directly: `jst-bridge sync flow.json --from … --to …` wrote every bill of the unapproved flow.
 * Expected: nothing written and a failed sync naming the approval. Actual (old code): bills created in KIS.
 * The real CLI in-process against the emulators over loopback HTTP (test/core/cli-harness.ts). Explicit dates.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("a flow that waits for approval, synced by the CLI", () => {
  it("writes nothing until its plan is approved", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const flow = { ...structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"] as object), approval: "required" };
    await writeFile(join(h.dir, "flow.json"), JSON.stringify(flow));
    const range = ["--from", day(E2E_START - 3 * DAY_MS), "--to", day(E2E_START - DAY_MS)];
    const preview = await h.cli(["sync", "flow.json", ...range, "--dry-run"]);
    expect(preview.code, preview.stderr).toBe(0);
    const r = await h.cli(["sync", "flow.json", ...range]);
    expect(h.e2e.stack.kis.bills()).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}\n${r.stderr}`).toMatch(/approv/i);
  });
});
