import { generateKeyPairSync, createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { TplusError } from "../../shared/connectors/tplus/errors.ts";
import { parsePrivateKeyPem, pkcs1ToPkcs8 } from "../../shared/connectors/tplus/jwt.ts";
import { createTplusClient } from "../../shared/connectors/tplus/operations.ts";
import type { TplusClientOptions, TplusOnpremConfig } from "../../shared/connectors/tplus/operations.ts";
import { md5Hex } from "../../shared/util/md5.ts";
import { generateIsvKeys, otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import type { IsvKeyPair } from "../emulators/tplus/fixtures.ts";
import { exposed, harness, rejection } from "./tplus-harness.ts";
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

function onpremClient(
  served: Served,
  overrides: Partial<TplusOnpremConfig> = {},
  extra: { store?: MemoryTokenStore; options?: TplusClientOptions; clockOffsetMs?: number } = {},
) {
  const user = served.emulator.users[0]!;
  const store = extra.store ?? new MemoryTokenStore();
  const counting = h.countingFetch();
  const clock = { now: () => h.clock.now() + (extra.clockOffsetMs ?? 0), sleep: h.clock.sleep };
  const config: TplusOnpremConfig = {
    mode: "onprem",
    baseUrl: served.server.url,
    appKey: served.emulator.appKey,
    appSecret: served.emulator.appSecret,
    orgId: served.emulator.orgId,
    privateKey: keys.privatePem,
    user: user.userName,
    password: user.password,
    account: user.accNum,
    ...overrides,
  };
  const client = createTplusClient(config, { fetch: counting.fetch, tokenStore: store, clock }, { retry: { baseDelayMs: 20 }, ...extra.options });
  return { client, store, calls: counting.calls };
}

const write = (key: string) => ({ operation: "otherDispatch", externalKey: key, payload: otherDispatchDto(key) });

describe("on-prem T+ transport", () => {
  it("logs in with an md5 password and a PS256 authInfo, then posts _args with the token in the JWT", async () => {
    const { client, store } = onpremClient(main);
    expect(await client.write(write("JST-OP-1"))).toEqual({ externalKey: "JST-OP-1", status: "created" });
    const [login, create] = main.emulator.requests();
    expect(login!.path).toBe("/tplus/api/v2/collaborationapp/GetRealNameTPlusToken");
    expect(login!.params).toEqual({ IsFree: "1" });
    expect(login!.transport).toBe("onprem");
    expect(login!.auth).toMatchObject({ alg: "PS256", sub: "tester", accessToken: "missing" });
    expect(login!.body).toMatchObject({ userName: "demo", accNum: "001" });
    expect(create!.auth).toMatchObject({ alg: "PS256", sub: "chanjet", accessToken: "present", cookieSid: true });
    expect(create!.body).toMatchObject({ keys: ["dto"], externalCodes: ["JST-OP-1"] });
    const voucher = main.emulator.state().vouchers.otherDispatch[0]!;
    expect(voucher.transport).toBe("onprem");
    expect(voucher.ExternalCode).toBe("JST-OP-1");
    expect((await store.get("tplus-onprem"))!.extra?.sid).toMatch(/^sid-/);
  });

  it("reuses the stored session in the next run instead of logging in again", async () => {
    const store = new MemoryTokenStore();
    await onpremClient(main, {}, { store }).client.write(write("JST-OP-2"));
    await onpremClient(main, {}, { store }).client.write(write("JST-OP-3"));
    expect(main.emulator.state().onprem.loginCount).toBe(1);
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(2);
  });

  it("logs in again once when the server forgot the session (EXSM0003)", async () => {
    const { client } = onpremClient(main);
    await client.write(write("JST-OP-4"));
    main.emulator.invalidateOnpremSessions();
    expect((await client.write(write("JST-OP-5"))).status).toBe("created");
    expect(main.emulator.state().onprem.loginCount).toBe(2);
    const codes = main.emulator.requests().map((r) => r.code ?? r.status);
    expect(codes).toEqual([200, 200, "EXSM0003", 200, 200]);
  });

  it("the tokenExpired fault invalidates the session and the client recovers", async () => {
    const { client } = onpremClient(main);
    main.emulator.addFaults([{ kind: "tokenExpired", path: "/otherDispatch/Create" }]);
    expect((await client.write(write("JST-OP-6"))).status).toBe("created");
    expect(main.emulator.state().onprem.loginCount).toBe(2);
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(1);
  });

  it("a wrong password fails the login with a hint and shows neither the password nor its md5", async () => {
    const { client } = onpremClient(main, { password: "not-the-password" });
    const error = await rejection(client.write(write("JST-OP-7")));
    expect(error.code).toBe("tplus_login_failed");
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/TPLUS_PASSWORD/);
    expect(exposed(error)).not.toContain("not-the-password");
    expect(exposed(error)).not.toContain(md5Hex("not-the-password"));
  });

  it("a wrong account number fails the login", async () => {
    const error = await rejection(onpremClient(main, { account: "999" }).client.write(write("JST-OP-8")));
    expect(error.code).toBe("tplus_login_failed");
    expect(error.message).toContain("账套");
  });

  it("a wrong appSecret breaks the datas digest; the secret is not echoed", async () => {
    const error = await rejection(onpremClient(main, { appSecret: "secret-that-is-wrong" }).client.write(write("JST-OP-9")));
    expect(error.code).toBe("tplus_login_failed");
    expect(error.message).toContain("datas");
    expect(exposed(error)).not.toContain("secret-that-is-wrong");
  });

  it("exp is in milliseconds: a client clock 60 s behind produces an expired authInfo", async () => {
    const error = await rejection(onpremClient(main, {}, { clockOffsetMs: -60_000 }).client.write(write("JST-OP-10")));
    expect(error.code).toBe("tplus_login_failed");
    expect(error.message).toContain("已过期");
    expect(error.hint).toMatch(/clock/);
  });

  it("a signature from another key is refused", async () => {
    const other = await generateIsvKeys();
    const error = await rejection(onpremClient(main, { privateKey: other.privatePem }).client.write(write("JST-OP-11")));
    expect(error.code).toBe("tplus_login_failed");
    expect(error.message).toContain("签名验证失败");
  });

  it("RS256 is refused by default and accepted when the server allows it (UNCERTAIN reading)", async () => {
    const rs = { options: { onprem: { algorithm: "RS256" as const } } };
    const refused = await rejection(onpremClient(main, {}, rs).client.write(write("JST-OP-12")));
    expect(refused.message).toContain("RS256");
    const lenient = await h.start({ publicKey: keys.publicPem, acceptRs256: true });
    expect((await onpremClient(lenient, {}, rs).client.write(write("JST-OP-12"))).status).toBe("created");
    expect(lenient.emulator.requests()[0]!.auth).toMatchObject({ alg: "RS256" });
  });

  it("business errors come back as {code,message} with HTTP 500 and are not retried", async () => {
    const { client, calls } = onpremClient(main);
    const error = await rejection(client.createOtherDispatch(otherDispatchDto("JST-OP-13", { Warehouse: { Code: "ZZ" } })));
    expect(error.code).toBe("tplus_business");
    expect(error.httpStatus).toBe(500);
    expect(error.tplusCode).toBe("EXVD0002");
    expect(calls.filter((p) => p.endsWith("/Create"))).toHaveLength(1);
  });

  it("an unknown service answers EXSV0011", async () => {
    const { client } = onpremClient(main);
    const error = await rejection(client.transport.call("noSuchThing/Query", { param: {} }));
    expect(error.code).toBe("tplus_api_not_enabled");
  });

  it("reads master data: warehouses and paged inventory", async () => {
    const { client } = onpremClient(main);
    const warehouses = await client.queryWarehouse({});
    expect(warehouses.map((w) => w.Code)).toEqual(["01", "02", "03"]);
    const one = await client.queryInventory({ Code: "TX100-11" });
    expect(one).toEqual([expect.objectContaining({ Code: "TX100-11", Unit: { Name: "件" } })]);
    const all = await client.queryAllInventory({});
    expect(all).toHaveLength(96);
    expect(new Set(all.map((r) => r.Code)).size).toBe(96);
    // Archives have no page index (tplus-vendor-true.test.ts covers paging past 1000 rows).
    const pages = main.emulator.requests().filter((r) => r.path.endsWith("inventory/Query") && (r.body?.param as { PageSize?: number })?.PageSize === 1000);
    expect(pages).toHaveLength(1);
  });
});

describe("ISV private key handling", () => {
  it("accepts a PKCS#1 key (BEGIN RSA PRIVATE KEY) by wrapping it into PKCS#8", async () => {
    const pair = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    // The wrapper produces exactly the PKCS#8 DER that OpenSSL would.
    const parsed = parsePrivateKeyPem(pair.privateKey);
    expect(parsed.kind).toBe("pkcs1");
    const expected = createPrivateKey(pair.privateKey).export({ type: "pkcs8", format: "der" });
    expect(Buffer.from(pkcs1ToPkcs8(parsed.der)).equals(expected)).toBe(true);

    const served = await h.start({ publicKey: pair.publicKey });
    const escaped = pair.privateKey.trim().replace(/\n/g, "\\n"); // as pasted into a one-line env var
    expect((await onpremClient(served, { privateKey: escaped }).client.write(write("JST-K-1"))).status).toBe("created");
  });

  it("an encrypted or malformed key is a ConfigError with a conversion hint and no key material", async () => {
    const encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----";
    const e1 = await rejection(onpremClient(main, { privateKey: encrypted }).client.write(write("JST-K-2")));
    expect(e1).toBeInstanceOf(ConfigError);
    expect(e1.hint).toMatch(/openssl pkcs8/);
    const garbage = "-----BEGIN PRIVATE KEY-----\nTUlJRkhEQk9CZ2txaGtpRzl3MEJCUTB3UVRB\n-----END PRIVATE KEY-----";
    const e2 = await rejection(onpremClient(main, { privateKey: garbage }).client.write(write("JST-K-3")));
    expect(e2).toBeInstanceOf(ConfigError);
    expect(e2.hint).toMatch(/BEGIN RSA PRIVATE KEY/);
    expect(exposed(e2)).not.toContain("TUlJRkhEQk9CZ2txaGtpRzl3MEJCUTB3UVRB");
    expect(main.emulator.requests()).toHaveLength(0);
  });

  it("errors never carry the private key, password or session token", async () => {
    const { client, store } = onpremClient(main);
    await client.write(write("JST-K-4"));
    main.emulator.addFaults([{ kind: "bizError", path: "/Create", message: "失败" }]);
    const error = await rejection(client.write(write("JST-K-5")));
    const token = (await store.get("tplus-onprem"))!.accessToken;
    const text = exposed(error);
    for (const secret of [token, main.emulator.users[0]!.password, main.emulator.appSecret, keys.privatePem.split("\n")[1]!]) {
      expect(text).not.toContain(secret);
    }
    expect(error).toBeInstanceOf(TplusError);
  });
});
