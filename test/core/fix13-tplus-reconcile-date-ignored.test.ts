/**
 * fix-13 (finding 7): the profile where FindVoucherList ignores the paramDic date range still lists the right
 * vouchers (bounded scan, dates read from GetVoucherDTO), including a back-dated voucher booked later.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import { harness } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let served: Served;
beforeAll(async () => {
  served = await h.start({ findVoucherDateFilter: "ignored" });
});
afterAll(() => h.closeAll());

describe("fix13: reconcile on an account that ignores the date filter", () => {
  it("finds the day's vouchers, the back-dated one booked later too", async () => {
    const { client } = h.cloudClient(served);
    await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto("DAY-A", { VoucherDate: "2025-03-01" }) });
    for (let i = 0; i < 30; i++) await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto(`OTHER-${i}`, { VoucherDate: "2025-02-10" }) });
    await client.transport.call("otherDispatch/Create", { dto: otherDispatchDto("DAY-LATE", { VoucherDate: "2025-03-01" }) });
    const listed = await client.listVouchers("otherDispatch", { from: "2025-03-01", to: "2025-03-01" });
    expect(listed.map((v) => v.externalCode).sort()).toEqual(["DAY-A", "DAY-LATE"]);
  });
});
