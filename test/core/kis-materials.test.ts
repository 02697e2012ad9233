/**
 * KIS materials as the vendor's public clients see them (../shared/docs/wire-evidence.md §3, ranked item 1):
 * Material/List rows carry only FItemID/FNumber/FName/FParentID; unit and other fields come from
 * Material/GetListDetails {ItemIds} (S5 app/sdk/kis/sync.ts, chunks of 20) or Material/GetDetail (Weaver
 * HttpJDmaterial). The reference refresh must still give the KIS seed flow F_103 → FItemID/FUnitID.
 */
import { afterEach, describe, expect, it } from "vitest";
import { refreshReferenceTable } from "../../shared/engine/references.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { MemoryTokenStore, silentLogger } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { SKUS } from "../emulators/catalog.ts";
import { createKisEmulator, type KisEmulatorOptions } from "../emulators/kis/index.ts";
import { kisConfigFor, manualClock } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function setup(options: KisEmulatorOptions = {}) {
  const clock = manualClock();
  const emulator = createKisEmulator({ now: clock.now, ...options });
  const server = await serveOnLoopback(emulator.app);
  servers.push(server);
  const c = kisConfigFor(emulator, server.url);
  const env: Record<string, string> = {
    KIS_BASE_URL: c.baseUrl,
    KIS_CLIENT_ID: c.clientId,
    KIS_CLIENT_SECRET: c.clientSecret,
    KIS_ACCESS_TOKEN: c.accessToken,
    KIS_AUTH_DATA: c.authData,
    KIS_GW_ROUTER_ADDR: c.gwRouterAddr,
    ...(c.sessionId ? { KIS_SESSION_ID: c.sessionId } : {}),
    ...(c.refreshAuthDataToken ? { KIS_REFRESH_AUTH_DATA_TOKEN: c.refreshAuthDataToken } : {}),
  };
  const references = new KvReferenceStore(new MemoryKeyValueStore());
  const ports = {
    env,
    fetch: (i: RequestInfo | URL, init?: RequestInit) => fetch(i, init),
    tokenStore: new MemoryTokenStore(),
    references,
    clock,
    logger: silentLogger,
  };
  return { emulator, server, references, ports };
}

const materialsRef = () => seedFlow("jst-other-in-to-kis").references.find((r) => r.name === "kis_materials")!;

async function post(url: string, body: unknown, emulator: ReturnType<typeof createKisEmulator>) {
  const c = emulator.credentials();
  const res = await fetch(`${url}?access_token=${c.accessToken}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "KIS-AuthData": c.authData,
      "X-GW-Router-Addr": c.gwRouterAddr,
      "KIS-Timestamp": String(Math.floor(Date.UTC(2024, 2, 1, 2) / 1000)),
      "KIS-State": "s",
      "KIS-TraceID": "t",
      "KIS-Ver": "1.0",
    },
    body: JSON.stringify(body),
  });
  return (await res.json()) as { errcode: number; data: { List: Record<string, unknown>[] } };
}

describe("KIS emulator materials follow the public clients", () => {
  it("Material/List rows carry only FItemID/FNumber/FName/FParentID(/FDetail); GetListDetails carries unit and custom fields", async () => {
    const t = await setup();
    const base = `${t.server.url}/koas/APP006992/api/Material`;
    const list = await post(
      `${base}/List`,
      { CurrentPage: 1, ItemsOfPage: 100, ParentId: 0, Detail: true, SearchKey: "", Ids: [], StartDate: "", EndDate: "" },
      t.emulator,
    );
    expect(list.errcode).toBe(0);
    for (const row of list.data.List) expect(Object.keys(row).sort()).toEqual(["FDetail", "FItemID", "FName", "FNumber", "FParentID"]);
    const ids = list.data.List.slice(0, 3).map((r) => r.FItemID as number);
    const details = await post(`${base}/GetListDetails`, { ItemIds: ids }, t.emulator);
    expect(details.data.List.map((r) => r.FItemID)).toEqual(ids);
    expect(details.data.List[0]).toMatchObject({ FUnitID: expect.any(Number), F_103: expect.any(String) });
  });
});

describe("kis_materials refresh (KIS seed flow: FItemID/FUnitID by F_103)", () => {
  for (const profile of ["details", "list"] as const) {
    it(`fills F_103, FItemID and FUnitID for every SKU (materialFields: ${profile})`, async () => {
      const t = await setup({ materialFields: profile });
      const result = await refreshReferenceTable(materialsRef(), t.ports);
      expect(result.rows).toBe(SKUS.length);
      const table = (await t.references.get("kis_materials"))!;
      for (const sku of SKUS) {
        const row = table.rows.find((r) => r.F_103 === sku.skuId);
        expect(row, sku.skuId).toMatchObject({ FItemID: sku.kisItemId, FUnitID: sku.kisUnitId });
      }
      const detailCalls = t.emulator.requests().filter((r) => r.path.endsWith("/GetListDetails"));
      if (profile === "details") {
        expect(detailCalls.length).toBe(Math.ceil(SKUS.length / 20));
        for (const c of detailCalls) expect((c.body as { ItemIds: number[] }).ItemIds.length).toBeLessThanOrEqual(20);
      }
    });
  }

  it("falls back to Material/GetDetail when GetListDetails is not there", async () => {
    const t = await setup({ materialDetailApi: "getDetail" });
    await refreshReferenceTable(materialsRef(), t.ports);
    const table = (await t.references.get("kis_materials"))!;
    expect(table.rows.find((r) => r.F_103 === SKUS[0]!.skuId)).toMatchObject({ FItemID: SKUS[0]!.kisItemId, FUnitID: SKUS[0]!.kisUnitId });
  });

  it("names the missing key field when no KIS material API returns it", async () => {
    const t = await setup({ materialFields: "none" });
    await expect(refreshReferenceTable(materialsRef(), t.ports)).rejects.toThrow(/F_103/);
  });
});
