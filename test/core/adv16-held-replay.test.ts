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
import { assertSignedInvariant, kisTotals, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { firstPostedKisDocument, kisSource, settleKis as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const letters = (e: E2E) => new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
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
  it("FINDING adv16-held-cancelled-replayed: a held document cancelled while the period is closed is not booked after 反结账", async () => {
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

  // Fixer (held-letters.ts): the run that reads the cancellation withdraws the held letter, so nothing is booked even
  // when the period reopens days later (out of every run's window; the image-and-reverse path cannot help there).
  it("a held document cancelled while closed, 反结账 days later: never booked, its letter withdrawn", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    const { e, letter, doc } = await heldDocument(periods);
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e);
    for (let i = 0; i < 3; i++) await settle(e, 24 * 3600_000);
    setPeriods(periods, {});
    await settle(e);
    await settle(e);
    expect(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(letter.externalKey!))).toEqual([]);
    const mine = (await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "all" })).filter((l) => l.externalKey === letter.externalKey);
    expect(mine.map((l) => l.resolved?.reason.split(":")[0])).toEqual(["withdrawn"]);
  });

  // FINDING adv16-held-edited-stale: a held document is edited (a quantity corrected) while the period is closed.
  // The run reads it again, is refused again, and files a second letter with the new rows. After 反结账 the held
  // replay takes the oldest letter first and books the OLD quantities; the newer letter then meets a ledger entry
  // with other content (changed_after_write) and stays open, retried every run. KIS holds the stale numbers.
  it("FINDING adv16-held-edited-stale: a held document edited while the period is closed is booked with its current quantities", async () => {
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
  it("FINDING adv16-replayed-no-image: a document booked by a held replay and cancelled afterwards is reversed (or reported)", async () => {
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

describe("adversary 16: a held reversal replayed long after the document went back", () => {
  // FINDING adv16-held-red-stale: the unmerged analogue of the known merged limitation (changes-adversary16
  // 'C1 held…'), reached by the automatic replay. A posted document is cancelled while its period is closed: its
  // reversal <id>-R1 is held. It is confirmed again (same lines): nothing is due against its image. Days later the
  // accountant reopens the period; the next run's held replay writes R1 as planned. The document is no longer in any
  // run's window (its last edit is days old), so nothing posts it again: KIS holds it reversed while it is Confirmed.
  // (The existing passing test replays right after the re-confirmation, inside the lookback window, so the next run
  // re-reads the document and posts B1.)
  it("FINDING adv16-held-red-stale: a reversal held while the document was re-confirmed, replayed days later, leaves the document counted once", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, kis: { periods } });
    await e2e.runToCompletion(KIS);
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const next = new Date(parseInZone(`${String(doc.io_date).slice(0, 10)} 00:00:00`)! + 36 * 3600_000).toISOString().slice(0, 10);
    setPeriods(periods, { closedBefore: next });
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e2e);
    expect((await letters(e2e)).filter((l) => l.externalKey === `${id}-R1`).map((l) => l.error.code)).toEqual(["period_closed"]);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    for (let i = 0; i < 3; i++) await settle(e2e, 24 * 3600_000);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e);
    const signed = kisTotals(e2e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(id)));
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, signed, "the document after 反结账");
  });
});

describe("adversary 16: held letters of a period that stays closed", () => {
  // FINDING adv16-held-head-of-line: the held replay tries the oldest held letter and stops at the first refusal
  // ("its period, and so every later one's, most likely, is still closed"). Age is the letter's creation, not the
  // document's date: letters filed by one run are ordered by id. When the accountant reopens only the later
  // period (反结账 of May's last week while earlier stays closed, or a year closed for good), a still-refused letter
  // at the head blocks every reopened one forever: the promise "replayed when the period reopens" fails silently
  // (an info log each run).
  it("FINDING adv16-held-head-of-line: letters of a reopened period replay although an older letter's period stays closed", async () => {
    // Days before 05-29 are closed for good; a late document dated 05-30 arrives while 05-29… is closed too.
    const periods = { closedBefore: "2024-05-29", profile: "yuejie" as const };
    e2e = await startE2E({ days: 30, otherInOut: 40, salesOut: 0, kis: { periods } });
    await e2e.runToCompletion(KIS);
    const older = (await letters(e2e)).filter((l) => l.error.code === "period_closed");
    expect(older.length).toBeGreaterThan(0);
    setPeriods(periods, { closedBefore: "2024-06-01", profile: "yuejie" });
    const {
      io_id: _i,
      modified: _m,
      ts: _t,
      ...copy
    } = structuredClone(e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!);
    const late = e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { ...copy, io_date: "2024-05-30 10:00:00", status: "Confirmed" });
    await settle(e2e);
    expect((await letters(e2e)).filter((l) => l.externalKey === String(late.io_id)).map((l) => l.error.code)).toEqual(["period_closed"]);
    // Days pass while closed: the late document leaves every run's window; only the held replay can write it now.
    for (let i = 0; i < 3; i++) await settle(e2e, 24 * 3600_000);
    // 反结账 of 05-29… only: the older letters stay refused, the late document's letter can be written now.
    setPeriods(periods, { closedBefore: "2024-05-29", profile: "yuejie" });
    await settle(e2e);
    await settle(e2e);
    expect(e2e.stack.kis.bills().map((b) => b.FBillNo)).toContain(String(late.io_id));
  });
});

