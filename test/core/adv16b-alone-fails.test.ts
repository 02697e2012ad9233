/**
 * Adversary 16b: a merged member that builds in its group but not alone (its before-image is never recorded).
 * Real engine, real clients, T+ emulator over loopback HTTP; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { addShareImagedPair } from "../helpers/share-imaged.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertTplusGroupInvariant, settleTplusDay as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: a member whose own lines do not map alone", () => {
  // FINDING adv16b-member-no-image: a member's before-image is its row built ALONE (change-writer.ts aloneLines /
  // imagesOf). Member m has a sku-S line of quantity 0 with an amount (10) beside an ordinary line; another member of
  // the day has S × 3, so in the group S sums to 3 and UNIT_PRICE works: the day voucher is written. Alone, m's S
  // line is UNIT_PRICE(10, 0) → a mapping error, so aloneLines returns undefined and m gets NO image (silently).
  // m is then cancelled: reviewDropped finds no image → "new" (never posted) → nothing. Expected: m's lines are
  // reversed in the group (or a letter names m). Actual (observed): 2024-06-20|10818|BXW40-42 source 0, target 3,
  // no letter. Any member that fails to build alone (a mapping error only its own lines trigger) is never followed:
  // its edits are adopted silently (reviewMember "no image: adopt"), its cancellation ignored. Fault:
  // change-writer.ts imagesOf / aloneLines (a failed alone-build is dropped without a letter or a fallback image).
  it("FINDING adv16b-member-no-image: a member with a quantity-0 line carrying an amount, cancelled after posting, is reversed", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    // Two documents of today (the day's voucher is written once the day is over) sharing sku S: one with S × 3,
    // the other with S × 0 carrying an amount (a price adjustment line) next to an ordinary line.
    const { day, other, m } = addShareImagedPair(e2e);
    await settle(e2e);
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode));
    expect(codes).toContain(`SO-${day}-${String(m.wms_co_id)}`);
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    await settle(e2e);
    await settle(e2e);
    expect(other.status).toBe("Confirmed");
    const letters = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => l.sourceId === String(m.io_id));
    expect(letters).toEqual([]); // followed: imaged by its share of the group, so no letter is needed
    const group = `${day}|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after the cancellation");
  });
  // The same member EDITED after posting (not cancelled): re-read as a member of a written group, its lines are its
  // share of the group again (the other members' rows are read with it), so the edit is corrected, not skipped.
  it("adv16b-member-no-image (edit): a member with a quantity-0 line carrying an amount, edited after posting, is corrected", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const { day, s, items, other, m } = addShareImagedPair(e2e);
    await settle(e2e);
    expect(e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode))).toContain(`SO-${day}-${String(m.wms_co_id)}`);
    // Both edited together (so both are read again): m's ordinary line +4.
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: other.io_id, remark: "touched" });
    jst.upsertDocument(JST_PATHS.salesOut, {
      io_id: m.io_id,
      items: [
        { ...s, qty: 0, sale_amount: 10 },
        { ...items[1]!, qty: Number(items[1]!.qty) + 4 },
      ],
    });
    await settle(e2e);
    await settle(e2e);
    const group = `${day}|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after the edit");
  });
});
