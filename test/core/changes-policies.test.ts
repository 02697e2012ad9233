/**
 * Issue 16: one test per change policy and per target representation of red documents, and the closed-period
 * policies. Real engine and clients against the emulators' profiles (the red forms and refusal texts are not
 * public: ../shared/docs/reversals-and-periods.md), checked with the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startE2E, type E2E, type E2EOptions } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { assertSignedInvariant, kisTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { setPeriods } from "../emulators/periods.ts";
import { kisSource, tplusSource } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 60_000 });

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const posted = (e: E2E): Row[] => {
  const billNos = new Set(e.stack.kis.bills().map((b) => b.FBillNo));
  return e.stack.jushuitan.documents(JST_PATHS.otherInOut).filter((d) => billNos.has(String(d.io_id)));
};
/** A posted KIS document with at least two lines. */
const twoLines = (e: E2E) => posted(e).find((d) => (d.items as Row[]).length >= 2)!;
const members = (e: E2E) =>
  e.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .filter((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && (d.items as Row[]).length >= 2);
const deadLetters = (e: E2E, flow: string) => new FlowStateStore(e.kv).listDeadLetters(flow);

async function kisFlow(options: E2EOptions, mutate?: (e: E2E) => void) {
  e2e = await startE2E({ otherInOut: 40, salesOut: 0, ...options });
  mutate?.(e2e);
  expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
  return e2e;
}

/** T+ reads whole days of `modified`: the day of an edit must be over before the edit is read (as in changes-soak). */
async function settle(e: E2E, flow: string) {
  e.clock.advance(flow === TPLUS ? 24 * 3600_000 : 15 * 60_000);
  return e.runToCompletion(flow);
}

describe("KIS red bills (FROB = -1)", () => {
  it("KIS_RED_QTY_SIGN=positive: a cancelled bill's red bill carries positive quantities (project-matrix's form)", async () => {
    const e = await kisFlow({ env: { KIS_RED_QTY_SIGN: "positive" }, kis: { redQtySign: "positive" } });
    const doc = posted(e)[0]!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e, KIS);
    const red = e.stack.kis.bills().find((b) => b.FBillNo === `${String(doc.io_id)}-R1`)!;
    expect(red.Head.FROB).toBe(-1);
    expect(red.Entry.every((l) => Number(l.FQty) > 0)).toBe(true);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()));
  });

  it("KIS_CHANGE_MODE=difference: one line up, one down → a red bill of the decrease and a blue bill of the increase", async () => {
    const e = await kisFlow({ env: { KIS_CHANGE_MODE: "difference" } });
    const doc = twoLines(e);
    const items = structuredClone(doc.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 4;
    if (Number(items[1]!.qty) > 1) items[1]!.qty = Number(items[1]!.qty) - 1;
    else items.splice(1, 1); // a line of 1 is dropped instead
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    const runs = await settle(e, KIS);
    const keys = runs.flatMap((r) => r.corrections ?? []).map((c) => `${c.externalKey}:${c.kind}`);
    expect(keys).toEqual([`${String(doc.io_id)}-C1:red`, `${String(doc.io_id)}-C1-B:blue`]);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()));
  });

  it("cancel, then confirm again: the red bill R1, then a blue bill B2 — the document counts once", async () => {
    const e = await kisFlow({});
    const doc = posted(e)[0]!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e, KIS);
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    const runs = await settle(e, KIS);
    expect(runs.flatMap((r) => r.corrections ?? []).map((c) => c.externalKey)).toEqual([`${String(doc.io_id)}-B2`]);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()));
  });
});

