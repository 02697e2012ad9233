/**
 * Adversary 16b: a merged member moved into a day whose period is closed (its supplement held), then moved back.
 * Real engine, real clients, T+ emulator (period profile) over loopback HTTP; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { startOfToday, tplusSource, settleTplusDay as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: a member moved into a closed day and back while its supplement is held", () => {
  // Held up (adversary 16b): the move-back's reversal in the closed day (SO-…-16-…-C1) is held behind the held
  // supplement SO-…-16-…-S1 and both are replayed after 反结账; the home group gets -C2 (+A).
  it("a member moved into a closed day (supplement held) and back is counted once after 反结账", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = startOfToday(e2e);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
      )!;
    const home = String(m.io_date);
    setPeriods(periods, { closedBefore: "2024-06-17" });
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, io_date: home.replace("2024-06-19", "2024-06-16") });
    await settle(e2e);
    const held = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => l.error.code === "period_closed");
    expect(held.map((l) => l.sourceId)).toContain(String(m.io_id));
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, io_date: home });
    await settle(e2e);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after 反结账");
  });
});