describe("adversary 16: a held merged day voucher whose member is cancelled meanwhile", () => {
  // FINDING adv16-held-group-cancelled-member: T+ merged flow; the day voucher of 06-19 is refused (period closed)
  // and held with its outbox plan. While held, one of its members is cancelled in 聚水潭. The run that reads the
  // cancellation finds no member image (the group was never written) and does nothing; after 反结账 the held
  // replay writes the planned voucher as stored, with the cancelled member's lines, and records no member images.
  // The day's voucher then exceeds the source by that member for good: the issue's headline promise ("a
  // cancellation propagates into a merged voucher") fails on the hold path.
  it("FINDING adv16-held-group-cancelled-member: a member cancelled while its day voucher is held is not booked after 反结账", async () => {
    const TPLUS = "jst-sales-out-to-tplus";
    const periods: { closedBefore?: string } = { closedBefore: "2024-06-20" };
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    await e2e.runToCompletion(TPLUS);
    const held = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS, { status: "open" })).filter((l) => l.error.code === "period_closed");
    expect(held.length).toBeGreaterThan(0);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19"))!;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    setPeriods(periods, {});
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    const group = `2024-06-19|${String(m.wms_co_id)}|`;
    const only = (t: Map<string, number>) => new Map([...t].filter(([k]) => k.startsWith(group)));
    const source = sourceTotals(
      e2e.stack.jushuitan.documents(JST_PATHS.salesOut),
      (d) => Number(d.shop_id) === 0 && String(d.io_date).startsWith("2024-06-19"),
    );
    assertSignedInvariant(only(source), only(tplusTotals(e2e.stack.tplus.vouchers("otherDispatch"))), "the member's day after 反结账");
    // Fixer: the cancellation became a group correction held behind the plan; both replayed once, nothing left open.
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode));
    expect(codes.length).toBe(new Set(codes).size);
    expect(codes.some((c) => /-C\d+$/.test(c))).toBe(true);
    const open = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS, { status: "open" })).filter((l) => l.error.code === "period_closed");
    expect(open).toEqual([]);
  });
});

describe("fixer: a held merged day voucher whose member is edited meanwhile", () => {
  // The edit is read while the plan is held: the member is imaged as planned and its difference becomes a group
  // correction held behind the plan (change-writer.ts heldMemberImaged); after 反结账 the day sums to the source.
  it("T+: a member edited while its day voucher is held is booked with its current quantities after 反结账", async () => {
    const TPLUS = "jst-sales-out-to-tplus";
    const periods: { closedBefore?: string } = { closedBefore: "2024-06-20" };
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    await e2e.runToCompletion(TPLUS);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19"))!;
    const items = structuredClone(m.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 3;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    setPeriods(periods, {});
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    const group = `2024-06-19|${String(m.wms_co_id)}|`;
    const only = (t: Map<string, number>) => new Map([...t].filter(([k]) => k.startsWith(group)));
    const source = sourceTotals(
      e2e.stack.jushuitan.documents(JST_PATHS.salesOut),
      (d) => Number(d.shop_id) === 0 && String(d.io_date).startsWith("2024-06-19"),
    );
    assertSignedInvariant(only(source), only(tplusTotals(e2e.stack.tplus.vouchers("otherDispatch"))), "the edited member's day after 反结账");
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode));
    expect(codes.length).toBe(new Set(codes).size);
  });
});

describe("adversary 16: closedPeriod redate, then a correction", () => {
  // FINDING adv16-redate-correction-other-day: with closedPeriod "redate" a document of a closed period is booked on
  // the first day of the current month (06-01). Its before-image keeps the head of the document as built (dated
  // 05-30), so when the source is cancelled after the period reopened, the reversal R1 is dated 05-30: KIS then holds
  // +q on 06-01 and -q on 05-30 — a closed-and-reopened period gets negative stock and June keeps the cancelled
  // quantities. A reversal must land where the blue was booked (the image should keep the date actually written).
  it("FINDING adv16-redate-correction-other-day: the reversal of a redated document lands on the day it was booked", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    e2e = await startE2E({ days: 25, otherInOut: 30, salesOut: 0, kis: { periods } });
    e2e.flows[KIS]!.target.closedPeriod = "redate";
    await e2e.runToCompletion(KIS);
    const bill = e2e.stack.kis.bills().find((b) => /原日期/.test(JSON.stringify(b.Head)))!;
    expect(bill).toBeDefined();
    const id = String(bill.FBillNo);
    setPeriods(periods, {});
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: Number(id), status: "Cancelled" });
    await settle(e2e);
    await settle(e2e);
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(id));
    expect(mine.map((b) => b.FBillNo).sort()).toEqual([id, `${id}-R1`]);
    const signed = kisTotals(mine);
    expect([...signed.entries()].filter(([, q]) => q !== 0)).toEqual([]);
  });
});

describe("adversary 16: a held merged day voucher and a late member", () => {
  // Probe of the hold path with a late arrival: the day voucher of 06-19 is held (period closed); a late member of
  // 06-19 arrives while closed; days pass; 反结账. The day's group must then sum to the source.
  it("T+: a late member of a held day is booked once after 反结账", async () => {
    const TPLUS = "jst-sales-out-to-tplus";
    const periods: { closedBefore?: string } = { closedBefore: "2024-06-20" };
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    await e2e.runToCompletion(TPLUS);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19"))!;
    const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(m);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { ...copy, status: "Confirmed" });
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    setPeriods(periods, {});
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(24 * 3600_000);
      await e2e.runToCompletion(TPLUS);
    }
    const group = `2024-06-19|${String(m.wms_co_id)}|`;
    const only = (t: Map<string, number>) => new Map([...t].filter(([k]) => k.startsWith(group)));
    const source = sourceTotals(
      e2e.stack.jushuitan.documents(JST_PATHS.salesOut),
      (d) => Number(d.shop_id) === 0 && String(d.io_date).startsWith("2024-06-19"),
    );
    assertSignedInvariant(only(source), only(tplusTotals(e2e.stack.tplus.vouchers("otherDispatch"))), "the late member's day after 反结账");
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    expect(codes.length).toBe(new Set(codes).size);
  });
});
