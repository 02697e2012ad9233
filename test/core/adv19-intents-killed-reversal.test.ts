/**
 * adv19 (write intents 1fe1973), HELD: the page killed again while reversing the adopted bill, then the document is
 * confirmed again. Invocation 3 settles the pending A-R1 (image: nothing posted), then re-adopts A from the still open
 * intent and writes A's original image over it (the root of adv19-intents-killed-correction), but the review's
 * "reversal written, never settled into the image" guard (changes.ts, `relatedKeys.red` in the ledger) re-posts A
 * (A-B1): nothing lost, no letter. The control runs the same after a normal first run.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { differences, docOf, KIS, killAtCreate, waitFor, e2ePerTest, firstKisBill } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 90_000 });
const start = e2ePerTest();

async function scenario(killFirst: boolean) {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const billNo = await firstKisBill(e, killFirst);
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  void e.run(KIS, {}, { fetch: killAtCreate(true, (body) => body.includes(`${billNo}-R1`)) });
  await waitFor(() => e.stack.kis.bills().some((b) => String(b.FBillNo) === `${billNo}-R1`));
  expect(e.stack.kis.bills().some((b) => String(b.FBillNo) === `${billNo}-R1`)).toBe(true);
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, status: "Confirmed" });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  await e.runToCompletion(KIS);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return { diff: differences(e, billNo), letters: letters.map((l) => [l.externalKey, l.error.code]) };
}

describe("adv19 write intents: killed again while reversing the adopted bill, then confirmed again", () => {
  it("held: the document confirmed again is booked again (nothing lost)", async () => {
    const { diff, letters } = await scenario(true);
    expect({ diff, letters }).toEqual({ diff: [], letters: [] });
  });

  it("held (control, no intent): the same after a normal first run ends even", async () => {
    const { diff, letters } = await scenario(false);
    expect({ diff, letters }).toEqual({ diff: [], letters: [] });
  });
});