describe("a refused correction", () => {
  it("is a dead letter whose replay writes exactly the correction; the next run settles it and writes nothing more", async () => {
    const reject: string[] = [];
    const e = await kisFlow({ kis: { rejectBillNos: reject } });
    const doc = posted(e)[0]!;
    reject.push(`${String(doc.io_id)}-R1`);
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    const first = await settle(e, KIS);
    expect(first.flatMap((r) => r.corrections ?? []).map((c) => [c.externalKey, c.status])).toEqual([[`${String(doc.io_id)}-R1`, "pending"]]);
    const letters = await deadLetters(e, KIS);
    expect(letters.map((l) => l.externalKey)).toEqual([`${String(doc.io_id)}-R1`]);
    reject.length = 0;
    const replay = await replayDeadLetter(e.ports, letters[0]!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replay.written).toEqual([{ externalKey: `${String(doc.io_id)}-R1`, status: "created" }]);
    const again = await settle(e, KIS);
    expect(again.reduce((n, r) => n + r.counts.written, 0)).toBe(0);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()));
    // The image moved on: cancelling stays settled, confirming again is B2.
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    const back = await settle(e, KIS);
    expect(back.flatMap((r) => r.corrections ?? []).map((c) => c.externalKey)).toEqual([`${String(doc.io_id)}-B2`]);
    assertSignedInvariant(kisSource(e), kisTotals(e.stack.kis.bills()));
  });
});

describe("T+ red vouchers", () => {
  it("return business type (TPLUS_RED_BUSI_TYPE=14, positive quantities): a member's up/down edit splits into C1 (14) and C1-B", async () => {
    e2e = await startE2E({
      otherInOut: 0,
      salesOut: 160,
      env: { TPLUS_RED_BUSI_TYPE: "14", TPLUS_RED_QTY_SIGN: "positive" },
      tplus: { redQuantities: "positive" },
    });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const m = members(e2e)[0]!;
    const items = structuredClone(m.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    items.splice(1, 1);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    const runs = await settle(e2e, TPLUS);
    const corrections = runs.flatMap((r) => r.corrections ?? []);
    expect(corrections.map((c) => c.kind)).toEqual(["red", "blue"]);
    expect(corrections[1]!.externalKey).toBe(`${corrections[0]!.externalKey}-B`);
    const red = e2e.stack.tplus.vouchers("otherDispatch").find((v) => v.ExternalCode === corrections[0]!.externalKey)!;
    expect((red.payload.BusiType as Row).Code).toBe("14");
    expect((red.payload.RDRecordDetails as Row[]).every((l) => Number(l.BaseQuantity) > 0)).toBe(true);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch"), { redBusiType: "14" }));
  });

  it("a member moved to another warehouse is reversed in its old group and posted in the new one", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const m = members(e2e)[0]!;
    const other = Number(m.wms_co_id) === 10817 ? 10818 : 10817;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, wms_co_id: other });
    const runs = await settle(e2e, TPLUS);
    expect(runs.flatMap((r) => r.corrections ?? []).map((c) => c.of)).toEqual([`SO-2024-06-19-${String(m.wms_co_id)}`]);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")));
    const again = await settle(e2e, TPLUS);
    expect(again.reduce((n, r) => n + r.counts.written, 0)).toBe(0);
  });

  it("negative quantities (default): a member's up/down edit is ONE signed voucher <group>-C1", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const m = members(e2e)[0]!;
    const items = structuredClone(m.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    items.splice(1, 1);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    const runs = await settle(e2e, TPLUS);
    const corrections = runs.flatMap((r) => r.corrections ?? []);
    expect(corrections.map((c) => c.kind)).toEqual(["signed"]);
    const v = e2e.stack.tplus.vouchers("otherDispatch").find((x) => x.ExternalCode === corrections[0]!.externalKey)!;
    const qtys = (v.payload.RDRecordDetails as Row[]).map((l) => Math.sign(Number(l.BaseQuantity)));
    expect(new Set(qtys)).toEqual(new Set([1, -1]));
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")));
  });
});

