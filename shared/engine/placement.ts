/**
 * Where a posted document counts stock (issue 16, adv16b-kis-head-move): its date and its warehouse/stock fields,
 * on the head and on each line. A document whose lines are unchanged but whose placement moved (io_date or
 * wms_co_id edited in 聚水潭) must be reversed where it was booked and posted again where it belongs: a difference
 * cannot move stock. Decided from the mapped target payload, never from source field names: the date is the
 * target's own (CorrectionShape.dateOf), the stock fields are every head or line field whose name says stock or
 * warehouse (connectors/line-placement.ts: KIS FDCStockID / FSCStockID, T+ Warehouse …), so a flow that maps
 * another such field is covered too.
 */
import type { CorrectionShape, ImageLine } from "../connectors/correction.ts";
import { placementOf, stockFields } from "../connectors/line-placement.ts";
import { redateNote } from "./periods.ts";

const same = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
};

/**
 * The posted head is the current one redated (closedPeriod "redate", periods.ts: booked on the first open day with
 * the original date in its memo): where the target booked it, not a date edit. Else every re-read of an unchanged
 * redated document was a "move" back to its closed date (adv7-redate-reread).
 */
function redatedFrom(shape: Pick<CorrectionShape, "dateOf">, posted: Record<string, unknown>, current: Record<string, unknown>): boolean {
  const date = shape.dateOf(current);
  return date !== undefined && JSON.stringify(posted).includes(JSON.stringify(redateNote(date)).slice(1, -1));
}

/** Per item, the placements its lines count in (one sku may stand on lines of several warehouses). */
function placementsByItem(lines: readonly ImageLine[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const l of lines) {
    const set = out.get(l.key) ?? new Set<string>();
    set.add(placementOf(l.rest));
    out.set(l.key, set);
  }
  return out;
}

/**
 * True when the posted head and lines count stock where the current ones do: same date, same head stock fields,
 * and, for every item both sides carry, the same set of line placements — per line, not per item: a per-line
 * warehouse move of one of two same-sku lines is a move too (adv16c-line-warehouses). An item added or removed is
 * a line change anyway.
 */
export function samePlacement(
  shape: Pick<CorrectionShape, "dateOf">,
  posted: { head: Record<string, unknown>; lines: readonly ImageLine[] },
  current: { head: Record<string, unknown>; lines: readonly ImageLine[] },
): boolean {
  if (shape.dateOf(posted.head) !== shape.dateOf(current.head) && !redatedFrom(shape, posted.head, current.head)) return false;
  if (!same(stockFields(posted.head), stockFields(current.head))) return false;
  const now = placementsByItem(current.lines);
  for (const [item, was] of placementsByItem(posted.lines)) {
    const is = now.get(item);
    if (is && (is.size !== was.size || [...was].some((p) => !is.has(p)))) return false;
  }
  return true;
}
