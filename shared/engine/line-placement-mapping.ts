/**
 * Whether a flow's target mapping can place the lines of one document in different warehouses (adv6-older-image-*):
 * the question an older before-image (legacy-images.ts: one line per item, in the first line's warehouse) cannot
 * answer for a document posted before the upgrade. Decided once per flow from the mapping, the cheapest sound test:
 * a stock/warehouse field (line-placement.ts PLACES_STOCK, on a line or in an object under it) whose value reads
 * anything of the line — a plain `{name}` (it reads the line first, the head only as a fallback), `{items.x}` — is
 * per-line placement. Head-only: every such field reads only `{parent.x}` / `{../x}` of a first-level line, constants
 * or variables; then all lines of a document stand where its head says, and an older image is exact (both seed
 * flows: KIS Entry.FDCStockID from `{parent.wms_co_id}`, T+ Warehouse on the head). A value that does not compile,
 * or a field in a nested line array, counts as per-line (a letter too many, never a silent guess). The data alone
 * cannot tell: a line field copied from the head looks like a per-line one.
 */
import { PLACES_STOCK } from "../connectors/line-placement.ts";
import { compileValue } from "../template/index.ts";
import type { MappingField } from "../transform/map.ts";

const HEAD_PATH = /^(\.\.\/|parent\.)/;

/** True when `value`, compiled inside the line arrays `lineArrays` (innermost first), may differ between lines. */
function readsLine(value: string, lineArrays: readonly string[]): boolean {
  try {
    const fields = compileValue(value, { lineArrays }).fields;
    return fields.some((f) => lineArrays.length > 1 || !HEAD_PATH.test(f));
  } catch {
    return true;
  }
}

function perLine(fields: readonly MappingField[], lineArrays: readonly string[], stock: boolean): boolean {
  return fields.some((f) => {
    const isStock = stock || PLACES_STOCK.test(f.field);
    const isArray = f.type === "array" && f.children !== undefined;
    if (!isArray && isStock && lineArrays.length > 0 && f.value !== undefined && f.value !== "" && readsLine(f.value, lineArrays)) return true;
    if (!f.children?.length) return false;
    // A children array's lines: a bare name (`items`) is the array read; a computed array gets an unnamed scope.
    const inner = isArray ? [/^[\p{L}_$][\p{L}\p{N}_$.]*$/u.test(f.value ?? "") ? f.value! : "\u0000", ...lineArrays] : lineArrays;
    return perLine(f.children, inner, isStock);
  });
}

/** True when a line's stock/warehouse field may be derived from the line itself (see above). */
export const mapsPlacementPerLine = (fields: readonly MappingField[]): boolean => perLine(fields, [], false);
