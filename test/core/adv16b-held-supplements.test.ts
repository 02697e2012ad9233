/**
 * Adversary 16b: two late members of a written day arrive days apart while the day's period is closed.
 * Real engine, real clients, T+ emulator (period profile) over loopback HTTP; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertTplusGroupInvariant, startOfToday, settleTplusDay as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: late members of a closed day arriving days apart", () => {
  // Held up (adversary 16b): unlike group corrections (adv16b-held-group-number-reuse), a held supplement plan counts
  // for numbering: the second late member is S2, not a second S1 that would supersede the first.
  it("both late members are booked after 反结账 (S1 and S2, nothing superseded)", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const today = startOfToday(e2e);
    const m = jst
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-16") && parseInZone(String(d.modified))! < today,
      )!;
    const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(m);
    setPeriods(periods, { closedBefore: "2024-06-20" });
    const a = jst.upsertDocument(JST_PATHS.salesOut, { ...copy, status: "Confirmed" });
    for (let i = 0; i < 5; i++) await settle(e2e);
    const b = jst.upsertDocument(JST_PATHS.salesOut, { ...copy, status: "Confirmed" });
    await settle(e2e);
    await settle(e2e);
    const all = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS, { status: "all" });
    const mine = all.filter((l) => l.sourceId === String(a.io_id) || l.sourceId === String(b.io_id));
    expect(new Set(mine.map((l) => l.externalKey)).size).toBe(2);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e);
    const group = `2024-06-16|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after 反结账");
  });
});
