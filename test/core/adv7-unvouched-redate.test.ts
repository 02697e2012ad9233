/**
 * Adversary 7 (unvouched-retry.ts × closedPeriod "redate"): a period closes while a healthy bill's unvouched letter
 * waits. Real engine, real KIS client, KIS and Jushuitan emulators over loopback HTTP, a manual clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods, type PeriodOptions } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisRunsEvery30Min as runs } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: a period closes while an unvouched letter waits, flow policy closedPeriod redate", () => {
  // FINDING adv7-unvouched-redate. Flow closedPeriod "redate" (docs/changes.md: a refused closed-period document is
  // posted on the first open day with its original date in the memo). Bill D dated 2024-05-31 is saved on 06-20;
  // a create-only KIS outage (reads answer) letters it unvouched after three runs. The accountant closes May (结账)
  // before KIS takes creates again.
  // Expected: the runs' retry writes D as a run would under the flow's policy: redated to 2024-06-01, 原日期 in the
  // memo; its letter resolved.
  // Actual: the retry goes through the replay path (replay.ts), which knows no closedPeriod policy: KIS refuses the
  // May date, the letter stays open (write_failed_repeatedly, retried in vain for a day, then left for the operator,
  // whose replay is refused the same way); D is never written.
  // Fixed (replay.ts): a document rebuilt from its rows is written with the flow's redate policy
  // (periods.ts writeWithPeriodPolicy) and imaged as booked.
  it("FINDING adv7-unvouched-redate: the retried bill is written redated", async () => {
    const periods: PeriodOptions = {};
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { periods } });
    e2e.flows[KIS]!.target.closedPeriod = "redate";
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const doc = jst.upsertDocument(JST_PATHS.otherInOut, { ...rest, io_date: "2024-05-31 23:00:00" });
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    await runs(e2e, 3);
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error.code]);
    expect(await open()).toEqual([[id, "write_failed_repeatedly"]]);
    setPeriods(periods, { closedBefore: "2024-06-01", profile: "jiezhang" });
    e2e.stack.kis.clearFaults();
    await runs(e2e, 3);
    const bills = e2e.stack.kis.bills().filter((b) => b.FBillNo === id);
    expect({
      bills: bills.map((b) => [String(b.Head.Fdate).slice(0, 10), String(b.Head.Fnote).includes("原日期 2024-05-31")]),
      open: await open(),
    }).toEqual({ bills: [["2024-06-01", true]], open: [] });
  }, 120_000);
});
