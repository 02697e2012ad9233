import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeError, BudgetExhaustedError } from "../../shared/errors.ts";
import { MemoryTokenStore } from "../../shared/ports.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { createCallMeter } from "../../shared/engine/meter.ts";
import { createTplusClient } from "../../shared/connectors/tplus/operations.ts";
import type { TplusClientOptions, TplusConfig } from "../../shared/connectors/tplus/operations.ts";
import { generateIsvKeys, otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import type { IsvKeyPair } from "../emulators/tplus/fixtures.ts";
import type { TplusEmulatorOptions } from "../emulators/tplus/index.ts";
import { harness, rejection } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let keys: IsvKeyPair;

beforeAll(async () => {
  keys = await generateIsvKeys();
});
afterAll(() => h.closeAll());

type Mode = "cloud" | "onprem";

/** A fresh emulator and a client of the given mode; `fetch` lets a test meter or break the port. */
async function setup(mode: Mode, emulatorOptions: TplusEmulatorOptions = {}, options: TplusClientOptions = {}, wrap?: (f: FetchLike) => FetchLike) {
  const served = await h.start({ publicKey: keys.publicPem, ...emulatorOptions });
  const counting = h.countingFetch();
  const fetch = wrap ? wrap(counting.fetch) : counting.fetch;
  let config: TplusConfig;
  if (mode === "cloud") {
    const t = served.emulator.issueCloudTokens();
    config = {
      mode,
      baseUrl: served.server.url,
      appKey: served.emulator.appKey,
      appSecret: served.emulator.appSecret,
      openToken: t.accessToken,
      refreshToken: t.refreshToken,
    };
  } else {
    const u = served.emulator.users[0]!;
    config = {
      mode,
      baseUrl: served.server.url,
      appKey: served.emulator.appKey,
      appSecret: served.emulator.appSecret,
      orgId: served.emulator.orgId,
      privateKey: keys.privatePem,
      user: u.userName,
      password: u.password,
      account: u.accNum,
    };
  }
  // 300 ms is far above a loopback round trip; a held answer needs it to expire.
  const client = createTplusClient(
    config,
    { fetch, tokenStore: new MemoryTokenStore(), clock: h.clock },
    { timeoutMs: 300, retry: { baseDelayMs: 10 }, ...options },
  );
  return { served, client, calls: counting.calls };
}

const doc = (key: string, overrides: Record<string, unknown> = {}) => ({
  operation: "otherDispatch",
  externalKey: key,
  payload: otherDispatchDto(key, overrides),
});
const stored = (s: Served) => s.emulator.state().vouchers.otherDispatch.map((v) => v.ExternalCode);
const creates = (s: Served) => s.emulator.requests().filter((r) => r.path.endsWith("/Create"));

describe.each(["cloud", "onprem"] as const)("idempotent write (%s)", (mode) => {
  it("a duplicate ExternalCode is 'already_exists', never an error", async () => {
    const { served, client } = await setup(mode);
    expect((await client.write(doc("JST-D-1"))).status).toBe("created");
    expect(await client.write(doc("JST-D-1"))).toEqual({ externalKey: "JST-D-1", status: "already_exists" });
    expect(stored(served)).toEqual(["JST-D-1"]);
    expect(creates(served).at(-1)!.code).toBe("EXVD0010");
  });

  it("the duplicate message is configurable and recognised by a configured matcher", async () => {
    const { served, client } = await setup(mode, { duplicateCode: "EXBZ0999", duplicateMessage: "单据{code}重复提交" }, { duplicate: { codes: ["EXBZ0999"] } });
    await client.write(doc("JST-D-2"));
    expect((await client.write(doc("JST-D-2"))).status).toBe("already_exists");
    expect(stored(served)).toHaveLength(1);
  });

  it("commit then timeout: the document is looked up, reported created, and stored exactly once", async () => {
    const { served, client } = await setup(mode);
    served.emulator.addFaults([{ kind: "commitThenTimeout", path: "/otherDispatch/Create" }]);
    const result = await client.write(doc("JST-T-1"));
    expect(result.status).toBe("created");
    const voucher = served.emulator.state().vouchers.otherDispatch[0]!;
    expect(result.targetId).toBe(String(voucher.ID));
    expect(result.targetCode).toBe(voucher.Code);
    expect(stored(served)).toEqual(["JST-T-1"]);
    expect(served.emulator.requests().some((r) => r.path.endsWith("/OtherDispatchOpenApi/FindVoucherList"))).toBe(true);
  });

  it("commit then timeout without a Query API: the resend is refused as a duplicate, still exactly one voucher", async () => {
    const { served, client } = await setup(mode, { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] });
    served.emulator.addFaults([{ kind: "commitThenTimeout", path: "/otherDispatch/Create" }]);
    expect((await client.write(doc("JST-T-2"))).status).toBe("created");
    expect(stored(served)).toEqual(["JST-T-2"]);
    // The lookup failed once, then the client stopped asking and relied on the duplicate check.
    expect(creates(served).length).toBeGreaterThanOrEqual(2);
    expect(creates(served).at(-1)!.code).toBe("EXVD0010");
    await client.write(doc("JST-T-3"));
    served.emulator.addFaults([{ kind: "commitThenTimeout", path: "/otherDispatch/Create" }]);
    await client.write(doc("JST-T-4"));
    expect(served.emulator.requests().filter((r) => r.path.endsWith("/FindVoucherList"))).toHaveLength(1);
    expect(stored(served)).toEqual(["JST-T-2", "JST-T-3", "JST-T-4"]);
  });

  it("a 5xx after the commit (lost success) does not book twice", async () => {
    const { served, client } = await setup(mode, {}, { recovery: "resend" });
    served.emulator.addFaults([{ kind: "commitThen5xx", path: "/otherDispatch/Create" }]);
    expect((await client.write(doc("JST-T-5"))).status).toBe("created");
    expect(stored(served)).toEqual(["JST-T-5"]);
    expect(served.emulator.requests().some((r) => r.path.endsWith("/FindVoucherList"))).toBe(false);
  });

  it("a timeout before anything is stored is retried and books once", async () => {
    const { served, client } = await setup(mode);
    served.emulator.addFaults([{ kind: "timeout", path: "/otherDispatch/Create" }]);
    expect((await client.write(doc("JST-T-6"))).status).toBe("created");
    expect(stored(served)).toEqual(["JST-T-6"]);
  });

  it("verifyExisting (resume after an unclean stop) finds what a crashed run booked", async () => {
    const { served, client } = await setup(mode);
    await client.write(doc("JST-V-1"));
    const again = await client.write(doc("JST-V-1"), { verifyExisting: true });
    expect(again.status).toBe("already_exists");
    expect(again.targetId).toBe(String(served.emulator.state().vouchers.otherDispatch[0]!.ID));
    expect((await client.write(doc("JST-V-2"), { verifyExisting: true })).status).toBe("created");
    expect(stored(served)).toEqual(["JST-V-1", "JST-V-2"]);
  });

  it("a payload ExternalCode that differs from the key is refused before sending", async () => {
    const { served, client } = await setup(mode);
    const error = await rejection(client.write({ operation: "otherDispatch", externalKey: "K-1", payload: otherDispatchDto("K-2") }));
    expect(error.code).toBe("config_invalid");
    expect(served.emulator.requests()).toHaveLength(0);
  });

  it("CreateBatch with one bad document: the others are written, the bad one reported with its error", async () => {
    // CreateBatch is an on-prem operation (S2 Args.cs); on T+Cloud only when both sides are told it exists.
    const { served, client } = await setup(mode, { cloudCreateBatch: true }, { cloudCreateBatch: true });
    await client.write(doc("JST-B-0"));
    const results = await client.writeBatch([
      doc("JST-B-1"),
      doc("JST-B-2", { RDRecordDetails: [{ Inventory: { Code: "GHOST-1" }, BaseQuantity: 1 }] }),
      doc("JST-B-0"),
      doc("JST-B-3"),
    ]);
    expect(results.map((r) => ("error" in r ? `error:${r.error.code}` : r.status))).toEqual(["created", "error:tplus_business", "already_exists", "created"]);
    const bad = results[1] as { externalKey: string; error: BridgeError };
    expect(bad.externalKey).toBe("JST-B-2");
    expect(bad.error.message).toContain("GHOST-1");
    expect(stored(served)).toEqual(["JST-B-0", "JST-B-1", "JST-B-3"]);
    expect(served.emulator.requests().filter((r) => r.path.endsWith("/CreateBatch"))).toHaveLength(1);
    const first = results[0] as { targetId?: string; targetCode?: string };
    expect(first.targetCode).toBe(served.emulator.state().vouchers.otherDispatch[1]!.Code);
  });

  it("an all-or-nothing batch refusal falls back to per-document writes", async () => {
    const { served, client } = await setup(mode, { batchMode: "allOrNothing" });
    const results = await client.createOtherDispatchBatch([
      otherDispatchDto("JST-A-1"),
      otherDispatchDto("JST-A-2", { VoucherDate: "2025-02-30" }),
      otherDispatchDto("JST-A-3"),
    ]);
    expect(results.map((r) => ("error" in r ? "error" : r.status))).toEqual(["created", "error", "created"]);
    expect((results[1] as { error: BridgeError }).error.message).toContain("VoucherDate");
    expect(stored(served)).toEqual(["JST-A-1", "JST-A-3"]);
  });

  it("a batch whose answer is lost after the commit settles every document exactly once", async () => {
    const { served, client } = await setup(mode);
    served.emulator.addFaults([{ kind: "commitThenTimeout", path: "/CreateBatch" }]);
    const results = await client.writeBatch([doc("JST-L-1"), doc("JST-L-2"), doc("JST-L-3")]);
    expect(results.map((r) => ("error" in r ? "error" : r.status))).toEqual(["created", "created", "created"]);
    expect(stored(served)).toEqual(["JST-L-1", "JST-L-2", "JST-L-3"]);
  });

  it("lists vouchers by date range for reconciliation", async () => {
    const { client } = await setup(mode);
    for (const [key, date] of [
      ["R-1", "2025-03-01"],
      ["R-2", "2025-03-02"],
      ["R-3", "2025-03-05"],
      ["R-4", "2025-03-02"],
    ]) {
      await client.write(doc(key!, { VoucherDate: date }));
    }
    const listed = await client.listVouchers("otherDispatch", { from: "2025-03-02", to: "2025-03-04", pageSize: 1 });
    expect(listed.map((v) => v.externalCode).sort()).toEqual(["R-2", "R-4"]);
    expect(listed[0]!.code).toMatch(/^QC-2025030/);
    expect(await client.findVoucherByExternalCode("otherDispatch", "R-3")).toMatchObject({ externalCode: "R-3", id: expect.any(String) });
    expect(await client.findVoucherByExternalCode("otherDispatch", "R-9")).toBeNull();
  });
});

