import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import { harness } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const h = harness();
let s: Served;
beforeAll(async () => {
  s = await h.start();
});
afterAll(() => h.closeAll());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.server.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("T+ emulator over HTTP", () => {
  it("the gateway refuses missing or wrong credentials with 50000", async () => {
    const noHeaders = await post("/tplus/api/v2/otherDispatch/Create", { dto: otherDispatchDto("E-1") });
    expect(noHeaders.status).toBe(403);
    expect(await noHeaders.json()).toMatchObject({ code: "50000" });
    const badToken = await post(
      "/tplus/api/v2/otherDispatch/Create",
      { dto: otherDispatchDto("E-1") },
      { appKey: s.emulator.appKey, appSecret: s.emulator.appSecret, openToken: "forged" },
    );
    expect(badToken.status).toBe(401);
    const t = s.emulator.issueCloudTokens();
    const unknownPath = await post("/tplus/api/v2/nothing/Here", {}, { appKey: s.emulator.appKey, appSecret: s.emulator.appSecret, openToken: t.accessToken });
    expect(unknownPath.status).toBe(404);
    expect(s.emulator.state().vouchers.otherDispatch).toHaveLength(0);
  });

  it("the token endpoints check grantType and appKey", async () => {
    const noKey = await fetch(`${s.server.url}/auth/v2/refreshToken?grantType=refresh_token&refreshToken=x`);
    expect(await noKey.json()).toMatchObject({ code: "4001" });
    const noGrant = await fetch(`${s.server.url}/auth/v2/refreshToken?refreshToken=x`, {
      headers: { appKey: s.emulator.appKey, appSecret: s.emulator.appSecret },
    });
    expect(await noGrant.json()).toMatchObject({ code: "4003" });
  });

  it("serves the admin routes: faults, request log, state and reset", async () => {
    const bad = await post("/__emulator/faults", [{ kind: "meteorStrike" }]);
    expect(bad.status).toBe(400);
    const t = s.emulator.issueCloudTokens();
    const headers = { appKey: s.emulator.appKey, appSecret: s.emulator.appSecret, openToken: t.accessToken };
    expect((await post("/__emulator/faults", [{ kind: "http5xx", path: "/otherDispatch/", skip: 1 }])).status).toBe(200);
    expect((await post("/tplus/api/v2/otherDispatch/Create", { dto: otherDispatchDto("A-1") }, headers)).status).toBe(200);
    expect((await post("/tplus/api/v2/otherDispatch/Create", { dto: otherDispatchDto("A-2") }, headers)).status).toBe(503);

    const log = (await (await fetch(`${s.server.url}/__emulator/requests`)).json()) as Array<{
      path: string;
      status: number;
      fault?: string;
      body?: { externalCodes?: string[] };
    }>;
    const tail = log.slice(-2);
    expect(tail.map((e) => [e.status, e.fault ?? null, e.body?.externalCodes?.[0] ?? null])).toEqual([
      [200, null, "A-1"],
      [503, "http5xx", null],
    ]);
    const state = (await (await fetch(`${s.server.url}/__emulator/state`)).json()) as {
      vouchers: Record<string, Array<{ ExternalCode: string; payload: unknown }>>;
    };
    expect(state.vouchers.otherDispatch!.map((v) => v.ExternalCode)).toEqual(["A-1"]);
    expect(state.vouchers.otherDispatch![0]!.payload).toMatchObject({ VoucherType: { Code: "ST1024" } });

    await fetch(`${s.server.url}/__emulator/requests`, { method: "DELETE" });
    expect(await (await fetch(`${s.server.url}/__emulator/requests`)).json()).toEqual([]);
    await post("/__emulator/reset", {});
    expect(s.emulator.state().vouchers.otherDispatch).toHaveLength(0);
    // Reset also forgets issued tokens.
    expect((await post("/tplus/api/v2/warehouse/Query", {}, headers)).status).toBe(401);
  });

  it("enforces ExternalCode uniqueness per voucher type, not across types", async () => {
    const t = s.emulator.issueCloudTokens();
    const headers = { appKey: s.emulator.appKey, appSecret: s.emulator.appSecret, openToken: t.accessToken };
    expect((await post("/tplus/api/v2/otherDispatch/Create", { dto: otherDispatchDto("U-1") }, headers)).status).toBe(200);
    const dup = await post("/tplus/api/v2/otherDispatch/Create", { dto: otherDispatchDto("U-1") }, headers);
    expect(dup.status).toBe(400);
    expect(((await dup.json()) as { message: string }).message).toMatch(/外部单据号U-1已存在/);
    const other = await post("/tplus/api/v2/otherReceive/Create", { dto: { ...otherDispatchDto("U-1"), VoucherType: { Code: "ST1004" } } }, headers);
    expect(other.status).toBe(200);
  });
});
