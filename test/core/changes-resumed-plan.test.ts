/**
 * A merged T+ group whose outbox plan an invocation started (the plan saved, its voucher written, the invocation killed
 * before the plan closed) and one of whose members is edited before the next run reads it again. The next run rebuilds
 * the group with the member's new lines, finds the started plan and finishes it as planned (the voucher already holds
 * the old lines): the member must then be corrected against the plan, or the target keeps the old quantities for good
 * (no later run reads the member again). Found by the long chaos suite (seeds 9068, 9052: a killed or budget-stopped
 * T+ invocation, then jst.editSales re-stamping members the next invocation read).
 * Real engine, real clients, emulators over loopback HTTP; explicit clock (E2E_START), no wall-clock dependence.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { startOfToday, tplusSource } from "../helpers/seed-scope.ts";
import { until } from "../helpers/until.ts";

vi.setConfig({ testTimeout: 90_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Kills a T+ run after its first voucher was answered; returns the confirmed closed-day members of that voucher's group. */
async function killAfterFirstVoucher(e: E2E): Promise<Row[]> {
  // Killed after its first voucher was answered: the plan is saved and written, never closed (a killed isolate).
  void e.run(TPLUS, {}, { fetch: e.crashingFetch(1) });
  await until(() => e.stack.tplus.vouchers("otherDispatch").length >= 1, "the first voucher");
  await new Promise((r) => setTimeout(r, 50));
  const code = String(e.stack.tplus.vouchers("otherDispatch")[0]!.ExternalCode);
  const m = /^SO-(\d{4}-\d{2}-\d{2})-(\d+)$/.exec(code)!;
  const end = startOfToday(e);
  const members = e.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .filter(
      (d) =>
        Number(d.shop_id) === 0 &&
        d.status === "Confirmed" &&
        String(d.io_date).startsWith(m[1]!) &&
        String(d.wms_co_id) === m[2] &&
        parseInZone(String(d.modified))! < end,
    );
  expect(members.length).toBeGreaterThanOrEqual(1);
  return members;
}

describe("a started merge plan finished after one of its members was edited", () => {
  it("a member cancelled before the next run is reversed in the group the plan wrote", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    const members = await killAfterFirstVoucher(e2e);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: members[0]!.io_id, status: "Cancelled" });
    e2e.clock.advance(DAY); // the dead run's lease expires; the cancellation's day closes
    await e2e.runToCompletion(TPLUS);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the started plan was finished");
  });

  it("the edited member is corrected against the plan the voucher was written from", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    const members = await killAfterFirstVoucher(e2e);

    // The user corrects a member's quantity before the next run: it is read again with its new lines.
    const edited = members[0]!;
    const items = structuredClone(edited.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: edited.io_id, items });
    e2e.clock.advance(DAY); // the dead run's lease expires; the edit's day closes
    await e2e.runToCompletion(TPLUS);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the started plan was finished");
  });
});
