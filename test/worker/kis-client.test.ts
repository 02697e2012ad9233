// The KIS client, writer and emulator inside workerd: the emulator's Hono app is reached through a fetch port.
import { describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { KisClient, KIS_TOKEN_KEY } from "../../shared/connectors/kis/client.ts";
import { KisBusinessError } from "../../shared/connectors/kis/errors.ts";
import { KisOperations } from "../../shared/connectors/kis/operations.ts";
import { KisTarget } from "../../shared/connectors/kis/target.ts";
import { SKUS } from "../emulators/catalog.ts";
import { createKisEmulator } from "../emulators/kis/index.ts";
import { inProcessFetch, kisConfigFor, manualClock, receiptObject } from "../emulators/kis/fixtures.ts";

function setup(emulatorOptions: Parameters<typeof createKisEmulator>[0] = {}, clientOptions: { timeoutMs?: number } = {}) {
  const clock = manualClock();
  const emulator = createKisEmulator({ now: clock.now, ...emulatorOptions });
  const store = new MemoryTokenStore();
  const fetchPort = inProcessFetch(emulator);
  const client = new KisClient({
    config: kisConfigFor(emulator, "https://api.kingdee.com"),
    fetch: fetchPort,
    tokenStore: store,
    clock,
    retry: { baseDelayMs: 100 },
    ...clientOptions,
  });
  const ops = new KisOperations(client);
  return { clock, emulator, store, client, ops, target: new KisTarget({ operations: ops }) };
}

const doc = (key: string) => ({ operation: "app007104/miscellaneousreceipt/create", externalKey: key, payload: { Object: receiptObject() } });

describe("KIS connector inside workerd", () => {
  it("writes a 其他入库单 once; the same key again is already_exists", async () => {
    const t = setup();
    const first = await t.target.write(doc("JST-W-1"));
    const again = await t.target.write(doc("JST-W-1"));
    expect(first.status).toBe("created");
    expect(again).toEqual({ ...first, status: "already_exists" });
    expect(t.emulator.bills()).toHaveLength(1);
  });

  it("commit-then-timeout (the request is aborted) leaves exactly one bill", async () => {
    const t = setup({}, { timeoutMs: 200 });
    t.emulator.addFaults([{ kind: "commitThenTimeout", path: "create" }]);
    const result = await t.target.write(doc("JST-W-2"));
    expect(result).toMatchObject({ status: "created", targetCode: "JST-W-2" });
    expect(t.emulator.bills()).toHaveLength(1);
    expect(t.emulator.requests().filter((r) => r.path.endsWith("/create"))).toHaveLength(1);
  });

  it("rotates expired credentials mid-run and keeps them in the TokenStore", async () => {
    const t = setup({ ttl: { accessTokenMs: 3_600_000, sessionMs: 86_400_000, authDataMs: 7_200_000 } });
    await t.target.write(doc("JST-W-3"));
    const seed = t.emulator.credentials();
    t.clock.advance(7_200_000); // both the access token and the auth data are now expired
    await t.target.write(doc("JST-W-4"));
    const stored = (await t.store.get(KIS_TOKEN_KEY))!;
    const now = t.emulator.credentials();
    expect(stored.accessToken).toBe(now.accessToken);
    expect(stored.accessToken).not.toBe(seed.accessToken);
    expect(stored.extra?.authData).toBe(now.authData);
    expect(stored.extra?.authData).not.toBe(seed.authData);
    expect(t.emulator.checkAccessToken(seed.accessToken)).toBe("invalid");
    expect(t.emulator.checkAuthData(seed.authData)).toBe("invalid");
    expect(t.emulator.bills().map((b) => b.FBillNo)).toEqual(["JST-W-3", "JST-W-4"]);
  });

  it("pages Material/List to every catalog material exactly once", async () => {
    const t = setup({ totalPagesField: "TotalPage" });
    const ids: number[] = [];
    for await (const m of t.ops.materials({}, { pageSize: 9 })) ids.push(m.FItemID);
    expect(ids.sort((a, b) => a - b)).toEqual(SKUS.map((s) => s.kisItemId).sort((a, b) => a - b));
  });

  it("a non-JSON body comes back as 10201 invalid_json", async () => {
    const t = setup();
    const emulatorFetch = inProcessFetch(t.emulator);
    const client = new KisClient({
      config: kisConfigFor(t.emulator, "https://api.kingdee.com"),
      fetch: (input, init) => emulatorFetch(input, { ...init, body: "<xml>not json</xml>" }),
      tokenStore: new MemoryTokenStore(),
      clock: t.clock,
    });
    const error = await new KisOperations(client).listStocks(1, 10).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KisBusinessError);
    expect(error).toMatchObject({ errcode: 10201, kind: "invalid_json" });
  });
});
