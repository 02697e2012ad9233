/**
 * A merged T+ group whose member does not map alone (adversary 16b/16c: member-lines.ts images it by its share of
 * the group). Test data only: documents upserted into the Jushuitan emulator of an E2E harness.
 */
import { DATE_FORMAT, formatInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "./e2e.ts";

type Row = Record<string, unknown>;

/**
 * Two offline-shop sales-out of the clock's day (the day's voucher is written once the day is over), copied from a
 * Confirmed document with two or more lines and sharing its first sku S: `other` with S × 3, and `m` with S × 0
 * carrying an amount (a price adjustment line, UNIT_PRICE(10, 0) alone) next to the template's second line.
 */
export function addShareImagedPair(e: E2E): { day: string; s: Row; items: Row[]; other: Row; m: Row } {
  const jst = e.stack.jushuitan;
  const template = jst.documents(JST_PATHS.salesOut).find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && (d.items as Row[]).length >= 2)!;
  const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(template);
  const items = structuredClone(template.items as Row[]);
  const day = formatInZone(e.clock.now(), DATE_FORMAT, "Asia/Shanghai");
  const s = items[0]!;
  const other = jst.upsertDocument(JST_PATHS.salesOut, { ...copy, io_date: `${day} 09:00:00`, items: [{ ...s, qty: 3 }] });
  const m = jst.upsertDocument(JST_PATHS.salesOut, { ...copy, io_date: `${day} 09:00:00`, items: [{ ...s, qty: 0, sale_amount: 10 }, items[1]!] });
  return { day, s, items, other, m };
}
