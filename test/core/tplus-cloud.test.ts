import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BridgeError } from "../../shared/errors.ts";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { TplusError } from "../../shared/connectors/tplus/errors.ts";
import { createTplusClient } from "../../shared/connectors/tplus/operations.ts";
import { otherDispatchDto } from "../emulators/tplus/fixtures.ts";
import { exposed, harness, rejection } from "./tplus-harness.ts";
import type { Served } from "./tplus-harness.ts";

const SIX_DAYS = 6 * 86_400_000;
const h = harness();
let main: Served;

beforeAll(async () => {
  main = await h.start();
});
afterAll(() => h.closeAll());
beforeEach(() => {
  main.emulator.reset();
  h.clock.sleeps.length = 0;
});

const write = (key: string, overrides: Record<string, unknown> = {}) => ({
  operation: "otherDispatch",
  externalKey: key,
  payload: otherDispatchDto(key, overrides),
});

describe("T+Cloud transport", () => {
  it("posts JSON with appKey / appSecret / openToken headers and books the voucher", async () => {
    const { client, calls } = h.cloudClient(main);
    const result = await client.write(write("JST-IO-1001"));
    expect(result).toEqual({ externalKey: "JST-IO-1001", status: "created" });
    expect(calls).toEqual(["/tplus/api/v2/otherDispatch/Create"]);
    const stored = main.emulator.state().vouchers.otherDispatch;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.ExternalCode).toBe("JST-IO-1001");
    expect(stored[0]!.transport).toBe("cloud");
    expect(stored[0]!.payload.RDRecordDetails).toHaveLength(2);
    const [entry] = main.emulator.requests();
    expect(entry!.auth).toMatchObject({ appKey: main.emulator.appKey, openToken: "present" });
  });

  it("refreshes proactively near the 6-day expiry, stores the rotated pair before use, and the old pair is dead", async () => {
    const store = new MemoryTokenStore();
    const old = main.emulator.issueCloudTokens();
    // The stored pair expires within the refresh margin (1 h left of 6 days).
    await store.put("tplus-cloud", { accessToken: old.accessToken, refreshToken: old.refreshToken, expiresAt: h.clock.now() + 3_600_000 });
    const client = createTplusClient(
      { mode: "cloud", baseUrl: main.server.url, appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    expect((await client.write(write("JST-IO-2001"))).status).toBe("created");

    const paths = main.emulator.requests().map((r) => r.path);
    expect(paths).toEqual(["/auth/v2/refreshToken", "/tplus/api/v2/otherDispatch/Create"]);
    const rotated = await store.get("tplus-cloud");
    expect(rotated!.accessToken).not.toBe(old.accessToken);
    expect(rotated!.refreshToken).not.toBe(old.refreshToken);
    expect(rotated!.expiresAt).toBe(h.clock.now() + 518_400_000);
    expect(rotated!.extra?.sid).toMatch(/^sid-/);

    // The old refresh token no longer works…
    const reuse = await fetch(`${main.server.url}/auth/v2/refreshToken?grantType=refresh_token&refreshToken=${old.refreshToken}`, {
      headers: { appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
    });
    expect(((await reuse.json()) as { code: string }).code).not.toBe("200");
    // …nor the old access token.
    const oldCall = await fetch(`${main.server.url}/tplus/api/v2/warehouse/Query`, {
      method: "POST",
      headers: { appKey: main.emulator.appKey, appSecret: main.emulator.appSecret, openToken: old.accessToken, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(oldCall.status).toBe(401);
    // The sid from the token result travels as a cookie afterwards.
    await client.write(write("JST-IO-2002"));
    expect(main.emulator.requests().at(-1)!.auth).toMatchObject({ cookieSid: true });
  });

  it("refreshes reactively once when the gateway rejects an expired token mid-run", async () => {
    const { client, store, tokens } = h.cloudClient(main);
    await client.write(write("JST-IO-3001"));
    h.clock.advance(SIX_DAYS + 1000); // the opaque seed token carried no expiry, so only the server knows
    expect((await client.write(write("JST-IO-3002"))).status).toBe("created");
    expect(main.emulator.state().cloud.refreshCount).toBe(1);
    const creates = main.emulator.requests().filter((r) => r.path.endsWith("/Create"));
    expect(creates.map((r) => r.status)).toEqual([200, 401, 200]);
    const now = await store.get("tplus-cloud");
    expect(now!.refreshToken).not.toBe(tokens.refreshToken);
    // The next run (a new client on the same store) uses the rotated pair, not the stale env seed.
    const again = createTplusClient(
      {
        mode: "cloud",
        baseUrl: main.server.url,
        appKey: main.emulator.appKey,
        appSecret: main.emulator.appSecret,
        openToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    expect((await again.write(write("JST-IO-3003"))).status).toBe("created");
    expect(main.emulator.state().cloud.refreshCount).toBe(1);
  });

  it("concurrent callers share one refresh", async () => {
    const { client, store } = h.cloudClient(main);
    h.clock.advance(SIX_DAYS + 1000);
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => client.write(write(`JST-IO-40${n}`))));
    expect(results.every((r) => r.status === "created")).toBe(true);
    expect(main.emulator.state().cloud.refreshCount).toBe(1);
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(5);
    expect((await store.get("tplus-cloud"))!.accessToken).toBeTruthy();
  });

  it("a second host adopts the pair another host stored instead of spending the refresh token again", async () => {
    const shared = new MemoryTokenStore();
    const a = h.cloudClient(main, { store: shared });
    const b = createTplusClient(
      {
        mode: "cloud",
        baseUrl: main.server.url,
        appKey: main.emulator.appKey,
        appSecret: main.emulator.appSecret,
        openToken: a.tokens.accessToken,
        refreshToken: a.tokens.refreshToken,
      },
      { fetch: (i, init) => fetch(i, init), tokenStore: shared, clock: h.clock },
    );
    await b.write(write("JST-IO-5000")); // b now holds the seed pair in memory
    h.clock.advance(SIX_DAYS + 1000);
    await a.client.write(write("JST-IO-5001")); // a refreshes and stores
    expect((await b.write(write("JST-IO-5002"))).status).toBe("created"); // b: 401, finds the new pair, no refresh
    expect(main.emulator.state().cloud.refreshCount).toBe(1);
  });

  it("a refused refresh is typed, not retryable, and asks for re-authorization without echoing the token", async () => {
    const store = new MemoryTokenStore();
    await store.put("tplus-cloud", { accessToken: "at-dead", refreshToken: "rt-not-issued-by-the-server", expiresAt: h.clock.now() - 1 });
    const client = createTplusClient(
      { mode: "cloud", baseUrl: main.server.url, appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    const error = await rejection(client.write(write("JST-IO-6001")));
    expect(error).toBeInstanceOf(TplusError);
    expect(error.code).toBe("tplus_refresh_failed");
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/TPLUS_REFRESH_TOKEN/);
    expect(exposed(error)).not.toContain("rt-not-issued-by-the-server");
    expect(exposed(error)).not.toContain(main.emulator.appSecret);
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(0);
  });

  it("retries a token refresh answered 14002 (too fast)", async () => {
    const { client } = h.cloudClient(main);
    h.clock.advance(SIX_DAYS + 1000);
    main.emulator.addFaults([{ kind: "tooFast14002", path: "/auth/v2/refreshToken" }]);
    expect((await client.write(write("JST-IO-7001"))).status).toBe("created");
    const refreshes = main.emulator.requests().filter((r) => r.path === "/auth/v2/refreshToken");
    expect(refreshes.map((r) => r.code ?? "ok")).toEqual(["14002", "ok"]);
    expect(h.clock.sleeps.some((ms) => ms >= 2000)).toBe(true);
  });

  it("reads the expiry of a JWT openToken from the env and refreshes before it runs out", async () => {
    const { refreshToken } = main.emulator.issueCloudTokens();
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "");
    const jwt = `${b64({ alg: "HS256" })}.${b64({ sub: "isv", exp: Math.floor(h.clock.now() / 1000) + 3600 })}.c2ln`;
    const store = new MemoryTokenStore();
    const client = createTplusClient(
      { mode: "cloud", baseUrl: main.server.url, appKey: main.emulator.appKey, appSecret: main.emulator.appSecret, openToken: jwt, refreshToken },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    expect((await client.write(write("JST-IO-7101"))).status).toBe("created");
    expect(main.emulator.requests().map((r) => r.path)).toEqual(["/auth/v2/refreshToken", "/tplus/api/v2/otherDispatch/Create"]);
  });

  it("a refused proactive refresh keeps using the still-valid token", async () => {
    const store = new MemoryTokenStore();
    const live = main.emulator.issueCloudTokens();
    await store.put("tplus-cloud", { accessToken: live.accessToken, refreshToken: "rt-unknown", expiresAt: h.clock.now() + 3_600_000 });
    const client = createTplusClient(
      { mode: "cloud", baseUrl: main.server.url, appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    expect((await client.write(write("JST-IO-7201"))).status).toBe("created");
    expect((await client.write(write("JST-IO-7202"))).status).toBe("created");
    // One refused refresh, then no more attempts for a while.
    expect(main.emulator.requests().filter((r) => r.path === "/auth/v2/refreshToken")).toHaveLength(1);
  });

  it("never loses a rotated pair when the token store fails: kept in memory, saved before the next use", async () => {
    const inner = new MemoryTokenStore();
    let failPuts = 0;
    const flaky = {
      get: (k: string) => inner.get(k),
      put: async (k: string, t: Parameters<MemoryTokenStore["put"]>[1]) => {
        if (failPuts > 0) {
          failPuts--;
          throw new Error("KV unavailable");
        }
        await inner.put(k, t);
      },
    };
    const seed = main.emulator.issueCloudTokens();
    const client = createTplusClient(
      {
        mode: "cloud",
        baseUrl: main.server.url,
        appKey: main.emulator.appKey,
        appSecret: main.emulator.appSecret,
        openToken: seed.accessToken,
        refreshToken: seed.refreshToken,
      },
      { fetch: (i, init) => fetch(i, init), tokenStore: flaky, clock: h.clock },
    );
    await client.write(write("JST-IO-7301"));
    h.clock.advance(SIX_DAYS + 1000);
    failPuts = 3;
    const error = await rejection(client.write(write("JST-IO-7302")));
    expect(error.code).toBe("tplus_token_persist_failed");
    expect(exposed(error)).not.toContain(seed.refreshToken);
    expect((await inner.get("tplus-cloud"))!.refreshToken).toBe(seed.refreshToken); // not saved yet
    expect((await client.write(write("JST-IO-7302"))).status).toBe("created");
    const saved = await inner.get("tplus-cloud");
    expect(saved!.refreshToken).not.toBe(seed.refreshToken);
    expect(main.emulator.state().cloud.refreshCount).toBe(1);
    // The saved refresh token is the live one: a new host can refresh with it.
    const res = await fetch(`${main.server.url}/auth/v2/refreshToken?grantType=refresh_token&refreshToken=${saved!.refreshToken}`, {
      headers: { appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
    });
    expect(((await res.json()) as { code: string }).code).toBe("200");
  });

  it("bootstraps from a one-time authorization code", async () => {
    const store = new MemoryTokenStore();
    const client = createTplusClient(
      { mode: "cloud", baseUrl: main.server.url, appKey: main.emulator.appKey, appSecret: main.emulator.appSecret },
      { fetch: (i, init) => fetch(i, init), tokenStore: store, clock: h.clock },
    );
    const code = main.emulator.issueAuthCode();
    const info = await client.exchangeAuthorizationCode(code, "https://bridge.example/callback");
    expect(info.orgId).toBe(main.emulator.orgId);
    expect(info.expiresAt).toBe(h.clock.now() + 518_400_000);
    expect(JSON.stringify(info)).not.toMatch(/at-|rt-/);
    expect((await store.get("tplus-cloud"))!.refreshToken).toMatch(/^rt-/);
    expect((await client.write(write("JST-IO-8001"))).status).toBe("created");
    const reused = await rejection(client.exchangeAuthorizationCode(code, "https://bridge.example/callback"));
    expect(reused.code).toBe("tplus_refresh_failed");
    expect(exposed(reused)).not.toContain(code);
  });
});

describe("T+Cloud typed errors", () => {
  it("wrong appSecret: 50000, not retryable, hint names the variables, secret never shown", async () => {
    const { client } = h.cloudClient(main, { config: { appSecret: "a-wrong-secret-value" } });
    const error = await rejection(client.write(write("JST-E-1")));
    expect(error).toBeInstanceOf(TplusError);
    expect(error.code).toBe("tplus_auth");
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/TPLUS_APP_SECRET/);
    expect(exposed(error)).not.toContain("a-wrong-secret-value");
  });

  it("unknown API path: 50000 with HTTP 404 and a path hint", async () => {
    const { client } = h.cloudClient(main);
    const error = await rejection(client.transport.call("noSuchResource/Create", {}));
    expect(error.code).toBe("tplus_auth");
    expect(error.httpStatus).toBe(404);
    expect(error.hint).toMatch(/API path/);
  });

  it("50112 with HTTP 401 (quota spent) is not retried", async () => {
    const { client, calls } = h.cloudClient(main);
    main.emulator.addFaults([{ kind: "quota50112", path: "/otherDispatch/Create", times: 5 }]);
    const error = await rejection(client.write(write("JST-E-2")));
    expect(error.code).toBe("tplus_quota");
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/流量包/);
    expect(calls).toHaveLength(1);
  });

  it("the emulator's monthly quota answers 50112 once the calls are used up", async () => {
    const small = await h.start({ monthlyQuota: 2 });
    const { client } = h.cloudClient(small);
    await client.write(write("JST-Q-1"));
    await client.write(write("JST-Q-2"));
    expect((await rejection(client.write(write("JST-Q-3")))).code).toBe("tplus_quota");
    expect(small.emulator.state().vouchers.otherDispatch).toHaveLength(2);
  });

  it("50112 with HTTP 403: token issued to another appKey", async () => {
    const two = await h.start({ extraApps: [{ appKey: "other-app", appSecret: "other-secret" }] });
    const foreign = two.emulator.issueCloudTokens("other-app");
    const { client } = h.cloudClient(two, { config: { openToken: foreign.accessToken, refreshToken: foreign.refreshToken } });
    const error = await rejection(client.write(write("JST-E-3")));
    expect(error.code).toBe("tplus_appkey_mismatch");
    expect(error.httpStatus).toBe(403);
    expect(error.retryable).toBe(false);
  });

  it("HTTP 409 throttling is retried with backoff, and surfaces as retryable when it persists", async () => {
    const { client } = h.cloudClient(main, { options: { retry: { tries: 3, baseDelayMs: 10 } } });
    main.emulator.addFaults([{ kind: "throttle409", path: "/Create", times: 2 }]);
    expect((await client.write(write("JST-E-4"))).status).toBe("created");
    expect(h.clock.sleeps.filter((ms) => ms >= 1000)).toHaveLength(2);

    main.emulator.addFaults([{ kind: "throttle409", path: "/Create", times: 3 }]);
    const error = await rejection(client.write(write("JST-E-5")));
    expect(error.code).toBe("tplus_throttled");
    expect(error.retryable).toBe(true);
    expect(main.emulator.state().vouchers.otherDispatch.map((v) => v.ExternalCode)).toEqual(["JST-E-4"]);
  });

  it("the emulator's rate limit answers 409 and the client waits it out", async () => {
    const limited = await h.start({ rateLimit: { max: 2, windowMs: 1000 } });
    const { client } = h.cloudClient(limited);
    for (const n of [1, 2, 3]) await client.write(write(`JST-R-${n}`));
    expect(limited.emulator.requests().some((r) => r.status === 409)).toBe(true);
    expect(limited.emulator.state().vouchers.otherDispatch).toHaveLength(3);
  });

  it("EXSV0011: not retryable; the hint names both readings (not enabled / throttled)", async () => {
    const { client, calls } = h.cloudClient(main);
    main.emulator.addFaults([{ kind: "exsv0011", path: "/Create" }]);
    const error = await rejection(client.write(write("JST-E-6")));
    expect(error.code).toBe("tplus_api_not_enabled");
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/Enable this API/);
    expect(error.hint).toMatch(/throttled/);
    expect(calls).toHaveLength(1);
  });

  it("a business refusal is permanent and sent once", async () => {
    const { client, calls } = h.cloudClient(main);
    main.emulator.addFaults([{ kind: "bizError", path: "/Create", code: "EXBZ0042", message: "单据日期所在期间已结账" }]);
    const error = await rejection(client.write(write("JST-E-7")));
    expect(error.code).toBe("tplus_business");
    expect(error.tplusCode).toBe("EXBZ0042");
    expect(error.message).toContain("已结账");
    expect(calls).toHaveLength(1);
  });

  it("strict validation: strings for numbers, unknown codes and bad dates are refused with the field named", async () => {
    const { client } = h.cloudClient(main);
    const bad = [
      [{ VoucherDate: "2025/03/01" }, /VoucherDate/],
      [{ RDRecordDetails: [{ Inventory: { Code: "TX100-11" }, BaseQuantity: "2" }] }, /BaseQuantity 必须是数字/],
      [{ RDRecordDetails: [{ Inventory: { Code: "NOPE-99" }, BaseQuantity: 1 }] }, /NOPE-99/],
      [{ Warehouse: { Code: "99" } }, /仓库 99/],
      [{ VoucherType: { Code: "ST1004" } }, /ST1024/],
      [{ BusiType: { Code: "77" } }, /业务类型/],
      [{ RDRecordDetails: [] }, /明细/],
    ] as const;
    for (const [overrides, pattern] of bad) {
      const error = await rejection(client.createOtherDispatch(otherDispatchDto("JST-V-1", overrides)));
      expect(error.code).toBe("tplus_business");
      expect(error.message).toMatch(pattern);
    }
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(0);
  });

  it("an HTML page instead of JSON is a non-JSON error pointing at TPLUS_BASE_URL", async () => {
    const { client } = h.cloudClient(main);
    main.emulator.addFaults([{ kind: "html", path: "/Create" }]);
    const error = await rejection(client.write(write("JST-E-8")));
    expect(error.code).toBe("tplus_non_json");
    expect(error.hint).toMatch(/TPLUS_BASE_URL/);
  });

  it("a 5xx before the commit is retried and books exactly one voucher", async () => {
    const { client } = h.cloudClient(main);
    main.emulator.addFaults([{ kind: "http5xx", path: "/Create" }]);
    expect((await client.write(write("JST-E-9"))).status).toBe("created");
    expect(main.emulator.state().vouchers.otherDispatch).toHaveLength(1);
  });

  it("network failure (nothing listening) is retryable with an unknown outcome", async () => {
    const gone = await h.start();
    await gone.server.close();
    const { client } = h.cloudClient(gone, { options: { retry: { tries: 2, baseDelayMs: 1 } } });
    const error = await rejection(client.write(write("JST-E-10")));
    expect(error.code).toBe("tplus_network");
    expect(error.retryable).toBe(true);
    expect((error as unknown as TplusError).outcome).toBe("unknown");
  });

  it("success bodies: a quoted id becomes targetId; an empty body is success too", async () => {
    const ids = await h.start({ cloudSuccessBody: "id" });
    const a = h.cloudClient(ids);
    const created = await a.client.write(write("JST-S-1"));
    expect(created.targetId).toBe(String(ids.emulator.state().vouchers.otherDispatch[0]!.ID));
    const empty = await h.start({ cloudSuccessBody: "empty" });
    const b = h.cloudClient(empty);
    expect((await b.client.write(write("JST-S-2"))).status).toBe("created");
    expect(empty.emulator.state().vouchers.otherDispatch).toHaveLength(1);
  });

  it("business errors answered with HTTP 200 (the other reading) are still errors", async () => {
    const ok200 = await h.start({ cloudErrorStatus: 200 });
    const { client } = h.cloudClient(ok200);
    const error = await rejection(client.createOtherDispatch(otherDispatchDto("JST-200", { VoucherDate: "20250301" })));
    expect(error).toBeInstanceOf(BridgeError);
    expect(error.code).toBe("tplus_business");
    expect(error.httpStatus).toBe(200);
  });
});
