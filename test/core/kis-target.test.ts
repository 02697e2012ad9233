import { afterEach, describe, expect, it } from "vitest";
import { BudgetExhaustedError, ConfigError } from "../../shared/errors.ts";
import { MemoryTokenStore, type FetchLike } from "../../shared/ports.ts";
import { KisClient, type KisClientOptions } from "../../shared/connectors/kis/client.ts";
import { KisBusinessError, KisLookupError } from "../../shared/connectors/kis/errors.ts";
import { KisOperations } from "../../shared/connectors/kis/operations.ts";
import { KisTarget, type KisTargetOptions } from "../../shared/connectors/kis/target.ts";
import type { TargetWrite } from "../../shared/connectors/target.ts";
import { createKisEmulator, type KisEmulatorOptions } from "../emulators/kis/index.ts";
import { kisConfigFor, manualClock, receiptObject } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function setup(opts: { emulator?: KisEmulatorOptions; client?: Partial<KisClientOptions>; target?: Partial<KisTargetOptions> } = {}) {
  const clock = manualClock();
  const emulator = createKisEmulator({ now: clock.now, ...opts.emulator });
  const server = await serveOnLoopback(emulator.app);
  servers.push(server);
  const client = new KisClient({
    config: kisConfigFor(emulator, server.url),
    fetch: (input, init) => fetch(input, init),
    tokenStore: new MemoryTokenStore(),
    clock,
    retry: { tries: 4, baseDelayMs: 100, maxDelayMs: 1000 },
    ...opts.client,
  });
  const target = new KisTarget({ operations: new KisOperations(client), ...opts.target });
  return { clock, emulator, server, client, target };
}

const receipt = (key: string, fdate?: string): TargetWrite => ({
  operation: "app007104/miscellaneousreceipt/create",
  externalKey: key,
  payload: { Object: receiptObject(fdate ? { fdate } : {}) },
});

