/**
 * Adversarial review of issue 12 (finding 3, "already exists" verified, not trusted): a merged T+ day re-planned
 * without its group registry (ledger retention, a reset, or a KV list that has not caught up yet) gets "already
 * exists" for its key and every member of the new plan is recorded as written. Real engine, real T+ client, emulators.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { parseInZone } from "../../shared/util/time.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

function addSalesOut(env: E2E, ioDate: string) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed")!;
  const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: ioDate });
}

describe("adv12: a merged day rebuilt without its registry", () => {
  // Failed while the T+ seed windowed on io_date (the late sale was never read); it reads by modified now.
  it("a late sale of a written day is booked (or dead-lettered as a conflict) after the ledger was lost, never silently recorded as written", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(2 * 86_400_000);
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    // The ledger is gone (retention, a reset, or its segments not listed yet); the checkpoint is intact.
    for (const key of await e2e.kv.list(`ledger:${TPLUS}:`)) await e2e.kv.delete(key);
    // A sale of an already written day is confirmed late.
    addSalesOut(e2e, "2024-06-20 15:00:00");
    e2e.clock.advance(86_400_000);
    const runs = await e2e.runToCompletion(TPLUS);
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS);
    const expected = expectedTargets(e2e, { kis: 0, tplusDayEnd: parseInZone("2024-06-23 00:00:00")! }).tplus;
    const actual = actualTargets(e2e).tplus;
    // Either the late sale is in T+, or the run says the day conflicts (a dead letter with both sides): not silence.
    const booked = JSON.stringify(Object.fromEntries(actual)) === JSON.stringify(Object.fromEntries(expected));
    const flagged = letters.length > 0 || runs.some((r) => r.outcome !== "success");
    expect({ booked, flagged }).not.toEqual({ booked: false, flagged: false });
  }, 120_000);
});
