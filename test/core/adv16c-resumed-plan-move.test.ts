/**
 * Adversary 16c: a started merge plan (outbox) finished by the next run after one of its members was moved to another
 * day (change-writer.ts reviewPlanMembers: "a member now built into another group is left alone").
 * Real engine, real clients, emulators over loopback HTTP; explicit clock (E2E_START), no wall-clock dependence.
 */
import { afterEach, describe, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { tplusSource } from "../helpers/seed-scope.ts";
import { killAfterFirstVoucher } from "../helpers/killed-first-voucher.ts";

vi.setConfig({ testTimeout: 90_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16c: a started merge plan finished after one of its members moved to the next day", () => {
  // FINDING adv16c-resumed-plan-move (T+). A run is killed after writing the first day voucher G14 = SO-2024-06-14-10818
  // (its outbox plan saved and written, never closed). Its (only) member m has its io_date edited to 06-15 before the
  // next run. That run builds m into G15 (SO-2024-06-15-10818, a new group) and writes G15 with m; the started G14 plan,
  // whose group no longer builds, is finished after it (outbox-writer.ts: such plans are queued after the built
  // groups) and images its members as planned — m's image goes back to {G14}, over the G15 image just written.
  // reviewPlanMembers leaves m alone (it builds into another group). The next run reads m (skipped: G15 lists it),
  // finds its image in G14 and takes it for a member moved back (changes.ts reviewMember moved branch): G14-C1 (−m)
  // AND G15-C1 (+m), though G15 already counts m.
  // Expected: m counts once, in 06-15 (G14 + G14-C1 = 0, G15 holds m). Actual: 06-15 counts m twice (observed
  // 2024-06-15|10818: BB600-14 source 4 target 8, BXW40-42 3→6, MZ500-14 2→4), no letter.
  // Fault: outbox-writer.ts (a resumed plan's images overwrite a newer image of a member written in another group
  // in the same run; the plan's imagesOf does not check the member's current image) + change-writer.ts
  // reviewPlanMembers leaving a moved member to a later run that misreads the registry.
  it("FINDING adv16c-resumed-plan-move: the moved member counts once, in its new day", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    const { day, members } = await killAfterFirstVoucher(e2e);
    const moved = members[0]!;
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: moved.io_id, io_date: String(moved.io_date).replace(day, next) });
    e2e.clock.advance(DAY); // the dead run's lease expires; the edit's day closes
    await e2e.runToCompletion(TPLUS);
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the started plan was finished");
  });
});
