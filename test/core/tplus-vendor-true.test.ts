/**
 * T+ as Chanjet documents it (../shared/docs/wire-evidence.md §2, ranked items 2, 3, 6, 8):
 * - on-prem user/password login sends an empty orgId (yeongjet/chanjie.tp.openapi Form1.cs btnV2LoginWithUserPwd_Click);
 * - vouchers are found through <Voucher>OpenApi/FindVoucherList (0-based pageIndex, pageSize, paramDic; rows id,
 *   code, externalcode, ts) and read with GetVoucherDTO (Chanjet T+Cloud MCP guide, idx 61143165842);
 *   otherDispatch/Query does not exist;
 * - an unknown path may answer 50000 with 401/403 (CaiJingLong/chanjet-openapi errors.ts) and is not an expired token;
 * - archives (inventory/Query) page by PageSize ≤ 1000 with no page index (same guide);
 * - otherDispatch/CreateBatch is not a T+Cloud operation (same guide: simple otherDispatch is Create only).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { TPLUS_ERROR } from "../../shared/connectors/tplus/errors.ts";
import { createTplusClient, tplusConfigFromEnv } from "../../shared/connectors/tplus/operations.ts";
import { generateIsvKeys, otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import type { IsvKeyPair } from "../emulators/tplus/fixtures.ts";
import { harness, rejection } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let keys: IsvKeyPair;
let main: Served;

beforeAll(async () => {
  keys = await generateIsvKeys();
  main = await h.start({ publicKey: keys.publicPem });
});
afterAll(() => h.closeAll());
beforeEach(() => main.emulator.reset());

const write = (key: string, date = "2025-03-01") => ({ operation: "otherDispatch", externalKey: key, payload: otherDispatchDto(key, { VoucherDate: date }) });

function onpremEnv(served: Served, extra: Record<string, string> = {}) {
  const user = served.emulator.users[0]!;
  return {
    TPLUS_MODE: "onprem",
    TPLUS_BASE_URL: served.server.url,
    TPLUS_APP_KEY: served.emulator.appKey,
    TPLUS_APP_SECRET: served.emulator.appSecret,
    TPLUS_PRIVATE_KEY: keys.privatePem,
    TPLUS_USER: user.userName,
    TPLUS_PASSWORD: user.password,
    TPLUS_ACCOUNT: user.accNum,
    ...extra,
  };
}

describe("on-prem user/password login: orgId empty by default", () => {
  it("needs no TPLUS_ORG_ID and sends an empty orgId in authInfo datas and the header", async () => {
    const config = tplusConfigFromEnv(onpremEnv(main));
    const client = createTplusClient(config, { fetch, tokenStore: new MemoryTokenStore(), clock: h.clock });
    expect(await client.write(write("JST-ORG-1"))).toMatchObject({ status: "created" });
    const [login, create] = main.emulator.requests();
    expect(login!.auth).toMatchObject({ orgId: "" });
    expect(create!.auth).toMatchObject({ orgId: "" });
  });

  it("still sends TPLUS_ORG_ID when it is set (enterprise-cloud-ID accounts), and the old emulator profile insists on it", async () => {
    const strict = await h.start({ publicKey: keys.publicPem, onpremOrgId: "required" });
    const withOrg = createTplusClient(tplusConfigFromEnv(onpremEnv(strict, { TPLUS_ORG_ID: strict.emulator.orgId })), {
      fetch,
      tokenStore: new MemoryTokenStore(),
      clock: h.clock,
    });
    expect(await withOrg.write(write("JST-ORG-2"))).toMatchObject({ status: "created" });
    const without = createTplusClient(
      tplusConfigFromEnv(onpremEnv(strict)),
      { fetch, tokenStore: new MemoryTokenStore(), clock: h.clock },
      { retry: { tries: 1 } },
    );
    expect((await rejection(without.write(write("JST-ORG-3")))).message).toMatch(/orgId/);
  });
});

describe("unknown paths are not expired tokens", () => {
  for (const status of [401, 403] as const) {
    it(`50000 with HTTP ${status} for a missing API: no token refresh, an 'API not available' error`, async () => {
      const served = await h.start({ unknownPathStatus: status });
      const { client } = h.cloudClient(served);
      await client.queryWarehouse();
      const error = await rejection(client.transport.call("otherDispatch/Query", { param: { ExternalCode: "X" } }));
      expect(error.code).toBe(TPLUS_ERROR.apiNotEnabled);
      expect(served.emulator.state().cloud.refreshCount).toBe(0);
    });
  }
});

describe("voucher lookup through OtherDispatchOpenApi/FindVoucherList", () => {
  for (const filter of ["externalCode", "ignored"] as const) {
    it(`recovers a write whose answer was lost (paramDic filter ${filter}, unknown paths 50000/401)`, async () => {
      const served = await h.start({ unknownPathStatus: 401, findVoucherFilter: filter });
      const { client } = h.cloudClient(served, { options: { timeoutMs: 300, retry: { baseDelayMs: 10, maxDelayMs: 50 } } });
      for (let i = 0; i < 5; i++) await client.write(write(`JST-FV-${i}`));
      served.emulator.addFaults([{ path: "/tplus/api/v2/otherDispatch/Create", kind: "commitThenTimeout", delayMs: 2000 }]);
      expect(await client.write(write("JST-FV-LOST"))).toMatchObject({ externalKey: "JST-FV-LOST", status: "created", targetId: expect.any(String) });
      expect(served.emulator.vouchers("otherDispatch").filter((v) => v.ExternalCode === "JST-FV-LOST")).toHaveLength(1);
      const paths = served.emulator.requests().map((r) => r.path);
      expect(paths).toContain("/tplus/api/v2/OtherDispatchOpenApi/FindVoucherList");
      expect(paths).not.toContain("/tplus/api/v2/otherDispatch/Query");
      expect(served.emulator.state().cloud.refreshCount).toBe(0);
    });

    it(`finds and lists vouchers by ExternalCode and date (paramDic filter ${filter})`, async () => {
      const served = await h.start({ findVoucherFilter: filter });
      const { client } = h.cloudClient(served);
      for (const [k, d] of [
        ["R-1", "2025-03-01"],
        ["R-2", "2025-03-02"],
        ["R-3", "2025-03-05"],
        ["R-4", "2025-03-03"],
      ] as const)
        await client.write(write(k, d));
      expect(await client.findVoucherByExternalCode("otherDispatch", "R-3")).toMatchObject({ externalCode: "R-3", id: expect.any(String) });
      expect(await client.findVoucherByExternalCode("otherDispatch", "R-9")).toBeNull();
      // Reconcile needs the date and lines, which only GetVoucherDTO has.
      const full = await client.findVoucherByExternalCode("otherDispatch", "R-3", { detail: true });
      expect(full).toMatchObject({ externalCode: "R-3", voucherDate: "2025-03-05" });
      expect(Array.isArray(full!.raw.RDRecordDetails)).toBe(true);
      const listed = await client.listVouchers("otherDispatch", { from: "2025-03-02", to: "2025-03-04", pageSize: 1 });
      expect(listed.map((v) => v.externalCode).sort()).toEqual(["R-2", "R-4"]);
      expect(listed[0]!.voucherDate).toMatch(/^2025-03-0[23]/);
      expect(served.emulator.requests().some((r) => r.path.endsWith("/otherDispatch/Query"))).toBe(false);
    });
  }
});

describe("archives page by PageSize (≤ 1000) without a page index", () => {
  it("reads all 2500 inventory rows instead of keeping the first page", async () => {
    const served = await h.start({ extraInventory: 2500 });
    const { client } = h.cloudClient(served);
    const rows = await client.queryAllInventory();
    expect(new Set(rows.map((r) => r.Code)).size).toBe(served.emulator.state().master.inventory);
    for (const r of served.emulator.requests()) {
      const param = (r.body as { param?: Record<string, unknown> } | undefined)?.param ?? {};
      expect(param.PageIndex).toBeUndefined();
      expect(Number(param.PageSize ?? 0)).toBeLessThanOrEqual(1000);
    }
  });
});

describe("batch writes only where the operation exists", () => {
  it("T+Cloud writes otherDispatch one by one (no CreateBatch)", async () => {
    const { client } = h.cloudClient(main);
    const results = await client.writeBatch([write("JST-NB-1"), write("JST-NB-2")]);
    expect(results.map((r) => ("status" in r ? r.status : r.error.code))).toEqual(["created", "created"]);
    expect(main.emulator.requests().some((r) => r.path.endsWith("/CreateBatch"))).toBe(false);
  });
});
