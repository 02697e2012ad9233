/**
 * adv16c-line-warehouses, the edits and the upgrade: a KIS flow whose lines carry their own warehouse (Entry.FDCStockID
 * from the line), one sku on two lines in two warehouses. A per-line warehouse move and a one-line quantity edit
 * (KIS_CHANGE_MODE=difference) are corrected where the lines stand; a ledger written by the older version (images
 * summed per item, no `p`) loads without spurious corrections and is upgraded in place. Real engine, real clients,
 * emulators over loopback HTTP; explicit clocks; signed totals per (day, warehouse, sku) from the bills' own fields.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { imageKey } from "../../shared/engine/changes.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import type { LedgerEntry, StoredImageLine } from "../../shared/state/records.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisTotals, signedDifferences, type SignedTotals } from "../helpers/signed-invariant.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;
type Field = { field: string; value?: unknown; children?: Field[] };

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Bill D posted: one sku × 5 in 10817 and × 3 in 10818 on two lines, each line's warehouse its own. */
async function postedSplitBill(env: Record<string, string> = {}) {
  e2e = await startE2E({ otherInOut: 40, salesOut: 0, env });
  const entry = (e2e.flows[KIS]!.target.fields as Field[]).find((f) => f.field === "Entry")!;
  entry.children!.find((c) => c.field === "FDCStockID")!.value = "_findCollection find kis_stock_id from warehouses where wms_co_id={line_wms} _endFind";
  const jst = e2e.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(template);
  const item = structuredClone((template.items as Row[])[0]!);
  for (const d of jst.documents(JST_PATHS.otherInOut))
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: d.io_id, items: (d.items as Row[]).map((i) => ({ ...i, line_wms: d.wms_co_id })) });
  const doc = jst.upsertDocument(JST_PATHS.otherInOut, {
    ...copy,
    wms_co_id: 10817,
    items: [
      { ...item, qty: 5, line_wms: 10817 },
      { ...item, qty: 3, line_wms: 10818 },
    ],
  });
  e2e.clock.advance(15 * 60_000);
  await e2e.runToCompletion(KIS);
  const id = String(doc.io_id);
  const mine = () => e2e!.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
  expect(mine().map((b) => String(b.FBillNo))).toEqual([id]);
  /** Edits D's lines (or status) and lets two runs read it. */
  const edit = async (patch: Row) => {
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, ...patch });
    for (let i = 0; i < 2; i++) {
      e2e!.clock.advance(15 * 60_000);
      await e2e!.runToCompletion(KIS);
    }
  };
  /** D's source totals per (day, line warehouse, sku), 0 when cancelled. */
  const source = (): SignedTotals => {
    const now = jst.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!;
    const out: SignedTotals = new Map();
    if (now.status !== "Confirmed") return out;
    for (const i of now.items as Row[]) {
      const k = `${String(now.io_date).slice(0, 10)}|${String(i.line_wms)}|${String(i.sku_id)}`;
      out.set(k, (out.get(k) ?? 0) + Number(i.qty));
    }
    return out;
  };
  return { id, item, mine, edit, source, e2e };
}

describe("adv16c-line-warehouses: edits of lines that stand in their own warehouses", () => {
  it("the second of two same-sku lines moved to the first one's warehouse: the bill is reversed and posted where it stands now", async () => {
    const t = await postedSplitBill();
    await t.edit({
      items: [
        { ...t.item, qty: 5, line_wms: 10817 },
        { ...t.item, qty: 3, line_wms: 10817 },
      ],
    });
    expect(t.mine().map((b) => String(b.FBillNo))).toEqual([t.id, `${t.id}-R1`, `${t.id}-B1`]);
    expect(signedDifferences(t.source(), kisTotals(t.mine()))).toEqual([]);
  });

  it("KIS_CHANGE_MODE=difference: one line's quantity edited is corrected in that line's warehouse", async () => {
    const t = await postedSplitBill({ KIS_CHANGE_MODE: "difference" });
    await t.edit({
      items: [
        { ...t.item, qty: 5, line_wms: 10817 },
        { ...t.item, qty: 4, line_wms: 10818 },
      ],
    });
    expect(signedDifferences(t.source(), kisTotals(t.mine()))).toEqual([]);
    // One blue bill of +1, in 10818's stock.
    const corrections = t.mine().filter((b) => String(b.FBillNo) !== t.id);
    expect(corrections.map((b) => (b.Entry as Row[]).map((e) => [e.FDCStockID, e.FQty]))).toEqual([[["302", 1]]]);
  });
});

describe("adv16c-line-warehouses: a ledger written by the older version (images per item alone)", () => {
  /** Rewrites D's image as the older version stored it: lines summed per item, the first line's fields, no `p`. */
  async function toOlderImage(t: Awaited<ReturnType<typeof postedSplitBill>>) {
    const store = new FlowStateStore(t.e2e.kv);
    const entry = (await store.ledgerView(KIS))(imageKey(t.id))!;
    expect(entry.before?.p).toBe(1);
    expect(entry.before!.l.map((l) => l[1])).toEqual([5, 3]);
    const lines = entry.before!.l;
    const summed: StoredImageLine = [lines[0]![0], lines.reduce((s, l) => s + l[1], 0), lines.reduce((s, l) => s + Number(l[2] ?? 0), 0), lines[0]![3]];
    const { p: _p, ...older } = entry.before!;
    const legacy: LedgerEntry = { ...entry, before: { ...older, l: [summed] }, writtenAt: entry.writtenAt + 1 };
    await store.ledgerAppend(KIS, [legacy]);
    expect((await new FlowStateStore(t.e2e.kv).ledgerView(KIS))(imageKey(t.id))?.before?.l).toHaveLength(1);
  }

  it("re-read unchanged: no correction, the exact image is adopted, and a later cancellation nets every warehouse to 0", async () => {
    const t = await postedSplitBill();
    await toOlderImage(t);
    await t.edit({ status: "Confirmed" }); // re-saved unchanged after the upgrade
    expect(t.mine().map((b) => String(b.FBillNo))).toEqual([t.id]);
    const adopted = (await new FlowStateStore(t.e2e.kv).ledgerView(KIS))(imageKey(t.id))?.before;
    expect(adopted?.p).toBe(1);
    expect(adopted?.l.map((l) => l[1])).toEqual([5, 3]);
    await t.edit({ status: "Cancelled" });
    expect(t.mine().map((b) => String(b.FBillNo))).toEqual([t.id, `${t.id}-R1`]);
    expect(signedDifferences(t.source(), kisTotals(t.mine()))).toEqual([]);
  });

  it("changed while its image is the older one: no guessed correction, a change_unknown letter names the split item", async () => {
    const t = await postedSplitBill();
    await toOlderImage(t);
    await t.edit({
      items: [
        { ...t.item, qty: 5, line_wms: 10817 },
        { ...t.item, qty: 4, line_wms: 10818 },
      ],
    });
    expect(t.mine().map((b) => String(b.FBillNo))).toEqual([t.id]);
    const letters = await new FlowStateStore(t.e2e.kv).listDeadLetters(KIS);
    const unknown = letters.filter((l) => l.error.code === "change_unknown" && !l.resolved);
    expect(unknown.map((l) => [l.sourceId, l.error.message])).toEqual([[t.id, expect.stringMatching(/more than one warehouse.*older version/)]]);
  });
});
