/**
 * What the seed flows have read by the E2E harness's manual clock, as source totals for the signed invariant
 * (signed-invariant.ts). Shared by the T+ and KIS change/adversary tests so each states its scope once.
 * Time comes from the harness clock (explicit instant), never from the machine's.
 */
import { DATE_FORMAT, formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "./e2e.ts";
import { assertSignedInvariant, type SignedTotals, sourceTotals, tplusTotals } from "./signed-invariant.ts";

/** Start of the clock's current day in the flow's zone: the T+ seed reads by modified and writes a day once it is closed. */
export const startOfToday = (e: E2E): number => parseInZone(`${formatInZone(e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;

/** T+ flow scope: offline-shop sales-out of closed days, modified before today (what the seed has read). */
export function tplusSource(e: E2E): SignedTotals {
  const end = startOfToday(e);
  return sourceTotals(
    e.stack.jushuitan.documents(JST_PATHS.salesOut),
    (d) => Number(d.shop_id) === 0 && parseInZone(String(d.io_date))! < end && parseInZone(String(d.modified))! < end,
  );
}

/** KIS flow scope: 其它退货 documents modified more than 5 minutes before the clock (the read lag). */
export function kisSource(e: E2E): SignedTotals {
  const until = e.clock.now() - 5 * 60_000;
  return sourceTotals(e.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => d.type === "其它退货" && parseInZone(String(d.modified))! < until);
}

/** The totals of one group: keys (`day|warehouse|sku`) that start with `prefix` (e.g. `2024-06-20|10818|`). */
export const onlyKeysStarting =
  (prefix: string) =>
  (totals: SignedTotals): SignedTotals =>
    new Map([...totals].filter(([k]) => k.startsWith(prefix)));

/**
 * The signed invariant for one T+ group (`prefix` = `day|warehouse|`): offline-shop sales-out modified before today,
 * whatever their day, against the T+ otherDispatch vouchers.
 */
export function assertTplusGroupInvariant(e: E2E, prefix: string, label: string, options: { redBusiType?: string } = {}): void {
  const only = onlyKeysStarting(prefix);
  const end = startOfToday(e);
  const source = sourceTotals(e.stack.jushuitan.documents(JST_PATHS.salesOut), (d) => Number(d.shop_id) === 0 && parseInZone(String(d.modified))! < end);
  assertSignedInvariant(only(source), only(tplusTotals(e.stack.tplus.vouchers("otherDispatch"), options)), label);
}

/** The first KIS-flow source document (in the emulator's order) whose bill KIS holds: a document already posted. */
export function firstPostedKisDocument(e: E2E): Record<string, unknown> {
  const billNos = new Set(e.stack.kis.bills().map((b) => b.FBillNo));
  return e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => billNos.has(String(d.io_id)))!;
}

/** The KIS seed flow run to completion `ms` (default 15 minutes) later on the harness clock. */
export async function settleKis(e: E2E, ms = 15 * 60_000) {
  e.clock.advance(ms);
  return e.runToCompletion("jst-other-in-to-kis");
}

/** The T+ seed flow run to completion a day later on the harness clock (a merged day is written once it is closed). */
export async function settleTplusDay(e: E2E) {
  e.clock.advance(24 * 3600_000);
  return e.runToCompletion("jst-sales-out-to-tplus");
}
