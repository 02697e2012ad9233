/**
 * Where a line counts stock (issue 16, adv16c-line-warehouses): the fields of a line (or head) whose name says stock
 * or warehouse — KIS Entry `FDCStockID` / `FSCStockID`, a T+ line `Warehouse {Code}` where a flow maps one. A line is
 * identified by its item AND these fields: one sku on two lines of one bill in two warehouses is two lines of a
 * before-image, a reversal and a difference, never one line summed into the first line's warehouse.
 * Decided from the mapped target payload, never from source field names, so a flow that maps another such field is
 * covered too. T+: whether RDRecordDetails take a per-line Warehouse is not settled publicly (the seed flow maps it on
 * the head only: ../shared/docs/tplus-kis-api.md §operations); both readings work, since a head-only warehouse leaves
 * lines without placement fields and their identity is the item alone.
 */

export const PLACES_STOCK = /stock|warehouse/i;

/** The stock fields of an object and of its nested objects (a KIS head is `{ Head: { … } }`), as path → JSON. */
export function stockFields(value: Record<string, unknown>, prefix = "", out: Record<string, string> = {}, depth = 0): Record<string, string> {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (PLACES_STOCK.test(k)) out[path] = JSON.stringify(v ?? null);
    else if (depth < 2 && v !== null && typeof v === "object" && !Array.isArray(v)) stockFields(v as Record<string, unknown>, path, out, depth + 1);
  }
  return out;
}

/** A line's placement as one comparable string ("" when the line names no stock or warehouse). */
export function placementOf(rest: Record<string, unknown> | undefined): string {
  if (!rest) return "";
  const fields = stockFields(rest);
  const paths = Object.keys(fields).sort();
  return paths.length ? JSON.stringify(paths.map((p) => [p, fields[p]])) : "";
}

/** A line's identity in an image: its item, and its placement when it has one. */
export function lineIdentity(line: { key: string; rest?: Record<string, unknown> }): string {
  const placement = placementOf(line.rest);
  return placement ? `${line.key}\u0000${placement}` : line.key;
}
