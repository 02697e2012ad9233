/**
 * The T+ client inside workerd: both transports against the in-process emulator, including the PS256
 * authInfo made with workerd's WebCrypto, token rotation mid-run, a lost answer and a partial batch.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { createTplusClient } from "../../shared/connectors/tplus/operations.ts";
import type { TplusConfig } from "../../shared/connectors/tplus/operations.ts";
import { generateIsvKeys, manualClock, otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import type { IsvKeyPair } from "../emulators/tplus/fixtures.ts";
import { createTplusEmulator } from "../emulators/tplus/index.ts";
import type { TplusEmulator } from "../emulators/tplus/index.ts";

const BASE = "https://tplus.emulator";
let keys: IsvKeyPair;

beforeAll(async () => {
  keys = await generateIsvKeys();
});

function portTo(emulator: TplusEmulator): FetchLike {
  return (input, init) => Promise.resolve(emulator.app.fetch(new Request(input, init)));
}

function setup(mode: "cloud" | "onprem", timeoutMs = 5000, privateKey?: string) {
  const clock = manualClock();
  const emulator = createTplusEmulator({ now: () => clock.now(), publicKey: keys.publicPem });
  const store = new MemoryTokenStore();
  let config: TplusConfig;
  const seed = emulator.issueCloudTokens();
  if (mode === "cloud") {
    config = { mode, baseUrl: BASE, appKey: emulator.appKey, appSecret: emulator.appSecret, openToken: seed.accessToken, refreshToken: seed.refreshToken };
  } else {
    const u = emulator.users[0]!;
    config = {
      mode,
      baseUrl: `${BASE}:8890/tplus/api/v2/`,
      appKey: emulator.appKey,
      appSecret: emulator.appSecret,
      orgId: emulator.orgId,
      privateKey: privateKey ?? keys.privatePem,
      user: u.userName,
      password: u.password,
      account: u.accNum,
    };
  }
  const client = createTplusClient(config, { fetch: portTo(emulator), tokenStore: store, clock }, { timeoutMs, retry: { baseDelayMs: 10 } });
  return { emulator, client, store, clock, seed };
}

const doc = (key: string, overrides: Record<string, unknown> = {}) => ({
  operation: "otherDispatch",
  externalKey: key,
  payload: otherDispatchDto(key, overrides),
});

/** PKCS#8 of a 2048-bit RSA key is a fixed 26-byte envelope around the PKCS#1 key; unwrap it to get a "BEGIN RSA PRIVATE KEY". */
function toPkcs1Pem(pkcs8Pem: string): string {
  const body = pkcs8Pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  expect([der[22], der[23]]).toEqual([0x04, 0x82]);
  let binary = "";
  for (const b of der.subarray(26)) binary += String.fromCharCode(b);
  return `-----BEGIN RSA PRIVATE KEY-----\n${btoa(binary)}\n-----END RSA PRIVATE KEY-----`;
}

describe("T+ client inside workerd", () => {
  it("cloud: the token rotates mid-run, the new pair is stored, the old refresh token is dead", async () => {
    const { emulator, client, store, clock, seed } = setup("cloud");
    expect((await client.write(doc("W-C-1"))).status).toBe("created");
    clock.advance(6 * 86_400_000 + 1);
    expect((await client.write(doc("W-C-2"))).status).toBe("created");
    const rotated = await store.get("tplus-cloud");
    expect(rotated!.refreshToken).not.toBe(seed.refreshToken);
    expect(emulator.state().cloud.refreshCount).toBe(1);
    const reuse = await emulator.app.fetch(
      new Request(`${BASE}/auth/v2/refreshToken?grantType=refresh_token&refreshToken=${seed.refreshToken}`, {
        headers: { appKey: emulator.appKey, appSecret: emulator.appSecret },
      }),
    );
    expect(((await reuse.json()) as { code: string }).code).toBe("4005");
    expect(emulator.state().vouchers.otherDispatch!.map((v) => v.ExternalCode)).toEqual(["W-C-1", "W-C-2"]);
  });

  it("on-prem: PS256 authInfo signed with WebCrypto is verified; a duplicate is already_exists", async () => {
    const { emulator, client } = setup("onprem");
    expect((await client.write(doc("W-O-1"))).status).toBe("created");
    expect(await client.write(doc("W-O-1"))).toEqual({ externalKey: "W-O-1", status: "already_exists" });
    const [login, create] = emulator.requests();
    expect(login!.auth).toMatchObject({ alg: "PS256", sub: "tester" });
    expect(create!.auth).toMatchObject({ alg: "PS256", sub: "chanjet", accessToken: "present" });
    expect(emulator.state().vouchers.otherDispatch).toHaveLength(1);
  });

  it("on-prem: a PKCS#1 private key is wrapped into PKCS#8 inside workerd", async () => {
    const { emulator, client } = setup("onprem", 5000, toPkcs1Pem(keys.privatePem));
    expect((await client.write(doc("W-O-2"))).status).toBe("created");
    expect(emulator.state().onprem.loginCount).toBe(1);
  });

  it("commit then timeout: exactly one stored voucher, reported created", async () => {
    const { emulator, client } = setup("cloud", 200);
    // The hold also ends on its own (delayMs) in case this runtime does not forward the abort to the Request.
    emulator.addFaults([{ kind: "commitThenTimeout", path: "/otherDispatch/Create", delayMs: 800 }]);
    const result = await client.write(doc("W-T-1"));
    emulator.releaseHeld();
    expect(result.status).toBe("created");
    expect(emulator.state().vouchers.otherDispatch!.map((v) => v.ExternalCode)).toEqual(["W-T-1"]);
  });

  it("CreateBatch with one bad document: others written, the bad one reported", async () => {
    const { emulator, client } = setup("onprem");
    const results = await client.writeBatch([doc("W-B-1"), doc("W-B-2", { BusiType: { Code: "99" } }), doc("W-B-3")]);
    expect(results.map((r) => ("error" in r ? r.error.code : r.status))).toEqual(["created", "tplus_business", "created"]);
    expect(emulator.state().vouchers.otherDispatch!.map((v) => v.ExternalCode)).toEqual(["W-B-1", "W-B-3"]);
  });
});
