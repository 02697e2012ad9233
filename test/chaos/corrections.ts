/**
 * Issue 16 in the chaos verdict: a target key's corrections (`<key>-R<n>` reversal, `<key>-B<n>` re-booked blue,
 * `<group>-C<n>` difference, `<group>-S<n>` supplement) are not duplicates of it. The verdict judges each base key by
 * its SIGNED sum over all of them (red KIS bills, FROB -1, count negatively whatever the sign of FQty; T+ corrections
 * carry signed BaseQuantity), which is the signed invariant (test/helpers/signed-invariant.ts) per document or
 * day + warehouse group — finer than per (day, warehouse, sku), since every key lies in one day and warehouse.
 * Web standards only (runs in workerd).
 */
import { SKUS } from "../emulators/catalog.ts";
import type { QtyBySku } from "../helpers/targets.ts";

type Row = Record<string, unknown>;
const skuByKisItem = new Map(SKUS.map((s) => [String(s.kisItemId), String(s.skuId)]));
const CORRECTION = /-(?:R|B|C|S)\d+$/;

/** The document or group key a stored key belongs to. */
export const baseKey = (key: string): string => key.replace(CORRECTION, "");
export const isCorrectionKey = (key: string): boolean => CORRECTION.test(key) && !/-S\d+$/.test(key);

function addTo(out: Map<string, QtyBySku>, key: string, sku: string, qty: number) {
  const sum = out.get(key) ?? {};
  sum[sku] = Math.round(((sum[sku] ?? 0) + qty) * 1e6) / 1e6;
  if (sum[sku] === 0) delete sum[sku];
  out.set(key, sum);
}

/** KIS bills by base key, signed (FROB -1 negative). A key whose lines cancel out maps to {}. */
export function signedKis(bills: Array<{ FBillNo: string; Head?: Row; Entry: Row[] }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const bill of bills) {
    const key = baseKey(bill.FBillNo);
    if (!out.has(key)) out.set(key, {});
    const red = bill.Head?.FROB === -1;
    for (const e of bill.Entry) {
      const q = Number(e.FQty);
      addTo(out, key, skuByKisItem.get(String(e.FItemID)) ?? `?${String(e.FItemID)}`, red ? -Math.abs(q) : q);
    }
  }
  return out;
}

/** T+ vouchers by base group key, signed as written (negative BaseQuantity for red lines). */
export function signedTplus(vouchers: Array<{ ExternalCode: string; payload: Row }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const v of vouchers) {
    const key = baseKey(v.ExternalCode);
    if (!out.has(key)) out.set(key, {});
    for (const d of (v.payload.RDRecordDetails as Row[] | undefined) ?? []) addTo(out, key, String((d.Inventory as Row).Code), Number(d.BaseQuantity ?? d.Quantity));
  }
  return out;
}

/** Correction documents in the targets by kind: KIS reversals (-R), re-booked blues (-B), differences (-C); T+ group corrections (-C) and supplements (-S). */
export interface CorrectionCounts {
  reversals: number;
  rebooked: number;
  deltas: number;
  groupCorrections: number;
  supplements: number;
}

export function countCorrections(kisKeys: string[], tplusKeys: string[]): CorrectionCounts {
  const n = (keys: string[], suffix: string) => keys.filter((k) => new RegExp(`-${suffix}\\d+$`).test(k)).length;
  return { reversals: n(kisKeys, "R"), rebooked: n(kisKeys, "B"), deltas: n(kisKeys, "C"), groupCorrections: n(tplusKeys, "C"), supplements: n(tplusKeys, "S") };
}
