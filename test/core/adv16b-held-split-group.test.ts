/**
 * Adversary 16b: a merged member's up/down edit while its day's period is closed, under a T+ return business type
 * (a correction that cannot mix signs: red <group>-C<n> of the decreases, then blue <group>-C<n>-B of the increases).
 * Real engine, real clients, T+ emulator (period profile, positive red quantities) over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertTplusGroupInvariant, startOfToday, settleTplusDay as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: a split group correction held while the period is closed", () => {
  // FINDING adv16b-held-split-no-blue (T+ form of adv16b-held-red-no-repost): TPLUS_RED_BUSI_TYPE=14 with positive
  // red quantities. Member m of group G (2024-06-16) gets line 1 +2 and line 2 removed while G's period is closed:
  // the event is G-C1 (red, 14: line 2) then G-C1-B (blue: line 1 +2). G-C1 is refused and held; G-C1-B is never
  // tried nor filed (writeCorrections stops at the first step not written). After 4 closed days (m's edit leaves the
  // re-sweep's 3 days) 反结账: the held replay writes G-C1 only; nothing reads m again, so +2 of line 1 is never
  // booked. Expected: G's signed totals equal the source. Actual (observed): 2024-06-16|10817|TX100-42 source 6,
  // target 4. Fault: as adv16b-held-red-no-repost (change-writer.ts writeCorrections / held replay of one step).
  it("FINDING adv16b-held-split-no-blue: after 反结账 the member's increases are booked too", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({
      otherInOut: 0,
      salesOut: 160,
      env: { TPLUS_RED_BUSI_TYPE: "14", TPLUS_RED_QTY_SIGN: "positive" },
      tplus: { redQuantities: "positive", periods },
    });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = startOfToday(e2e);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) =>
          Number(d.shop_id) === 0 &&
          d.status === "Confirmed" &&
          String(d.io_date).startsWith("2024-06-16") &&
          (d.items as Row[]).length >= 2 &&
          parseInZone(String(d.modified))! < today,
      )!;
    setPeriods(periods, { closedBefore: "2024-06-20" });
    const items = structuredClone(m.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    items.splice(1, 1);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    for (let i = 0; i < 5; i++) await settle(e2e);
    setPeriods(periods, {});
    for (let i = 0; i < 3; i++) await settle(e2e);
    const group = `2024-06-16|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after 反结账", { redBusiType: "14" });
  });
});
