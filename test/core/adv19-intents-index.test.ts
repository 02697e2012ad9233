/**
 * adv19 (write intents 1fe1973) over the flow index (the Worker's Durable Object model: MemoryFlowCoordinator, as
 * adv12-stale-dead-letter uses it): intents are index plans there, their deletion waits for the next index commit
 * (state/indexed-state.ts `closePlans`), and a continuing run's ledger entries stay in the carry. Killed, edited or
 * cancelled, and budget-stopped invocations; afterwards no plan may stay in the index. The FINDING test is
 * adv19-intents-killed-correction's on this model (it reproduces there too: a change_unknown letter, KIS 23, source 30).
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import {
  addLine,
  differences,
  docOf,
  KIS,
  killAtCreate,
  waitFor,
  e2ePerTest,
  bumpFirstLine,
  killAfterCorrections,
  indexedKis,
} from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function killedThen(change: "edit" | "cancel") {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const x = indexedKis(e);
  void x.run({}, killAtCreate(true));
  await waitFor(() => e.stack.kis.bills().length > 0);
  expect(await x.plans()).toHaveLength(1);
  const billNo = String(e.stack.kis.bills()[0]!.FBillNo);
  if (change === "edit") addLine(e, docOf(e, billNo));
  else e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  await x.toCompletion();
  await x.toCompletion();
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return { diff: differences(e, billNo), letters: letters.map((l) => [l.externalKey, l.error.code]), plans: await x.plans() };
}

describe("adv19 write intents over the flow index (Durable Object model)", () => {
  it("held: killed then edited: corrected, no letter, no plan left", async () => {
    expect(await killedThen("edit")).toEqual({ diff: [], letters: [], plans: [] });
  });

  it("held: killed then cancelled: reversed, no plan left", async () => {
    expect(await killedThen("cancel")).toEqual({ diff: [], letters: [], plans: [] });
  });

  it("held: invocations stopped by a small budget (continuations) leave no plan between them", async () => {
    const e = await start({ days: 2, otherInOut: 200, salesOut: 0 });
    const x = indexedKis(e);
    let invocations = 0;
    for (; invocations < 200; invocations++) {
      const { summary } = await x.run({ budget: { maxSubrequests: 10 } });
      expect(await x.plans()).toEqual([]);
      if (!summary.continues) break;
    }
    expect(invocations).toBeGreaterThan(1);
    expect(e.stack.kis.bills().length).toBeGreaterThan(10);
  });

  // The root of adv19-intents-killed-correction on the Worker's model: the same re-adoption over the corrected image.
  it("fixed (was FINDING): killed again mid-correction, then edited again: corrected to the newest lines, no letter", async () => {
    const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
    const x = indexedKis(e);
    void x.run({}, killAtCreate(true));
    await waitFor(() => e.stack.kis.bills().length > 0);
    const billNo = String(e.stack.kis.bills()[0]!.FBillNo);
    addLine(e, docOf(e, billNo));
    e.clock.advance(60 * 60_000);
    await killAfterCorrections(e, billNo, (fetch) => x.run({}, fetch));
    bumpFirstLine(e, JST_PATHS.otherInOut, docOf(e, billNo), 7);
    e.clock.advance(60 * 60_000);
    await x.toCompletion();
    await x.toCompletion();
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect({ diff: differences(e, billNo), letters: letters.map((l) => [l.externalKey, l.error.code]) }).toEqual({ diff: [], letters: [] });
  });
});
