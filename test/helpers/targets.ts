/**
 * What the two seed flows must produce, computed from the Jushuitan emulator's documents with plain code
 * (no part of the bridge), and what the target emulators hold, in the same shape: KIS receipts by io_id
 * and T+ dispatches by day + warehouse, each with quantities per SKU. Web standards only (runs in workerd).
 */
import { SKUS } from "../emulators/catalog.ts";

type Row = Record<string, unknown>;
export type QtyBySku = Record<string, number>;

const parseShanghai = (s: unknown) => Date.parse(String(s).replace(" ", "T") + "+08:00");
const skuIdByKisItem = new Map(SKUS.map((s) => [String(s.kisItemId), s.skuId]));

function addItems(into: QtyBySku, items: unknown) {
  for (const item of items as Row[]) into[String(item.sku_id)] = (into[String(item.sku_id)] ?? 0) + Number(item.qty);
}

/** KIS flow: confirmed 其它退货 documents modified in [from, to). */
export function expectedKis(otherInOut: Row[], from: number, to: number): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const doc of otherInOut) {
    const modified = parseShanghai(doc.modified);
    if (doc.status !== "Confirmed" || doc.type !== "其它退货" || modified < from || modified >= to) continue;
    const qty: QtyBySku = {};
    addItems(qty, doc.items);
    out.set(String(doc.io_id), qty);
  }
  return out;
}

/** T+ flow: confirmed offline-shop (0) sales-out with io_date in [from, to), summed per day + warehouse. */
/**
 * `modifiedBefore`: the T+ seed reads by `modified` (issue 11 item 4), so a day's documents saved after the last
 * read are not written yet (they become a supplement of their day on a later run).
 */
export function expectedTplus(salesOut: Row[], from: number, to: number, modifiedBefore = Infinity, modifiedFrom = -Infinity): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const doc of salesOut) {
    const ioDate = parseShanghai(doc.io_date);
    if (doc.status !== "Confirmed" || Number(doc.shop_id) !== 0 || ioDate < from || ioDate >= to) continue;
    if (parseShanghai(doc.modified) >= modifiedBefore || parseShanghai(doc.modified) < modifiedFrom) continue;
    const key = `SO-${String(doc.io_date).slice(0, 10)}-${String(doc.wms_co_id)}`;
    const qty = out.get(key) ?? {};
    addItems(qty, doc.items);
    out.set(key, qty);
  }
  return out;
}

export function actualKis(bills: Array<{ FBillNo: string; Entry: Row[] }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const bill of bills) {
    const qty: QtyBySku = {};
    for (const e of bill.Entry) {
      const sku = skuIdByKisItem.get(String(e.FItemID)) ?? `?${String(e.FItemID)}`;
      qty[sku] = (qty[sku] ?? 0) + Number(e.FQty);
    }
    out.set(bill.FBillNo, qty);
  }
  return out;
}

/** Supplements (`<key>-S1` …, late arrivals) add to their group's totals. */
export function actualTplus(vouchers: Array<{ ExternalCode: string; payload: Row }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const v of vouchers) {
    const group = v.ExternalCode.replace(/-S\d+$/, "");
    const sum = out.get(group) ?? {};
    for (const d of v.payload.RDRecordDetails as Row[]) {
      const sku = String((d.Inventory as Row).Code);
      sum[sku] = (sum[sku] ?? 0) + Number(d.BaseQuantity);
    }
    out.set(group, sum);
  }
  return out;
}

/** Target quantities per merged group of the T+ sales flow, all parts (`-1`, `-2` …) and supplements (`-S1` …) summed. */
export function tplusByGroup(vouchers: Array<{ ExternalCode: string; payload: Row }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const v of vouchers) {
    const group = /^(SO-\d{4}-\d{2}-\d{2}-[^-]+)/.exec(v.ExternalCode)![1]!;
    const sum = out.get(group) ?? {};
    for (const d of v.payload.RDRecordDetails as Row[]) {
      const sku = String((d.Inventory as Row).Code);
      sum[sku] = Math.round(((sum[sku] ?? 0) + Number(d.BaseQuantity)) * 1e6) / 1e6;
    }
    out.set(group, sum);
  }
  return out;
}
