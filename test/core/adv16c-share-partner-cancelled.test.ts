/**
 * Adversary 16c: a merged member imaged as its group share (member-lines.ts) edited in the same run as the member whose
 * quantity made its share map is cancelled. Real engine, real clients, T+ emulator over loopback HTTP; explicit clocks.
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

describe("adversary 16c: a share-imaged member edited while its partner is cancelled", () => {
  // FINDING adv16c-share-partner-cancelled (T+). Today's group G holds `other` (sku S × 3) and m (S × 0 carrying an
  // amount 10, plus an ordinary line L). m does not map alone (UNIT_PRICE(10, 0)), so it is imaged by its share of G
  // (member-lines.ts, the adv16b-member-no-image fix). In one window `other` is cancelled and m's line L is raised by 4.
  // The run reverses `other` (G-C1); for m, change-writer.ts memberNow tries alone (fails) then its share with the
  // group's other rows read in this run — `other` is now dropped by the condition, so m is built without a partner
  // for S and fails again: memberNow logs a warning and returns undefined, m is not reviewed, and no letter is filed
  // (memberUnfollowed is only used when imaging a written group).
  // Expected: L's +4 corrected (a G-C2 of m's lines other than S), or a change_unfollowed letter naming m.
  // Actual: 2024-06-20|10818|BXW40-42 source 7, target 3; no letter (only a log line).
  // Fault: change-writer.ts memberNow (the share is recomputed from the current rows of the other members, so a
  // partner's cancellation makes the member unfollowable; the fallback is a warning, not a letter).
  it("FINDING adv16c-share-partner-cancelled: the edit is corrected, or a letter names the member", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const { day, s, items, other, m } = addShareImagedPair(e2e);
    await settle(e2e);
    expect(e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode))).toContain(`SO-${day}-${String(m.wms_co_id)}`);
    // In one window: the partner cancelled, m's ordinary line +4.
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: other.io_id, status: "Cancelled" });
    jst.upsertDocument(JST_PATHS.salesOut, {
      io_id: m.io_id,
      items: [
        { ...s, qty: 0, sale_amount: 10 },
        { ...items[1]!, qty: Number(items[1]!.qty) + 4 },
      ],
    });
    await settle(e2e);
    await settle(e2e);
    const letters = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => !l.resolved && l.sourceId === String(m.io_id));
    if (letters.length) return;
    const group = `${day}|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after the edit");
  });
});
