/**
 * FINDING (adv19, write intents 1fe1973): the 7-day expiry counts from the intent's creation, not from the last run
 * that could have met its documents. write-intents.ts says "an intent whose documents no run has met for this long is
 * closed: they left the source query", but inheritWriteIntents closes any intent whose `createdAt` is 7 days old
 * BEFORE this run reads anything. A flow that does not run for a week after a killed invocation (paused, disabled,
 * its 聚水潭 token expired, a holiday with the Worker off) loses the intent without any run having met the
 * documents: the bill the killed invocation committed and the source then cancelled stays booked (KIS 20, source 0),
 * and an edit becomes a `conflict` letter — the very cases the intent exists for. The warning it logs blames the source
 * query. (The same with 6 days' pause passes: asserted as the control.)
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { addLine, differences, docOf, KIS, e2ePerTest, firstKisBill } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

const DAY = 86_400_000;

async function pausedAfterKill(pauseDays: number, change: "cancel" | "edit") {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const billNo = await firstKisBill(e);
  if (change === "cancel") e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, status: "Cancelled" });
  else addLine(e, docOf(e, billNo));
  e.clock.advance(pauseDays * DAY); // no run meanwhile
  await e.runToCompletion(KIS, {}, 2000);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return { diff: differences(e, billNo), letters: letters.map((l) => [l.externalKey, l.error.code]) };
}

describe("adv19 write intents: a week without runs after a killed invocation", () => {
  it("fixed (was FINDING): cancelled during an 8-day pause: the bill the killed invocation committed is reversed", async () => {
    expect(await pausedAfterKill(8, "cancel")).toEqual({ diff: [], letters: [] });
  });

  it("fixed (was FINDING): edited during an 8-day pause: corrected, no conflict letter", async () => {
    expect(await pausedAfterKill(8, "edit")).toEqual({ diff: [], letters: [] });
  });

  it("held (control): cancelled during a 6-day pause is reversed", async () => {
    expect(await pausedAfterKill(6, "cancel")).toEqual({ diff: [], letters: [] });
  });
});
