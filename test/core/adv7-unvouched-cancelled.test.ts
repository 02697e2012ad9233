/**
 * Adversary 7 (unvouched-retry.ts ran before the run read the source): a healthy bill lettered by a create-only
 * outage is cancelled, and KIS takes creates again before the next run. Real engine, real KIS client, KIS and
 * Jushuitan emulators over loopback HTTP, a manual clock (runs 30 min apart).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisRunsEvery30Min as runs } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: a bill lettered unvouched, cancelled before KIS takes creates again", () => {
  // FINDING adv7-unvouched-cancelled. Bill D is lettered write_failed_repeatedly (unvouched) by a create-only KIS
  // outage. The user cancels D (作废); KIS takes creates again before the next run. Flow onChange "deadLetter" (a
  // documented policy: changes after posting are reported, not corrected).
  // Expected: D was never booked and is cancelled: nothing is written for it (stale-letters.ts withdraws the letter
  // of a document cancelled before it was posted: "a document cancelled meanwhile would be booked by the replay").
  // Was (before the fix): the runs' retry (held-replay.ts → retryUnvouched) replayed the letter's stored row BEFORE
  // the run read the source: D was booked in KIS; the run then read the cancellation of a "posted" document and filed
  // cancelled_after_write for the operator (with onChange "compensate": D + D-R1, two bills for a document never due).
  // Fixed: the retry runs after the invocation has read its source to the end (unvouched-retry.ts retryAfterRun); the
  // run withdraws the letter of the cancelled, never-posted document (stale-letters.ts) and the retry skips it.
  it("FINDING adv7-unvouched-cancelled: nothing is booked for a bill cancelled while its unvouched letter waited", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    e2e.flows[KIS]!.target.onChange = "deadLetter";
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const doc = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    await runs(e2e, 3);
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error.code]);
    expect(await open()).toEqual([[id, "write_failed_repeatedly"]]);
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.stack.kis.clearFaults();
    await runs(e2e, 2);
    const bills = e2e.stack.kis.bills().filter((b) => b.FBillNo === id || b.FBillNo.startsWith(`${id}-`));
    expect({ bills: bills.map((b) => b.FBillNo), open: await open() }).toEqual({ bills: [], open: [] });
  }, 120_000);

  it("a run that could not read the source does not retry the letter: the cancellation is seen first", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    e2e.flows[KIS]!.target.onChange = "deadLetter";
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const doc = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    await runs(e2e, 3);
    const open = async () => (await store.listDeadLetters(KIS)).map((l) => [l.externalKey, l.error.code]);
    expect(await open()).toEqual([[id, "write_failed_repeatedly"]]);
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.stack.kis.clearFaults();
    jst.addFaults([{ kind: "http5xx", times: 1_000_000 }]); // Jushuitan unreachable: this run reads nothing
    await runs(e2e, 1);
    const booked = () => e2e!.stack.kis.bills().filter((b) => b.FBillNo === id || b.FBillNo.startsWith(`${id}-`)).length;
    expect({ bills: booked(), open: await open() }).toEqual({ bills: 0, open: [[id, "write_failed_repeatedly"]] });
    jst.clearFaults();
    await runs(e2e, 2);
    expect({ bills: booked(), open: await open() }).toEqual({ bills: 0, open: [] });
  }, 120_000);
});
