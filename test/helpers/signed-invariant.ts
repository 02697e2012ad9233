/**
 * The signed invariant (issue 16, docs/changes.md): after the runs settle, for every (day, warehouse, sku) the
 * target's signed quantities — blue documents, supplements, red/reversing documents and corrections together —
 * sum to the source's CURRENT Confirmed quantities. Plain code over the emulators' stores, no part of the bridge;
 * web standards only (usable from the chaos suite in workerd too).
 *
 * Red documents count negatively whichever representation the target profile uses: KIS FROB = -1 with negative
 * or positive FQty (KIS_RED_QTY_SIGN), T+ negative BaseQuantity, or a return business type with positive ones
 * (TPLUS_RED_BUSI_TYPE).
 */
import { SKUS, WAREHOUSES } from "../emulators/catalog.ts";

type Row = Record<string, unknown>;
/** `day|warehouse|sku` → signed quantity. */
export type SignedTotals = Map<string, number>;

const skuByKisItem = new Map(SKUS.map((s) => [String(s.kisItemId), String(s.skuId)]));
const wmsByKisStock = new Map(WAREHOUSES.map((w) => [String(w.kisStockId), String(w.jstWmsCoId)]));
const wmsByTplus = new Map(WAREHOUSES.map((w) => [w.tplusCode, String(w.jstWmsCoId)]));
const round = (n: number) => Math.round(n * 1e6) / 1e6;

function add(into: SignedTotals, day: string, warehouse: string, sku: string, qty: number) {
  const key = `${day}|${warehouse}|${sku}`;
  into.set(key, round((into.get(key) ?? 0) + qty));
}

/** Source: Confirmed documents (that `include` admits), by io_date day, wms_co_id and sku. */
export function sourceTotals(docs: Row[], include: (doc: Row) => boolean = () => true): SignedTotals {
  const out: SignedTotals = new Map();
  for (const doc of docs) {
    if (doc.status !== "Confirmed" || !include(doc)) continue;
    for (const item of (doc.items as Row[] | undefined) ?? [])
      add(out, String(doc.io_date).slice(0, 10), String(doc.wms_co_id), String(item.sku_id), Number(item.qty));
  }
  return out;
}

/** One signed target line: where it counts (day, warehouse as Jushuitan's wms_co_id, sku) and how much. */
export interface SignedLine {
  day: string;
  warehouse: string;
  sku: string;
  qty: number;
}

/** A KIS bill's lines, signed: FROB = -1 counts negatively whatever the sign of FQty (KIS_RED_QTY_SIGN). */
export function kisSignedLines(bill: { Head?: Row; Entry: Row[] }): SignedLine[] {
  const head = bill.Head ?? {};
  const red = head.FROB === -1;
  const day = String(head.Fdate).slice(0, 10);
  return bill.Entry.map((e) => {
    const stock = String(e.FDCStockID ?? e.FSCStockID ?? head.FDCStockID ?? head.FSCStockID);
    const q = Number(e.FQty);
    return {
      day,
      warehouse: wmsByKisStock.get(stock) ?? `?${stock}`,
      sku: skuByKisItem.get(String(e.FItemID)) ?? `?${String(e.FItemID)}`,
      qty: red ? -Math.abs(q) : q,
    };
  });
}

/** KIS bills (emulator `bills()`), by (day, warehouse, sku). */
export function kisTotals(bills: Array<{ Head: Row; Entry: Row[] }>): SignedTotals {
  const out: SignedTotals = new Map();
  for (const bill of bills) for (const l of kisSignedLines(bill)) add(out, l.day, l.warehouse, l.sku, l.qty);
  return out;
}

/** A T+ voucher's lines: quantities as signed, or negated under a return business type (TPLUS_RED_BUSI_TYPE). */
export function tplusSignedLines(voucher: { payload: Row }, options: { redBusiType?: string } = {}): SignedLine[] {
  const p = voucher.payload;
  const busi = (p.BusiType as Row | undefined)?.Code;
  const red = options.redBusiType !== undefined && String(busi) === options.redBusiType;
  const day = String(p.VoucherDate).slice(0, 10);
  const wh = String((p.Warehouse as Row | undefined)?.Code);
  return ((p.RDRecordDetails as Row[] | undefined) ?? []).map((d) => {
    const q = Number(d.BaseQuantity ?? d.Quantity);
    return { day, warehouse: wmsByTplus.get(wh) ?? `?${wh}`, sku: String((d.Inventory as Row).Code), qty: red ? -Math.abs(q) : q };
  });
}

/** T+ vouchers (emulator `vouchers(resource)`), by (day, warehouse, sku). */
export function tplusTotals(vouchers: Array<{ payload: Row }>, options: { redBusiType?: string } = {}): SignedTotals {
  const out: SignedTotals = new Map();
  for (const v of vouchers) for (const l of tplusSignedLines(v, options)) add(out, l.day, l.warehouse, l.sku, l.qty);
  return out;
}

/** Keys whose totals differ (missing counts as 0), as readable lines; empty when the invariant holds. */
export function signedDifferences(source: SignedTotals, target: SignedTotals): string[] {
  const keys = [...new Set([...source.keys(), ...target.keys()])].sort();
  const out: string[] = [];
  for (const k of keys) {
    const a = source.get(k) ?? 0;
    const b = target.get(k) ?? 0;
    if (Math.abs(a - b) > 1e-6) out.push(`${k}: source ${a}, target ${b}`);
  }
  return out;
}

/** Throws with every differing (day, warehouse, sku) when the target's signed totals are not the source's. */
export function assertSignedInvariant(source: SignedTotals, target: SignedTotals, label = "signed invariant"): void {
  const diff = signedDifferences(source, target);
  if (diff.length) throw new Error(`${label} broken at ${diff.length} (day, warehouse, sku):\n${diff.slice(0, 20).join("\n")}`);
}