const calls = (emulator: { requests(): Array<{ path: string; errcode: number | null; fault: string | null }> }) =>
  emulator.requests().map((r) => `${r.path.split("/").slice(-1)[0]}:${r.fault ?? r.errcode}`);

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("KisTarget: idempotent writes keyed on FBillNo", () => {
  it("creates once; writing the same key again is already_exists with the same bill", async () => {
    const t = await setup();
    const first = await t.target.write(receipt("JST-IO-1001"));
    expect(first).toMatchObject({ externalKey: "JST-IO-1001", status: "created", targetCode: "JST-IO-1001" });
    const again = await t.target.write(receipt("JST-IO-1001"));
    expect(again).toEqual({ ...first, status: "already_exists" });
    expect(t.emulator.bills()).toHaveLength(1);
    expect(t.emulator.bills()[0]!.Head).toMatchObject({ FBillNo: "JST-IO-1001", FTranType: 10 });
    expect(calls(t.emulator)).toEqual(["list:0", "create:0", "list:0"]);
  });

  it("without a precheck, the duplicate-bill answer is recognised as already_exists", async () => {
    const t = await setup({ target: { precheck: "after_unknown_outcome" } });
    const first = await t.target.write(receipt("JST-IO-1002"));
    const again = await t.target.write(receipt("JST-IO-1002"));
    expect(again).toMatchObject({ status: "already_exists", targetCode: "JST-IO-1002", targetId: first.targetId });
    expect(t.emulator.bills()).toHaveLength(1);
    expect(calls(t.emulator)).toEqual(["create:0", "create:10201", "list:0"]);
    t.emulator.clearRequests();
    const verified = await t.target.write(receipt("JST-IO-1002"), { verifyExisting: true });
    expect(verified.status).toBe("already_exists");
    expect(calls(t.emulator)).toEqual(["list:0"]);
  });

  it.each(["always", "after_unknown_outcome"] as const)("commit-then-timeout stores exactly one bill (precheck %s)", async (precheck) => {
    const t = await setup({ client: { timeoutMs: 200 }, target: { precheck } });
    t.emulator.addFaults([{ kind: "commitThenTimeout", path: "miscellaneousreceipt/create" }]);
    const result = await t.target.write(receipt("JST-IO-2001"));
    expect(result).toMatchObject({ status: "created", targetCode: "JST-IO-2001" });
    expect(t.emulator.bills()).toHaveLength(1);
    expect(result.targetId).toBe(String(t.emulator.bills()[0]!.FID));
    const creates = calls(t.emulator).filter((c) => c.startsWith("create"));
    expect(creates).toEqual(["create:commitThenTimeout"]);
  });

  it("HTTP 5xx before commit: looks up, finds nothing, resends once", async () => {
    const t = await setup();
    t.emulator.addFaults([{ kind: "http5xx", path: "miscellaneousreceipt/create" }]);
    const result = await t.target.write(receipt("JST-IO-2002"));
    expect(result.status).toBe("created");
    expect(t.emulator.bills()).toHaveLength(1);
    expect(calls(t.emulator)).toEqual(["list:0", "create:http5xx", "list:0", "create:0"]);
  });

  it("a timeout without commit and throttling are resent only after a negative lookup", async () => {
    const t = await setup({ client: { timeoutMs: 150 } });
    t.emulator.addFaults([
      { kind: "timeout", path: "miscellaneousreceipt/create" },
      { kind: "throttle", path: "miscellaneousreceipt/create", retryAfterS: 2 },
    ]);
    const result = await t.target.write(receipt("JST-IO-2003"));
    expect(result.status).toBe("created");
    expect(t.emulator.bills()).toHaveLength(1);
    expect(calls(t.emulator)).toEqual(["list:0", "create:timeout", "list:0", "create:throttle", "list:0", "create:0"]);
  });

  it("gives up with the last error when retries run out, and the bill count stays exact", async () => {
    const t = await setup({ client: { timeoutMs: 150 } });
    t.emulator.addFaults([{ kind: "commitThenTimeout", path: "miscellaneousreceipt/create" }]);
    t.emulator.addFaults([{ kind: "http5xx", path: "miscellaneousreceipt/list", skip: 1, times: 100 }]);
    const e = await caught(t.target.write(receipt("JST-IO-2004")));
    expect((e as { retryable?: boolean }).retryable).toBe(true);
    expect(t.emulator.bills()).toHaveLength(1);
    expect(calls(t.emulator).filter((c) => c.startsWith("create"))).toHaveLength(1);
  });

  it("falls back to a date scan when the list ignores the FBillNo filter", async () => {
    const t = await setup({ emulator: { listIgnoresFilters: true } });
    await t.target.write(receipt("JST-IO-3001", "2024-03-01 08:00:00"));
    await t.target.write(receipt("JST-IO-3002", "2024-03-05 08:00:00"));
    await t.target.write(receipt("JST-IO-3003", "2024-03-01 09:00:00"));
    const again = await t.target.write(receipt("JST-IO-3001", "2024-03-01 08:00:00"));
    expect(again.status).toBe("already_exists");
    expect(t.emulator.bills().map((b) => b.FBillNo)).toEqual(["JST-IO-3001", "JST-IO-3002", "JST-IO-3003"]);
  });

  it("permanent business errors are not retried", async () => {
    const t = await setup();
    const doc = receipt("JST-IO-4001");
    const object = doc.payload.Object as ReturnType<typeof receiptObject>;
    object.Entry[0]!.FItemID = 999_999;
    const e = (await caught(t.target.write(doc))) as KisBusinessError;
    expect(e).toBeInstanceOf(KisBusinessError);
    expect(e.kind).toBe("reference_not_found");
    expect(calls(t.emulator)).toEqual(["list:0", "create:10201"]);
  });

  it("rejects a payload whose FBillNo differs from the key, and unsupported operations", async () => {
    const t = await setup();
    const doc = receipt("JST-IO-4002");
    (doc.payload.Object as { Head: Record<string, unknown> }).Head.FBillNo = "OTHER";
    expect(await caught(t.target.write(doc))).toBeInstanceOf(ConfigError);
    expect(await caught(t.target.write({ ...receipt("JST-IO-4003"), operation: "app007104/salesdelivery/create" }))).toBeInstanceOf(ConfigError);
    expect(await caught(t.target.write({ ...receipt("JST-IO-4003"), payload: { Head: {} } }))).toBeInstanceOf(ConfigError);
    expect(t.emulator.requests()).toHaveLength(0);
  });

  it("accepts {Head, Entry} without Object and writes 其他出库单 / 外购入库单", async () => {
    const t = await setup();
    const o = receiptObject();
    const delivery = await t.target.write({
      operation: "app007104/miscellaneousdelivery/create",
      externalKey: "JST-OUT-1",
      payload: { Head: { Fdate: o.Head.Fdate }, Entry: o.Entry.map(({ FDCStockID, ...e }) => ({ ...e, FSCStockID: FDCStockID })) },
    });
    const purchase = await t.target.write({
      operation: "app007104/purchasereceipt/create",
      externalKey: "JST-PO-1",
      payload: { Object: { Head: { Fdate: o.Head.Fdate, FSupplyID: 501 }, Entry: o.Entry } },
    });
    expect([delivery.status, purchase.status]).toEqual(["created", "created"]);
    expect(t.emulator.bills("miscellaneousdelivery")[0]!.Head.FTranType).toBe(29);
    expect(t.emulator.bills("purchasereceipt")[0]!.Head.FTranType).toBe(1);
  });
});

