/**
 * A Jushuitan user changing a saved document (issue 16): a quantity corrected, a line added or removed, the
 * document cancelled (作废: status Cancelled), or re-saved unchanged. Every change re-stamps `modified` (and `ts`);
 * the caller decides the instant (see `EditStamp`). Web standards only.
 */
import { SKUS } from "../catalog.ts";

type Row = Record<string, unknown>;

export type EditChange = "edit" | "cancel" | "quantity" | "addLine" | "removeLine";
export const EDIT_CHANGES: readonly EditChange[] = ["edit", "cancel", "quantity", "addLine", "removeLine"];

/**
 * Where an edit made while a query is answered puts the row's new `modified`:
 *  - "now": Jushuitan's clock: what a real save does. The bridge reads it once its
 *    window passes that instant, after the end lag (5 min) — and a merged day-flow only after the day closes.
 *  - "afterWindow": the query's end second, which the next window owns (engine/window.ts ownsInstant), or the end lag
 *    behind the clocks (`afterLagMs`) when later: a run's earlier windows end long before now. Chaos runs in compressed real time (seconds, not the
 *    30 minutes between real ticks), so "now" would stay beyond every later run's window for the whole scenario;
 *    this is the instant the next incremental window starts from, so the next run reads the edit (as the next run
 *    after the end lag does in real time). Never past Jushuitan's clock: a window that reaches beyond it keeps the row.
 *  - "windowEnd": the last second the query's window owns: the row moves to the end of this very scan (a day-aligned merged
 *    flow never reads today's instants, so a during-run edit of a closed day's member lands at the day's end).
 */
export type EditStamp = "now" | "afterWindow" | "windowEnd";

/** One change made to a stored document, for the chaos verdict (GET /__emulator/edits). */
export interface EditRecord {
  path: string;
  key: string;
  change: EditChange;
  /** The row's new `modified`, ms (Jushuitan's clock). */
  modifiedMs: number;
  /** Host time when it was made. */
  madeAt: number;
  /** "query": made while answering a query (editServed); "admin": between runs (POST /__emulator/edit). */
  via: "query" | "admin";
  /** The document's status and lines right after the change. */
  after: { status: unknown; items: unknown };
  /** Host time when an answer first served the row after this change (absent: not served since). */
  servedAt?: number;
}

/** Applies `change` to the row in place; `pick` in [0, 1) chooses the line and SKU. Returns the change applied. */
export function applyEdit(row: Row, change: EditChange, pick: number): EditChange {
  const items = Array.isArray(row.items) ? (row.items as Row[]) : [];
  if (change === "cancel") {
    row.status = "Cancelled";
    return change;
  }
  if (change === "removeLine" && items.length > 1) {
    items.splice(Math.floor(pick * items.length), 1);
    return change;
  }
  if (change === "addLine" && items.length > 0) {
    const used = new Set(items.map((i) => String(i.sku_id)));
    const free = SKUS.filter((s) => !used.has(String(s.skuId)));
    const sku = free[Math.floor(pick * free.length)];
    if (sku) {
      const template = items[0]!;
      const maxId = Math.max(0, ...items.map((i) => Number(i.ioi_id) || 0));
      items.push({
        ...template,
        ioi_id: maxId + 1,
        sku_id: sku.skuId,
        i_id: sku.itemId,
        name: sku.name,
        properties_value: sku.propertiesValue,
        unit: sku.unit,
        qty: 1 + Math.floor(pick * 3),
      });
      return change;
    }
  }
  if ((change === "quantity" || change === "removeLine" || change === "addLine") && items.length > 0) {
    // A quantity corrected up, or down when it stays positive (a removed line of a one-line document becomes this).
    const line = items[Math.floor(pick * items.length)]!;
    const qty = Number(line.qty);
    line.qty = pick < 0.5 && qty > 1 ? qty - 1 : qty + 1;
    return "quantity";
  }
  return "edit";
}
