/**
 * Adversarial review of issue 12 (poison documents never hold back the others): three poison bills in one window.
 * After the first run the other bills of the window are in the ledger, so a re-read tries only the three poison
 * bills: three set-asides in a row with no success look like an outage, the count never grows, and the run stops
 * before the later windows. Real engine, real KIS client, KIS emulator (poisonBillNos) over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedKis } from "../helpers/targets.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv12: three poison bills in one window", () => {
  it("are dead-lettered after MAX_FAILED_RUNS runs and the flow moves on (bills confirmed later are written)", async () => {
    const probe = await startE2E({ salesOut: 0, otherInOut: 80 });
    const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const expectedAll = expectedKis(docs, 0, E2E_START - 5 * 60_000);
    await probe.close();
    const byModified = docs.filter((d) => expectedAll.has(String(d.io_id))).sort((a, b) => String(a.modified).localeCompare(String(b.modified)));
    const poison = byModified.slice(0, 3).map((d) => String(d.io_id));
    const firstPoisonModified = parseInZone(String(byModified[0]!.modified))!;

    e2e = await startE2E({ salesOut: 0, otherInOut: 80, kis: { poisonBillNos: poison } });
    const store = new FlowStateStore(e2e.kv);
    for (let i = 0; i < 6; i++) {
      if (i > 0) e2e.clock.advance(30 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    const letters = await store.listDeadLetters(KIS);
    expect(letters.map((l) => l.externalKey).sort()).toEqual([...poison].sort());
    const checkpoint = (await store.getWatermark<{ watermark: number }>(KIS))!;
    expect(checkpoint.watermark).toBeGreaterThan(firstPoisonModified);
    const all = expectedKis(e2e.stack.jushuitan.documents(JST_PATHS.otherInOut), 0, e2e.clock.now() - 5 * 60_000);
    expect(e2e.stack.kis.bills().length).toBe(all.size - poison.length);
  }, 180_000);

  it("a failed run's record says the watermark it saved, not one it only held in memory", async () => {
    const probe = await startE2E({ salesOut: 0, otherInOut: 80 });
    const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const expectedAll = expectedKis(docs, 0, E2E_START - 5 * 60_000);
    await probe.close();
    const byModified = docs.filter((d) => expectedAll.has(String(d.io_id))).sort((a, b) => String(a.modified).localeCompare(String(b.modified)));
    // The first three bills (alone in their window): the empty windows before it complete, the run fails in it.
    const poison = byModified.slice(0, 3).map((d) => String(d.io_id));
    e2e = await startE2E({ salesOut: 0, otherInOut: 80, kis: { poisonBillNos: poison } });
    const store = new FlowStateStore(e2e.kv);
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).toBe("failed");
    const saved = (await store.getWatermark<{ watermark: number }>(KIS))!;
    expect(new Date(summary.watermarkAfter).toISOString()).toBe(new Date(saved.watermark).toISOString());
  }, 120_000);
});
