/**
 * Adversary 16c: placement.ts cases that held up (kept as regressions). Real engine, real clients, KIS emulator over
 * loopback HTTP; explicit clocks; the signed invariant per (day, warehouse, sku).
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

const dayBefore = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

describe("adversary 16c: KIS placement cases that held up", () => {
  it("KIS_CHANGE_MODE=difference, io_date edited only: reversed on the posted day, reposted on the new one", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, env: { KIS_CHANGE_MODE: "difference" } });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const day = String(doc.io_date).slice(0, 10);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, io_date: `${dayBefore(day)}${String(doc.io_date).slice(10)}` });
    await settle(e2e);
    // then a quantity edit on the new day: a difference correction on the new head
    const items = structuredClone(
      e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!.items as Array<Record<string, unknown>>,
    );
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the date edit and a quantity edit (difference)");
  });

  it("warehouse edited and the bill cancelled before the next run: reversed in the warehouse it was booked in", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const other = Number(doc.wms_co_id) === 10817 ? 10818 : 10817;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, wms_co_id: other, status: "Cancelled" });
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the move and cancel");
  });

  it("warehouse edited, then edited back before anything else: counted once where it is", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = postedDoc(e2e);
    const home = Number(doc.wms_co_id);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, wms_co_id: home === 10817 ? 10818 : 10817 });
    await settle(e2e);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, wms_co_id: home });
    await settle(e2e);
    await settle(e2e);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the move and back");
  });
});
