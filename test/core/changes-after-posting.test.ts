/**
 * Issue 16 / engine-review finding 5: a posted document that is edited or cancelled in Jushuitan must not keep
 * its old numbers in the target. After the runs settle, the target's signed quantities per (day, warehouse, sku)
 * equal the source's current Confirmed quantities (test/helpers/signed-invariant.ts).
 * Real engine, real clients, emulators over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { assertSignedInvariant, kisTotals, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { startOfToday } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 60_000 });

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const modifiedBefore = (until: number) => (d: Row) => parseInZone(String(d.modified))! < until;

/** KIS flow scope: 其它退货 documents the flow has read (modified before the run's end lag). */
function kisSource(e: E2E) {
  const until = e.clock.now() - 5 * 60_000;
  return sourceTotals(e.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => d.type === "其它退货" && modifiedBefore(until)(d));
}

/** T+ flow scope: offline-shop sales-out of the days already closed. */
/** Start of the clock's day in the flow's zone: the T+ seed reads by modified and writes a day once it is closed. */
function tplusSource(e: E2E, dayEnd: string) {
  const end = parseInZone(dayEnd)!;
  const read = startOfToday(e);
  return sourceTotals(
    e.stack.jushuitan.documents(JST_PATHS.salesOut),
    (d) => Number(d.shop_id) === 0 && parseInZone(String(d.io_date))! < end && parseInZone(String(d.modified))! < read,
  );
}

function postedKis(e: E2E, n: number): Row[] {
  const billNos = new Set(e.stack.kis.bills().map((b) => b.FBillNo));
  return e.stack.jushuitan
    .documents(JST_PATHS.otherInOut)
    .filter((d) => billNos.has(String(d.io_id)))
    .slice(0, n);
}

describe("changes after posting (finding 5)", () => {
  it("KIS: an edited and a cancelled bill are corrected with red bills, and the signed totals match the source", async () => {
    e2e = await startE2E({ otherInOut: 60, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the first sync");

    const [edited, cancelled] = postedKis(e2e, 2);
    const jst = e2e.stack.jushuitan;
    const items = structuredClone(edited!.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 7;
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: edited!.io_id, items });
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: cancelled!.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("success");

    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the edit and the cancellation");
    const corrections = runs.flatMap((r) => r.corrections ?? []);
    expect(corrections.map((c) => [c.externalKey, c.kind, c.status]).sort()).toEqual(
      [
        [`${String(cancelled!.io_id)}-R1`, "red", "written"],
        [`${String(edited!.io_id)}-R1`, "red", "written"],
        [`${String(edited!.io_id)}-B1`, "blue", "written"],
      ].sort(),
    );
    const red = e2e.stack.kis.bills().find((b) => b.FBillNo === `${String(cancelled!.io_id)}-R1`)!;
    expect(red.Head.FROB).toBe(-1);
    expect(String(red.Head.Fnote)).toContain(String(cancelled!.io_id));

    // Settled: another run writes nothing more.
    e2e.clock.advance(15 * 60_000);
    const again = await e2e.runToCompletion(KIS);
    expect(again.flatMap((r) => r.corrections ?? [])).toEqual([]);
    expect(again.reduce((n, r) => n + r.counts.written, 0)).toBe(0);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after a quiet run");
  });

  it("T+: a merged member edited and another cancelled become group corrections <group>-C<n>; totals match", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    assertSignedInvariant(tplusSource(e2e, "2024-06-20 00:00:00"), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the first sync");

    const jst = e2e.stack.jushuitan;
    const members = jst
      .documents(JST_PATHS.salesOut)
      .filter(
        (d) =>
          Number(d.shop_id) === 0 &&
          d.status === "Confirmed" &&
          String(d.io_date).startsWith("2024-06-19") &&
          parseInZone(String(d.modified))! < startOfToday(e2e!),
      );
    expect(members.length).toBeGreaterThanOrEqual(2);
    const [edited, cancelled] = members;
    const items = structuredClone(edited!.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 3;
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: edited!.io_id, items });
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: cancelled!.io_id, status: "Cancelled" });
    e2e.clock.advance(24 * 3600_000); // T+ reads whole days of modified: the edit's day must be over
    const runs = await e2e.runToCompletion(TPLUS);
    expect(runs.at(-1)!.outcome).toBe("success");

    assertSignedInvariant(
      tplusSource(e2e, "2024-06-20 00:00:00"),
      tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")),
      "after the edit and the cancellation",
    );
    const corrections = runs.flatMap((r) => r.corrections ?? []);
    expect(corrections).toHaveLength(2);
    for (const c of corrections) {
      expect(c.status).toBe("written");
      expect(c.externalKey).toMatch(/^SO-2024-06-19-\d+-C\d+$/);
    }
    expect(new Set(corrections.map((c) => c.sourceId))).toEqual(new Set([String(edited!.io_id), String(cancelled!.io_id)]));

    e2e.clock.advance(24 * 3600_000); // T+ reads whole days of modified: the edit's day must be over
    const again = await e2e.runToCompletion(TPLUS);
    expect(again.flatMap((r) => r.corrections ?? [])).toEqual([]);
    assertSignedInvariant(tplusSource(e2e, "2024-06-20 00:00:00"), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after a quiet run");
  });
});