describe("KisTarget: key in a head custom field (the account numbers bills itself)", () => {
  it.each(["headEntry", "flat"] as const)("finds the earlier bill by FHeadSelfB0163 (list rows %s)", async (listRows) => {
    const t = await setup({ emulator: { listRows }, target: { keyField: "FHeadSelfB0163" } });
    const first = await t.target.write(receipt("io-778899", "2024-03-01 10:00:00"));
    await t.target.write(receipt("io-778900", "2024-03-01 11:00:00"));
    expect(first).toMatchObject({ status: "created", targetCode: "QTRK000001" });
    const again = await t.target.write(receipt("io-778899", "2024-03-01 10:00:00"));
    expect(again).toEqual({ ...first, status: "already_exists" });
    expect(t.emulator.bills().map((b) => [b.FBillNo, b.Head.FHeadSelfB0163])).toEqual([
      ["QTRK000001", "io-778899"],
      ["QTRK000002", "io-778900"],
    ]);
    const detailReads = calls(t.emulator).filter((c) => c.startsWith("getdetail")).length;
    expect(detailReads > 0).toBe(listRows === "flat");
  });

  it("commit-then-timeout with a custom key stores exactly one bill", async () => {
    const t = await setup({ emulator: { listRows: "flat" }, client: { timeoutMs: 200 }, target: { keyField: "FHeadSelfB0163" } });
    t.emulator.addFaults([{ kind: "commitThenTimeout", path: "create" }]);
    const result = await t.target.write(receipt("io-1", "2024-03-01 10:00:00"));
    expect(result).toMatchObject({ status: "created", targetCode: "QTRK000001" });
    expect(t.emulator.bills()).toHaveLength(1);
  });

  it("refuses to write when the lookup cannot be completed", async () => {
    const t = await setup({ emulator: { listRows: "flat" }, target: { keyField: "FHeadSelfB0163", lookup: { maxDetailReads: 1 } } });
    await t.target.write(receipt("io-1", "2024-03-01 10:00:00"));
    await t.target.write(receipt("io-2", "2024-03-01 11:00:00")); // one detail read: io-1
    const e = await caught(t.target.write(receipt("io-3", "2024-03-01 12:00:00")));
    expect(e).toBeInstanceOf(KisLookupError);
    expect((e as KisLookupError).hint).toContain("FBillNo");
    expect(t.emulator.bills()).toHaveLength(2);
  });

  it("does not allow skipping the precheck for a key KIS does not enforce", () => {
    const client = new KisClient({
      config: { baseUrl: "http://x", clientId: "c", clientSecret: "s", accessToken: "a", authData: "d", gwRouterAddr: "g" },
      fetch: () => Promise.reject(new Error("unused")),
      tokenStore: new MemoryTokenStore(),
    });
    expect(() => new KisTarget({ operations: new KisOperations(client), keyField: "FHeadSelfB0163", precheck: "after_unknown_outcome" })).toThrow(ConfigError);
  });
});

describe("KisTarget.writeBatch", () => {
  it("returns one result per document, errors included", async () => {
    const t = await setup();
    const bad = receipt("JST-B-2");
    (bad.payload.Object as ReturnType<typeof receiptObject>).Entry[0]!.FQty = "3" as unknown as number;
    const results = await t.target.writeBatch([receipt("JST-B-1"), bad, receipt("JST-B-3"), receipt("JST-B-1")]);
    expect(results.map((r) => ("error" in r ? `${r.externalKey}:${r.error.code}` : `${r.externalKey}:${r.status}`))).toEqual([
      "JST-B-1:created",
      "JST-B-2:kis_business_error",
      "JST-B-3:created",
      "JST-B-1:already_exists",
    ]);
    expect(t.emulator.bills().map((b) => b.FBillNo)).toEqual(["JST-B-1", "JST-B-3"]);
  });

  it("lets BudgetExhaustedError escape instead of reporting it per document", async () => {
    let budget = 3;
    const metered: FetchLike = (input, init) => {
      if (budget-- <= 0) return Promise.reject(new BudgetExhaustedError("subrequest budget of 3 spent"));
      return fetch(input, init);
    };
    const t = await setup({ client: { fetch: metered } });
    const e = await caught(t.target.writeBatch([receipt("JST-C-1"), receipt("JST-C-2"), receipt("JST-C-3")]));
    expect(e).toBeInstanceOf(BudgetExhaustedError);
    expect(t.emulator.bills().map((b) => b.FBillNo)).toEqual(["JST-C-1"]);
  });
});
