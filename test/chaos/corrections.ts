/**
 * Issue 16 in the chaos verdict: a target key's corrections (`<key>-R<n>` reversal, `<key>-B<n>` re-booked blue,
 * `<group>-C<n>` difference, `<group>-S<n>` supplement) are not duplicates of it. The verdict judges each base key by
 * its SIGNED sum over all of them (red KIS bills, FROB -1, count negatively whatever the sign of FQty; T+ corrections
 * carry signed BaseQuantity), which is the signed invariant (test/helpers/signed-invariant.ts) per document or
 * day + warehouse group — finer than per (day, warehouse, sku), since every key lies in one day and warehouse.
 * Web standards only (runs in workerd).
 */
import { baseKeyOf, isCorrectionKey } from "../../shared/engine/key-scheme.ts";
import type { QtyBySku } from "../helpers/targets.ts";
import { kisSignedLines, type SignedLine, tplusSignedLines } from "../helpers/signed-invariant.ts";

type Row = Record<string, unknown>;
/** The document or group key a stored key belongs to: the product's own parser (also `-C<n>-B`). */
export const baseKey = baseKeyOf;
export { isCorrectionKey };

function bySku(out: Map<string, QtyBySku>, key: string, lines: SignedLine[]) {
  const sum = out.get(key) ?? {};
  for (const l of lines) {
    sum[l.sku] = Math.round(((sum[l.sku] ?? 0) + l.qty) * 1e6) / 1e6;
    if (sum[l.sku] === 0) delete sum[l.sku];
  }
  out.set(key, sum);
}

/** KIS bills by base key, signed as the signed invariant counts them (FROB -1 negative). A key whose lines cancel out maps to {}. */
export function signedKis(bills: Array<{ FBillNo: string; Head?: Row; Entry: Row[] }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const bill of bills) bySku(out, baseKey(bill.FBillNo), kisSignedLines(bill));
  return out;
}

/** T+ vouchers by base group key, signed as written (negative BaseQuantity for red lines). */
export function signedTplus(vouchers: Array<{ ExternalCode: string; payload: Row }>): Map<string, QtyBySku> {
  const out = new Map<string, QtyBySku>();
  for (const v of vouchers) bySku(out, baseKey(v.ExternalCode), tplusSignedLines(v));
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
  return {
    reversals: n(kisKeys, "R"),
    rebooked: n(kisKeys, "B"),
    deltas: n(kisKeys, "C"),
    groupCorrections: n(tplusKeys, "C"),
    supplements: n(tplusKeys, "S"),
  };
}
