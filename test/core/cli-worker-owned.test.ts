/**
 * The CLI and the Worker do not share a lock (engine-review finding 10): an incremental CLI sync of a flow the
 * Worker runs would race it on the watermark and the registry. The CLI refuses it; range backfills stay allowed.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

const KIS = "jst-other-in-to-kis";
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("CLI on a flow the Worker runs", () => {
  it("refuses an incremental sync when the Worker's cron saved the checkpoint; a range backfill still runs", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const kv = new FileKeyValueStore({ dir: join(h.dir, ".jst-bridge") });
    await new FlowStateStore(kv).saveCheckpoint(KIS, { watermark: E2E_START - DAY_MS, runId: makeRunId(E2E_START - DAY_MS, "cron") });
    const r = await h.cli(["sync", KIS, "--json"]);
    expect(r.code).not.toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.error.code).toBe("worker_owned_flow");
    expect(report.error.hint).toMatch(/--from/);
    expect(h.e2e.stack.kis.bills()).toHaveLength(0);

    const range = await h.cli([
      "sync",
      KIS,
      "--from",
      formatInZone(E2E_START - 3 * DAY_MS).slice(0, 10),
      "--to",
      formatInZone(E2E_START - DAY_MS).slice(0, 10),
      "--json",
    ]);
    expect(range.code, range.stderr).toBe(0);
  });
});
