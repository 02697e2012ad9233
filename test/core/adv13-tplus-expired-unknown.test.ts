/**
 * adv-13: an expired (revoked, rotated elsewhere) openToken met on a path the gateway does not know.
 * CaiJingLong/chanjet-openapi packages/core/src/errors.ts: "50000 系统错误（appSecret 不正确 / openToken 不正确 /
 * 接口 404 等），httpStatus 401/403/404" — both answers look the same. The client probes warehouse/Query, sees the
 * token is dead, refreshes, resends, and gets 50000/401 again, now because the PATH is unknown (an account whose
 * FindVoucherList is not there: the emulator's legacyQuery profile). That second answer is taken for an auth
 * failure: the voucher lookup throws tplus_auth instead of falling back to T+'s duplicate check, so the write
 * (replay / recovery, which always looks up first) fails with an account error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import { harness } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let served: Served;
beforeAll(async () => {
  served = await h.start({ unknownPathStatus: 401, voucherApi: "legacyQuery" });
});
afterAll(() => h.closeAll());

const write = (key: string) => ({ operation: "otherDispatch", externalKey: key, payload: otherDispatchDto(key, { VoucherDate: "2025-03-01" }) });

describe("adv13: expired token + unknown FindVoucherList path (50000/401 both)", () => {
  it("verifyExisting after the token died: refreshes once, then treats the still-401 path as missing, and writes", async () => {
    const { client } = h.cloudClient(served, { options: { retry: { tries: 2, baseDelayMs: 10, maxDelayMs: 20 } } });
    await client.queryWarehouse({ PageSize: 1 }); // the token works
    // The token dies (revoked / rotated by another deployment) right at the lookup.
    served.emulator.addFaults([{ path: "/tplus/api/v2/OtherDispatchOpenApi/FindVoucherList", kind: "tokenExpired" }]);
    const result = await client.write(write("JST-EXP-1"), { verifyExisting: true });
    expect(result).toMatchObject({ externalKey: "JST-EXP-1", status: "created" });
    expect(served.emulator.vouchers("otherDispatch").filter((v) => v.ExternalCode === "JST-EXP-1")).toHaveLength(1);
    expect(served.emulator.state().cloud.refreshCount).toBe(1);
  });
});
