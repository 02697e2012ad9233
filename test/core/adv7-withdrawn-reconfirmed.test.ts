/**
 * Adversary 7 (poison.ts exhausted + stale-letters.ts withdrawal): a lettered bill cancelled, then confirmed again.
 * Real engine, real KIS client, KIS and Jushuitan emulators over loopback HTTP, a manual clock (runs 30 min apart).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisRunsEvery30Min as runs, arriveReturnDocument as arrive } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: a dead-lettered bill cancelled (its letter withdrawn) and confirmed again", () => {
  // FINDING adv7-withdrawn-reconfirmed. Bill D is dead-lettered write_failed_repeatedly (here: a create-only KIS
  // outage, three runs). The user cancels D (作废); the next run reads it, the condition drops it, nothing of it was
  // posted, so its letter is withdrawn (stale-letters.ts: resolved "withdrawn: … cancelled?"). KIS takes creates
  // again. The user confirms D again, unchanged.
  // Expected: D is a confirmed document nobody posted and no letter stands for: the runs write it (or letter it).
  // Actual: D's attempt entry (try:D, same content hash, attempts 3) and its dead: marker survive the withdrawal, so
  // PoisonBook.exhausted(D) stays true: every run skips it as "dead-lettered … replay it once fixed" while its only
  // letter is resolved. D never reaches KIS and nothing is open to say so (counted "skipped").
  // Fixed (poison.ts withdrawnEntries, from change-writer.ts when held-letters.ts withdraws): a withdrawn letter's
  // key gets its attempt count and dead: marker afresh.
  it("FINDING adv7-withdrawn-reconfirmed: a bill confirmed again after its letter was withdrawn is written", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    await runs(e2e, 3);
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error.code]);
    expect(await open()).toEqual([[id, "write_failed_repeatedly"]]);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await runs(e2e, 1);
    expect(await open()).toEqual([]); // withdrawn: the source moved on
    e2e.stack.kis.clearFaults();
    await runs(e2e, 1);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    await runs(e2e, 3);
    const inKis = e2e.stack.kis.bills().filter((b) => b.FBillNo === id).length;
    expect({ inKis, open: await open() }).toEqual({ inKis: 1, open: [] });
  }, 120_000);
});
