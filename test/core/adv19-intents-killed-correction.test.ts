/**
 * FINDING (adv19, write intents 1fe1973): the page killed again while correcting the adopted bill, then edited again.
 * Invocation 1 commits bill A (20) and is killed before its answer; A is edited (23). Invocation 2 adopts A from the
 * intent (its ledger entry and image only in memory), posts A-R1 (-20) and A-B1 (23), each kept as a `pending:` unit
 * before it is sent, and is killed once KIS committed both, before any ledger save; A is edited again (30).
 * Invocation 3 first settles the pending corrections (pending-writes.ts: A's image moves to A-B1's 23), but A's own
 * ledger entry was never saved and the intent is still open, so resolveWriteIntents adopts A AGAIN
 * (write-intents.ts adoptIfOurs: `!run.ledger.get(part.externalKey)` is the only guard) and writes the intent's
 * original image (20, d: A) over the corrected one. The review then numbers the correction from the stale image
 * (A-R1/A-B1 again): A-B1 exists with other content, so a `change_unknown` letter ("no before-image") and the second
 * edit is never booked: KIS 23, source 30 — silently wrong until someone works the letter. The control (invocation 1
 * completes normally, everything else the same) posts A-R2/A-B2 and ends with no letter: the intent causes it.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "../helpers/e2e.ts";
import { addLine, differences, docOf, KIS, e2ePerTest, firstKisBill, bumpFirstLine, killAfterCorrections } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 90_000 });
const start = e2ePerTest();

/** The numbers of the correction bills KIS holds for `billNo` (`billNo-…`). */
const correctionsOf = (e: E2E, billNo: string) =>
  e.stack.kis
    .bills()
    .filter((b) => String(b.FBillNo).startsWith(`${billNo}-`))
    .map((b) => String(b.FBillNo));

/** Bill A committed by a killed invocation, edited, then the next invocation killed once KIS committed A-R1 and A-B1. */
async function killedWhileCorrecting() {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const billNo = await firstKisBill(e);
  addLine(e, docOf(e, billNo));
  e.clock.advance(60 * 60_000);
  await killAfterCorrections(e, billNo, (fetch) => e.run(KIS, {}, { fetch }));
  const corrections = () => correctionsOf(e, billNo);
  expect(corrections().sort()).toEqual([`${billNo}-B1`, `${billNo}-R1`]);
  return { e, billNo, corrections };
}

/** A is edited again (its first line +7), the flow runs to completion twice: balanced, no letter. */
async function editedAgainThenSettled(e: E2E, billNo: string) {
  bumpFirstLine(e, JST_PATHS.otherInOut, docOf(e, billNo), 7);
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  await e.runToCompletion(KIS);
  expect(differences(e, billNo)).toEqual([]);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  expect(letters.map((l) => [l.externalKey, l.error.code])).toEqual([]);
}

describe("adv19 write intents: killed again while correcting the adopted bill", () => {
  it("held: the edit (no second edit) is corrected exactly once", async () => {
    const { e, billNo, corrections } = await killedWhileCorrecting();
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(KIS);
    await e.runToCompletion(KIS);
    expect(corrections().sort()).toEqual([`${billNo}-B1`, `${billNo}-R1`]); // not corrected twice
    expect(differences(e, billNo)).toEqual([]);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect(letters.map((l) => [l.externalKey, l.error.code])).toEqual([]);
    expect((await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit)).toEqual([]);
  });
  it("fixed (was FINDING): edited again before the next run: corrected to the newest lines, no letter", async () => {
    const { e, billNo } = await killedWhileCorrecting();
    await editedAgainThenSettled(e, billNo);
    expect((await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit)).toEqual([]);
  });
});

describe("adv19 control: the same without the first kill (no intent involved)", () => {
  it("held: A completes normally, then the killed correction and the second edit end corrected, no letter", async () => {
    const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
    const billNo = await firstKisBill(e, false);
    addLine(e, docOf(e, billNo));
    e.clock.advance(60 * 60_000);
    await killAfterCorrections(e, billNo, (fetch) => e.run(KIS, {}, { fetch }));
    await editedAgainThenSettled(e, billNo);
  });
});
