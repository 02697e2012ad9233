/**
 * Adversary of issue 16 (session 4): automatic replay of held (period_closed) letters, engine/held-replay.ts.
 * A held letter stores the source rows as they were when the target refused them; the replay rebuilds from those
 * rows without reading the source again, and (replay.ts writtenEntries) records no before-image. Real engine,
 * real clients, the emulators' period profile over loopback HTTP; checked with the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const letters = (e: E2E) => new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
function kisSource(e: E2E) {
  const until = e.clock.now() - 5 * 60_000;
  return sourceTotals(e.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => d.type === "其它退货" && parseInZone(String(d.modified))! < until);
}
async function settle(e: E2E, ms = 15 * 60_000) {
  e.clock.advance(ms);
  return e.runToCompletion(KIS);
}
/** A KIS flow whose first run leaves documents dated before June held as period_closed; returns one held document. */
async function heldDocument(periods: { closedBefore?: string; profile?: "yuejie" }) {
  e2e = await startE2E({ days: 25, otherInOut: 30, salesOut: 0, kis: { periods } });
  await e2e.runToCompletion(KIS);
  const held = (await letters(e2e)).filter((l) => l.error.code === "period_closed");
  expect(held.length).toBeGreaterThan(0);
  const docs = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut);
  const letter = held.find((l) => docs.some((d) => String(d.io_id) === l.externalKey && (d.items as Row[]).length >= 1))!;
  const doc = docs.find((d) => String(d.io_id) === letter.externalKey)!;
  return { e: e2e, letter, doc };
}

describe("adversary 16: held letters replayed after the source moved on", () => {
  // FINDING adv16-held-cancelled-replayed: a document refused as period_closed (held) is cancelled in 聚水潭 while
  // the period is closed. The run that reads the cancellation finds no image and no ledger entry (nothing posted),
  // so it does nothing and leaves the held letter open. After 反结账 the next run's held replay rebuilds the
  // document from the letter's stored rows and books it: a cancelled document is posted to KIS, nothing reports it.
  it.fails("FINDING adv16-held-cancelled-replayed: a held document cancelled while the period is closed is not booked after 反结账", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    const { e, letter, doc } = await heldDocument(periods);
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e);
    setPeriods(periods, {});
    await settle(e);
    await settle(e);
    const signed = kisTotals(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(letter.externalKey!)));
    expect([...signed.values()].every((q) => q === 0)).toBe(true);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()), "after 反结账");
  });

  // FINDING adv16-held-edited-stale: a held document is edited (a quantity corrected) while the period is closed.
  // The run reads it again, is refused again, and files a second letter with the new rows. After 反结账 the held
  // replay takes the oldest letter first and books the OLD quantities; the newer letter then meets a ledger entry
  // with other content (changed_after_write) and stays open, retried every run. KIS holds the stale numbers.
  it.fails("FINDING adv16-held-edited-stale: a held document edited while the period is closed is booked with its current quantities", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    const { e, doc } = await heldDocument(periods);
    const items = structuredClone(doc.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 5;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    await settle(e);
    setPeriods(periods, {});
    await settle(e);
    await settle(e);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()), "after 反结账");
    expect((await letters(e)).filter((l) => l.externalKey === String(doc.io_id))).toEqual([]);
  });

  // FINDING adv16-replayed-no-image: a held letter replayed (replay.ts replayRebuilt) records the document's ledger
  // entry but no before-image (img:<id>). When the document is later cancelled in 聚水潭, reviewDropped finds no
  // image and answers "new": no reversal, no dead letter, no alert — the bill stays in KIS for good. The same holds
  // for any dead letter replayed by hand (POST /dead-letters/:id/replay).
  it.fails("FINDING adv16-replayed-no-image: a document booked by a held replay and cancelled afterwards is reversed (or reported)", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    const { e, doc } = await heldDocument(periods);
    setPeriods(periods, {});
    await settle(e);
    expect(e.stack.kis.bills().map((b) => b.FBillNo)).toContain(String(doc.io_id));
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e);
    await settle(e);
    const reported = (await letters(e)).some((l) => String(l.externalKey ?? "").startsWith(String(doc.io_id)));
    const signed = kisTotals(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(String(doc.io_id))));
    expect(reported || [...signed.values()].every((q) => q === 0)).toBe(true);
  });
});