describe("failures while getting a token", () => {
  it("a login lost to a timeout is retried, and the document is not treated as possibly written", async () => {
    const { served, client } = await setup("onprem");
    served.emulator.addFaults([{ kind: "timeout", path: "GetRealNameTPlusToken" }]);
    expect(await client.write(doc("JST-TK-1"))).toEqual({ externalKey: "JST-TK-1", status: "created" });
    expect(served.emulator.requests().some((r) => r.path.endsWith("/FindVoucherList"))).toBe(false);
    expect(stored(served)).toEqual(["JST-TK-1"]);
  });

  it("a refresh answered with a 5xx is retried without a lookup", async () => {
    const { served, client } = await setup("cloud");
    h.clock.advance(6 * 86_400_000 + 1);
    served.emulator.addFaults([{ kind: "http5xx", path: "/auth/v2/refreshToken" }]);
    expect(await client.write(doc("JST-TK-2"))).toEqual({ externalKey: "JST-TK-2", status: "created" });
    expect(served.emulator.requests().some((r) => r.path.endsWith("/FindVoucherList"))).toBe(false);
  });
});

describe("writes and the invocation budget", () => {
  it("BudgetExhaustedError from the metered fetch passes through and is never retried or swallowed", async () => {
    let meter: ReturnType<typeof createCallMeter> | undefined;
    const { served, client } = await setup("cloud", {}, {}, (f) => {
      meter = createCallMeter(f, { maxSubrequests: 2 }, h.clock);
      return meter.fetch;
    });
    await client.write(doc("JST-M-1"));
    await client.write(doc("JST-M-2"));
    const error = await rejection(client.write(doc("JST-M-3")));
    expect(error).toBeInstanceOf(BudgetExhaustedError);
    expect(meter!.used()).toBe(2);
    const batch = await rejection(client.writeBatch([doc("JST-M-4"), doc("JST-M-5")]));
    expect(batch).toBeInstanceOf(BudgetExhaustedError);
    expect(stored(served)).toEqual(["JST-M-1", "JST-M-2"]);
  });

  it("other write operations go to their own resources and validators", async () => {
    const { served, client } = await setup("cloud");
    const receive = await client.write({
      operation: "otherReceive",
      externalKey: "IN-1",
      payload: { ...otherDispatchDto("IN-1"), VoucherType: { Code: "ST1004" } },
    });
    expect(receive.status).toBe("created");
    const sale = await client.createSaleDelivery({
      ExternalCode: "SD-1",
      VoucherDate: "2025-03-01",
      Customer: { Code: "KH0" },
      BusinessType: { Code: "15" },
      Warehouse: { Code: "01" },
      SaleDeliveryDetails: [{ Inventory: { Code: "TX100-11" }, Quantity: 1, Unit: { Name: "件" }, OrigTaxPrice: 59 }],
    });
    expect(sale).toEqual({});
    const purchase = await rejection(client.createPurchaseReceive({ ...otherDispatchDto("PR-1"), VoucherType: { Code: "ST1001" } }));
    expect(purchase.message).toMatch(/业务类型/); // BusiType 13 is not a purchase type
    const state = served.emulator.state().vouchers;
    expect(state.otherReceive!.map((v) => v.ExternalCode)).toEqual(["IN-1"]);
    expect(state.saleDelivery!.map((v) => v.ExternalCode)).toEqual(["SD-1"]);
    expect(state.purchaseReceive).toHaveLength(0);
    expect(await rejection(client.write({ operation: "transfer", externalKey: "X", payload: {} }))).toBeInstanceOf(BridgeError);
  });
});
