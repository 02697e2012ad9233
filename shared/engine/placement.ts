/**
 * Where a posted document counts stock (issue 16, adv16b-kis-head-move): its date and its warehouse/stock fields,
 * on the head and on each line. A document whose lines are unchanged but whose placement moved (io_date or
 * wms_co_id edited in 聚水潭) must be reversed where it was booked and posted again where it belongs: a difference
 * cannot move stock. Decided from the mapped target payload, never from source field names: the date is the
 * target's own (CorrectionShape.dateOf), the stock fields are every head or line field whose name says stock or
 * warehouse (KIS FDCStockID / FSCStockID, T+ Warehouse …), so a flow that maps another such field is covered too.
 */
import type { CorrectionShape, ImageLine } from "../connectors/correction.ts";

const PLACES_STOCK = /stock|warehouse/i;

/** The stock fields of an object and of its nested objects (a KIS head is `{ Head: { … } }`), as path → JSON. */
function stockFields(value: Record<string, unknown>, prefix = "", out: Record<string, string> = {}, depth = 0): Record<string, string> {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (PLACES_STOCK.test(k)) out[path] = JSON.stringify(v ?? null);
    else if (depth < 2 && v !== null && typeof v === "object" && !Array.isArray(v)) stockFields(v as Record<string, unknown>, path, out, depth + 1);
  }
  return out;
}

const same = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
};

/**
 * True when the posted head and lines count stock where the current ones do: same date, same head stock fields,
 * and the same stock fields on every item both sides carry (an item added or removed is a line change anyway).
 */
export function samePlacement(
  shape: Pick<CorrectionShape, "dateOf">,
  posted: { head: Record<string, unknown>; lines: readonly ImageLine[] },
  current: { head: Record<string, unknown>; lines: readonly ImageLine[] },
): boolean {
  if (shape.dateOf(posted.head) !== shape.dateOf(current.head)) return false;
  if (!same(stockFields(posted.head), stockFields(current.head))) return false;
  const now = new Map(current.lines.map((l) => [l.key, l.rest ?? {}]));
  return posted.lines.every((l) => {
    const rest = now.get(l.key);
    return rest === undefined || same(stockFields(l.rest ?? {}), stockFields(rest));
  });
}
