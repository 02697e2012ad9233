/**
 * adv-13: issue 13 — "Results are stored and used (e.g. the KIS precheck mode)". doctor --write-probe learns that
 * this KIS account ACCEPTS a second bill with the same FBillNo and stores it (DOCTOR_RESULT_KEY), and
 * kisPrecheckFromFindings() turns that into "always" — but nothing calls it: the runner's createTarget reads only
 * env KIS_PRECHECK and defaults to "after_unknown_outcome" (shared/engine/runner.ts). Whenever the bridge's own
 * ledger does not know a bill (state lost — e.g. a fresh KV namespace after a re-deploy — or compacted by
 * LEDGER_RETENTION_DAYS before a re-sync of an older range), the bill is booked a second time.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: the stored doctor finding 'KIS accepts a duplicate FBillNo' is used by the runner", () => {
  it("a re-sync whose ledger is gone does not book the same bills again", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0, kis: { enforceUniqueBillNo: false } });
    const report = await runDoctor(
      { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
      { writeProbe: { probeDate: "2024-06-19" } },
    );
    expect(report.findings.kisDuplicateBillNo).toBe("accepted");
    const ours = () =>
      e2e!.stack.kis
        .state()
        .bills.filter((b: { FBillNo?: string; head?: { FBillNo?: string } }) => !/JSTB-PROBE/.test(String(b.FBillNo ?? b.head?.FBillNo ?? "")));
    await e2e.runToCompletion(KIS);
    const first = ours().length;
    expect(first).toBeGreaterThan(0);
    // The bridge's own memory of what it wrote is gone (ledger + watermark), the doctor result is still there.
    for (const key of await e2e.kv.list("")) if (/^(ledger|wm):/.test(key)) await e2e.kv.delete(key);
    await e2e.runToCompletion(KIS);
    expect(ours().length).toBe(first);
  });
});
