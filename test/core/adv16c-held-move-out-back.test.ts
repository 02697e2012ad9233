/**
 * Adversary 16c: a T+ merged member moved OUT of a closed day (its old group's reversal held) and back again.
 * Real engine, real clients, T+ emulator (period profile) over loopback HTTP; explicit clocks; the signed invariant.
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

describe("adversary 16c: a member moved out of a closed day and back while its old group's reversal is held", () => {
  // FINDING adv16c-held-move-out-back (T+, closedPeriod hold; mirror of adv16b-held-move-back, which moves INTO a closed
  // day). Member m of G18 = SO-2024-06-18-<wh> (06-18 closed, 06-19 open) has its io_date edited to 06-19: the run
  // reverses it in G18 (G18-C1, −m: refused and held) and books it as a late member of G19 (G19-S1, written; m's image
  // moves to G19). m is edited back to 06-18 while G18 is still closed: changes.ts reviewMember sees "moved" (image
  // in G19, built into G18, which already lists m) and plans G19-C1 (−m) plus G18-C1 (+m) — the +m assumes the held
  // −m was booked. freeNumber gives the same key G18-C1 (the held letter is of the same source), so held-letters.ts
  // planned withdraws the held −m as "superseded" and the +m is held instead. After 反结账 the replay books G18-C1 (+m).
  // Expected: G18 counts m once (the held −m and the +m cancel: nothing booked in G18), G19 0.
  // Actual: G18 counts m twice (observed 2024-06-18|10818: BXW40-21 source 4 target 8, MZ500-13 5→10, NZK30-33 2→4,
  // NZK30-43 4→8), no letter open.
  // Fault: changes.ts reviewMember (moved branch) plans against the member image only, ignoring that the old group's
  // reversal is held; held-letters.ts planned then withdraws that reversal as superseded by a correction of the
  // opposite sign under the same key.
  it("FINDING adv16c-held-move-out-back: counted once in its home group after 反结账", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = startOfToday(e2e);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-18") && parseInZone(String(d.modified))! < today,
      )!;
    const home = String(m.io_date);
    setPeriods(periods, { closedBefore: "2024-06-19" }); // the home day 06-18 is closed, 06-19 open
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, io_date: home.replace("2024-06-18", "2024-06-19") });
    await settle(e2e);
    const store = new FlowStateStore(e2e.kv);
    const show = async () => (await store.listDeadLetters(TPLUS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error?.code]);
    expect((await show()).map((l) => l[1])).toEqual(["period_closed"]);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, io_date: home });
    await settle(e2e);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after 反结账");
    expect(await show()).toEqual([]);
  });
});
