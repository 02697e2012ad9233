/**
 * adv20 (write intents a37c3c4) over the flow index (Durable Object model, MemoryFlowCoordinator as in
 * adv19-intents-index): a run stopped by its budget in the middle of a page (its ledger entries in the carry, its
 * intent closed), then the continuation resumes the page and is killed after KIS committed a bill. The source then
 * edits that bill's document and cancels one the first invocation wrote. Expected: balanced, no letter, no plan left.
 * HELD for budgets 4 to 7.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { addLine, differences, docOf, KIS, killAtCreate, waitFor, e2ePerTest, indexedKis } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

describe("adv20 write intents over the flow index: a continuation killed", () => {
  for (const budget of [4, 5, 6, 7])
    it(`budget ${budget}: balanced, no letter, no plan left`, async () => {
      const e = await start({ days: 2, otherInOut: 60, salesOut: 0 });
      const x = indexedKis(e);
      let first: string[] = [];
      for (let i = 0; i < 50 && first.length === 0; i++) {
        const { summary } = await x.run({ budget: { maxSubrequests: budget } });
        first = e.stack.kis.bills().map((b) => String(b.FBillNo));
        expect(summary.continues).toBe(true);
      }
      expect(first.length).toBeGreaterThan(0);
      void x.run({ budget: { maxSubrequests: budget } }, killAtCreate(true));
      await waitFor(() => e.stack.kis.bills().length > first.length);
      const killed = e.stack.kis
        .bills()
        .map((b) => String(b.FBillNo))
        .filter((b) => !first.includes(b));
      expect(killed).toHaveLength(1);
      addLine(e, docOf(e, killed[0]!));
      e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, first[0]!).io_id, status: "Cancelled" });
      e.clock.advance(60 * 60_000);
      for (let round = 0; round < 2; round++) {
        let i = 0;
        for (; i < 400; i++) if (!(await x.run({ budget: { maxSubrequests: budget } })).summary.continues) break;
        expect(i).toBeLessThan(400);
        e.clock.advance(60 * 60_000);
      }
      const ids = [...new Set(e.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => String(d.io_id)))];
      const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
      expect({ diff: ids.flatMap((id) => differences(e, id)), letters: letters.map((l) => [l.externalKey, l.error.code]), plans: await x.plans() }).toEqual({
        diff: [],
        letters: [],
        plans: [],
      });
    });
});
