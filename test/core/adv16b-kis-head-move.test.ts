/**
 * Adversary 16b: a KIS bill whose date or warehouse is edited in 聚水潭 after posting, its lines unchanged.
 * Real engine, real clients, emulators over loopback HTTP; the signed invariant per (day, warehouse, sku).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals } from "../helpers/signed-invariant.ts";
import { kisSource, settleKis as settle, firstPostedKisDocument as postedDoc } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: a posted KIS bill moved to another day or warehouse (lines unchanged)", () => {
  // FINDING adv16b-kis-head-move (warehouse): the KIS before-image keys lines by FItemID only and compares
  // quantities and amounts (changes.ts reviewDocument → sameLines); the warehouse (Head.FDCStockID and the
  // lines' FDCStockID, kept in the image's `rest` / `h`) is not compared. A bill posted into warehouse W1 whose
  // wms_co_id is then edited to W2 in 聚水潭 is "unchanged": nothing is corrected. Expected: the stock moves —
  // W1 −q, W2 +q per sku (R1 + B1 under reverse_repost). Actual: target keeps +q in W1, 0 in W2; the signed
  // invariant differs at every (day, W1, sku) and (day, W2, sku) of the bill, and no letter or warning says so.
  it("FINDING adv16b-kis-head-move: a posted bill's warehouse edited: the stock moves to the new warehouse", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const other = Number(doc.wms_co_id) === 10817 ? 10818 : 10817;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, wms_co_id: other });
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the warehouse edit");
  });

  // FINDING adv16b-kis-head-move (date): same cause for Head.Fdate (docs/changes.md: "Only lines count: a head-only
  // change (a remark) posts nothing" — but io_date is where the stock counts, not a remark). A bill dated D whose
  // io_date is edited to D−1 keeps counting on D. Expected: D −q, D−1 +q per sku. Actual: D +q, D−1 0.
  it("FINDING adv16b-kis-head-move: a posted bill's io_date edited: the stock moves to the new day", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const day = String(doc.io_date).slice(0, 10);
    const before = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, io_date: `${before}${String(doc.io_date).slice(10)}` });
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the date edit");
  });

  // FINDING adv16b-kis-red-current-head: the date edited together with a quantity (so a correction IS made): the
  // reverse_repost event composes its red R1 on the CURRENT head (changes.ts reviewDocument passes
  // shape.head(doc.payload) to documentCorrections, used for every step), not on the head that was posted (img.h,
  // which reviewDropped uses). R1 therefore reverses the posted lines on the NEW day while they were booked on the old
  // one. Expected: old day 0, new day = current lines. Actual: old day keeps +posted, new day gets −posted + current
  // (observed: 2024-06-15 BB600-32 +28, MZ500-13 +7, NZK30-32 +27, NZK30-44 +23 where the source has 0; 2024-06-14
  // NZK30-44 +2 (−23 + 25), the others 0, where the source has 28/7/27/25).
  it("FINDING adv16b-kis-red-current-head: io_date and a quantity edited together: the reversal lands on the day the bill was booked", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const day = String(doc.io_date).slice(0, 10);
    const before = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const items = structuredClone(doc.items as Array<Record<string, unknown>>);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items, io_date: `${before}${String(doc.io_date).slice(10)}` });
    const runs = await settle(e2e);
    expect(runs.flatMap((r) => r.corrections ?? []).map((c) => c.kind)).toEqual(["red", "blue"]);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the date and quantity edit");
  });
});
