/**
 * adv-13: T+ reconcile lists vouchers with <Service>/FindVoucherList WITHOUT any date in paramDic, newest first,
 * and reads EVERY listed voucher with GetVoucherDTO to learn its date (operations.ts listVouchers). On a real
 * account the voucher type keeps growing (a sales-out flow books hundreds a month): reconciling yesterday
 * scans the whole history, one GetVoucherDTO (one T+Cloud quota call, 50112 when spent) per voucher, and
 * beyond 2000 vouchers it throws — reconcile for T+ then never works again on that account.
 * The Chanjet MCP guide (idx 61143165842, author 畅捷通) says filters go in paramDic with field names from the
 * voucher's column info; a date filter (or stopping once the listed vouchers are older than the range) bounds it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import { harness } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let served: Served;
beforeAll(async () => {
  served = await h.start({});
});
afterAll(() => h.closeAll());

describe("adv13: reconciling one day on an account with a long voucher history", () => {
  it("lists the day's vouchers without reading the whole history (and without failing past 2000)", async () => {
    const { client } = h.cloudClient(served);
    const history = 2050;
    for (let i = 0; i < history; i++) await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto(`OLD-${i}`, { VoucherDate: "2025-01-10" }) });
    await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto("DAY-1", { VoucherDate: "2025-03-01" }) });
    // The history is older, but (like a real account) it was booked AFTER our voucher: a late import / back-dated bills.
    for (let i = 0; i < 5; i++) await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto(`LATE-${i}`, { VoucherDate: "2025-01-11" }) });
    served.emulator.clearRequests?.();
    const listed = await client.listVouchers("otherDispatch", { from: "2025-03-01", to: "2025-03-01" });
    expect(listed.map((v) => v.externalCode)).toEqual(["DAY-1"]);
    const dtoReads = served.emulator.requests().filter((r) => r.path.endsWith("/GetVoucherDTO")).length;
    expect(dtoReads).toBeLessThan(100);
  }, 120_000);
});