describe("onChange policies", () => {
  it("deadLetter: an edit and a cancellation are dead letters (changed_after_write, cancelled_after_write); nothing is written", async () => {
    const e = await kisFlow({}, (x) => (x.flows[KIS]!.target.onChange = "deadLetter"));
    const [a, b] = posted(e);
    const items = structuredClone(a!.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 1;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: a!.io_id, items });
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: b!.io_id, status: "Cancelled" });
    const before = e.stack.kis.bills().length;
    const runs = await settle(e, KIS);
    expect(runs.at(-1)!.outcome).toBe("partial");
    expect(e.stack.kis.bills().length).toBe(before);
    expect((await deadLetters(e, KIS)).map((d) => d.error.code).sort()).toEqual(["cancelled_after_write", "changed_after_write"]);
  });

  it("ignore: an edit changes nothing and files nothing", async () => {
    const e = await kisFlow({}, (x) => (x.flows[KIS]!.target.onChange = "ignore"));
    const a = posted(e)[0]!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: a.io_id, status: "Cancelled" });
    const before = e.stack.kis.bills().length;
    const runs = await settle(e, KIS);
    expect(runs.at(-1)!.outcome).toBe("success");
    expect(e.stack.kis.bills().length).toBe(before);
    expect(await deadLetters(e, KIS)).toEqual([]);
  });

  it("a ledger from before corrections (no before-image): an edit is a change_unknown dead letter, an unchanged re-read adopts the image", async () => {
    // First sync without onChange: the ledger has no images, as after an upgrade.
    const e = await kisFlow({}, (x) => delete x.flows[KIS]!.target.onChange);
    e.flows[KIS]!.target.onChange = "compensate";
    const [a, b] = posted(e);
    const items = structuredClone(a!.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 1;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: a!.io_id, items });
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: b!.io_id }); // re-saved unchanged: its image is adopted
    await settle(e, KIS);
    expect((await deadLetters(e, KIS)).map((d) => [d.sourceId, d.error.code])).toEqual([[String(a!.io_id), "change_unknown"]]);
    // b's image was adopted: cancelling it now is reversed.
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: b!.io_id, status: "Cancelled" });
    const runs = await settle(e, KIS);
    expect(runs.flatMap((r) => r.corrections ?? []).map((c) => c.externalKey)).toEqual([`${String(b!.io_id)}-R1`]);
  });
});

describe("a merged ledger from before corrections", () => {
  it("a member re-read unchanged adopts its image (and its group's head); cancelling it later is corrected", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    delete e2e.flows[TPLUS]!.target.onChange;
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    e2e.flows[TPLUS]!.target.onChange = "compensate";
    const m = members(e2e)[0]!;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id }); // re-saved unchanged
    const quiet = await settle(e2e, TPLUS);
    expect(quiet.flatMap((r) => r.corrections ?? [])).toEqual([]);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    const runs = await settle(e2e, TPLUS);
    expect(runs.flatMap((r) => r.corrections ?? []).map((c) => [c.sourceId, c.status])).toEqual([[String(m.io_id), "written"]]);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")));
  });
});

describe("closed periods", () => {
  const may = { days: 25, otherInOut: 30, salesOut: 0 };
  it("hold (default): a bill dated in a closed period is a period_closed dead letter; replayed after 反结账 it is written", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "current-period" as const };
    e2e = await startE2E({ ...may, kis: { periods } });
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("partial");
    const letters = await deadLetters(e2e, KIS);
    expect(letters.length).toBeGreaterThan(0);
    expect(new Set(letters.map((d) => d.error.code))).toEqual(new Set(["period_closed"]));
    // 反结账: the period reopens; replaying the letters writes them.
    setPeriods(periods, {});
    for (const l of letters) expect((await replayDeadLetter(e2e.ports, l.id, { by: "test", budget: { maxSubrequests: 100 } })).replayed).toBe(true);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()));
  });

  it("redate: the bill is written on the first day of the current month with the original date in the memo", async () => {
    e2e = await startE2E({ ...may, kis: { periods: { closedBefore: "2024-06-01", profile: "jiezhang" } } });
    e2e.flows[KIS]!.target.closedPeriod = "redate";
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("success");
    const redated = e2e.stack.kis.bills().filter((b) => String(b.Head.Fnote).includes("原日期 2024-05"));
    expect(redated.length).toBeGreaterThan(0);
    for (const b of redated) expect(String(b.Head.Fdate).slice(0, 10)).toBe("2024-06-01");
  });

  it("a date before the enable date is held (before_enable_date) even with redate", async () => {
    e2e = await startE2E({ ...may, kis: { periods: { enableDate: "2024-06-01" } } });
    e2e.flows[KIS]!.target.closedPeriod = "redate";
    await e2e.runToCompletion(KIS);
    const letters = await deadLetters(e2e, KIS);
    expect(letters.length).toBeGreaterThan(0);
    expect(new Set(letters.map((d) => d.error.code))).toEqual(new Set(["before_enable_date"]));
  });
});
