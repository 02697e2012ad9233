/**
 * A T+ run killed after its first voucher was answered: its merge plan is saved and written, never closed (a killed
 * isolate). Shared by the resumed-plan tests.
 */
import { expect } from "vitest";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "./e2e.ts";
import { startOfToday } from "./seed-scope.ts";
import { until } from "./until.ts";

const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

/** Kills a T+ run after its first voucher was answered; returns that voucher's day and its confirmed closed-day members. */
export async function killAfterFirstVoucher(e: E2E): Promise<{ day: string; members: Row[] }> {
  void e.run(TPLUS, {}, { fetch: e.crashingFetch(1) });
  await until(() => e.stack.tplus.vouchers("otherDispatch").length >= 1, "the first voucher");
  await new Promise((r) => setTimeout(r, 50));
  const code = String(e.stack.tplus.vouchers("otherDispatch")[0]!.ExternalCode);
  const m = /^SO-(\d{4}-\d{2}-\d{2})-(\d+)$/.exec(code)!;
  const end = startOfToday(e);
  const members = e.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .filter(
      (d) =>
        Number(d.shop_id) === 0 &&
        d.status === "Confirmed" &&
        String(d.io_date).startsWith(m[1]!) &&
        String(d.wms_co_id) === m[2] &&
        parseInZone(String(d.modified))! < end,
    );
  expect(members.length).toBeGreaterThanOrEqual(1);
  return { day: m[1]!, members };
}
