/**
 * A merged T+ group whose outbox plan an invocation started (the plan saved, its voucher written, the invocation killed
 * before the plan closed) and one of whose members is edited before the next run reads it again. The next run rebuilds
 * the group with the member's new lines, finds the started plan and finishes it as planned (the voucher already holds
 * the old lines): the member must then be corrected against the plan, or the target keeps the old quantities for good
 * (no later run reads the member again). Found by the long chaos suite (seeds 9068, 9052: a killed or budget-stopped
 * T+ invocation, then jst.editSales re-stamping members the next invocation read).
 * Real engine, real clients, emulators over loopback HTTP; explicit clock (E2E_START), no wall-clock dependence.
 */
import { afterEach, describe, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { tplusSource } from "../helpers/seed-scope.ts";
import { killAfterFirstVoucher as killedAfterFirstVoucher } from "../helpers/killed-first-voucher.ts";

vi.setConfig({ testTimeout: 90_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** The confirmed closed-day members of the first voucher's group, once a T+ run is killed after writing it. */
const killAfterFirstVoucher = async (e: E2E): Promise<Row[]> => (await killedAfterFirstVoucher(e)).members;

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
