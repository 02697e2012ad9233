/**
 * Adversary of issue 16 (session 4): "every correction is traceable" (GET /trace's corrections chain,
 * shared/observe/corrections-view.ts) when the correction is written by the held replay (engine/held-replay.ts).
 * Real engine, real state and trace store, KIS emulator over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { searchTrace } from "../../shared/observe/trace.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { firstPostedKisDocument } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16: a correction written by the held replay in the document's trace", () => {
  // FINDING adv16-replay-untraced: the held replay (and any dead-letter replay, replay.ts) writes through the target
  // client and the ledger but records no trace event. A reversal R1 held as period_closed and written after 反结账
  // appears in the document's corrections chain only as the run's "pending" correction: the chain never shows it
  // written, and its net (what the target holds for the document) is missing — the dashboard says the cancelled
  // document is still waiting for its reversal although KIS holds it.
  it("FINDING adv16-replay-untraced: R1 written by the held replay is shown written in the corrections chain, net 0", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, kis: { periods } });
    await e2e.runToCompletion(KIS);
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const next = new Date(parseInZone(`${String(doc.io_date).slice(0, 10)} 00:00:00`)! + 36 * 3600_000).toISOString().slice(0, 10);
    setPeriods(periods, { closedBefore: next });
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    expect((await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).filter((l) => l.externalKey === `${id}-R1`).map((l) => l.error.code)).toEqual([
      "period_closed",
    ]);
    setPeriods(periods, {});
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    expect(e2e.stack.kis.bills().map((b) => b.FBillNo)).toContain(`${id}-R1`);
    const trace = await searchTrace(e2e.kv, [KIS], id, { now: e2e.clock.now() });
    const chain = trace.corrections.find((c) => c.of === id);
    expect(chain?.links.find((l) => l.key === `${id}-R1`)?.status).toBe("written");
    expect(chain?.net?.qty).toBe(0);
  });
});
