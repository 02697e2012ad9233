import { afterEach, describe, expect, it } from "vitest";
import type { FetchLike, TokenSet } from "../../shared/ports.ts";
import { tokensFromEnv } from "../../shared/connectors/jushuitan/client.ts";
import { JstParamError, JstTokenError } from "../../shared/connectors/jushuitan/errors.ts";
import { collect, DAY, failure, startJst, T0, type JstSetup } from "./jushuitan-fixture.ts";

const PATH = "/open/other/inout/query";
const WINDOW = { modified_begin: "2024-06-10 00:00:00", modified_end: "2024-06-11 00:00:00" };

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

interface Sent {
  path: string;
  accessToken: string | null;
  /** The access token in the store at the moment the request left. */
  storedAtSend: string | undefined;
}

/** Records what the client sends and what the store held at that moment. */
function spyingFetch(sent: Sent[], store: { get(system: string): Promise<TokenSet | null> }): FetchLike {
  return async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const form = new URLSearchParams(String(init?.body ?? ""));
    const stored = await store.get("jushuitan");
    sent.push({ path: url.pathname, accessToken: form.get("access_token"), storedAtSend: stored?.accessToken });
    return fetch(input, init);
  };
}

describe("JushuitanClient requests and tokens", () => {
  it("sends a signed form POST with the system parameters and biz exactly once serialised", async () => {
    setup = await startJst();
    const biz = { ...WINDOW, types: ["其它进仓"], status: "Confirmed" };
    await setup.client.call(PATH, biz);
    const [entry] = setup.emulator.requests();
    expect(entry!.code).toBe(0); // the emulator verified the sign
    expect(entry!.biz).toEqual(biz);
    expect(Object.keys(entry!.params).sort()).toEqual(["access_token", "app_key", "charset", "timestamp", "version"]);
    expect(entry!.params.timestamp).toMatch(/^\d{10}$/);
  });

  it("refreshes once on code 100 mid-scan, persists the rotated pair before using it, and continues seamlessly", async () => {
    const sent: Sent[] = [];
    setup = await startJst({ emulator: { documents: { [PATH]: 300 }, range: { from: T0 - 5 * DAY, to: T0 - DAY } } });
    const store = setup.tokenStore;
    const client = setup.makeClient({ fetch: spyingFetch(sent, store) });
    // The token dies between page 2 and page 3 of the scan.
    setup.emulator.addFaults({ kind: "tokenExpired", path: PATH, skip: 2 });

    const pages = await collect(client.pages(PATH, {}, { window: { from: T0 - 6 * DAY, to: T0 } }));
    const ids = pages.flatMap((p) => p.rows.map((r) => r.io_id));
    const expected = setup.emulator.documents(PATH).map((r) => r.io_id);
    expect(ids.length).toBe(300);
    expect(new Set(ids)).toEqual(new Set(expected));

    const log = setup.emulator.requests();
    expect(log.filter((r) => r.path === "/openWeb/auth/refreshToken")).toHaveLength(1);
    expect(log.filter((r) => r.code === 100)).toHaveLength(1);
    const live = setup.emulator.liveTokens();
    expect(live).toHaveLength(1); // the initial pair was rotated away
    const stored = await store.get("jushuitan");
    expect(stored?.accessToken).toBe(live[0]!.accessToken);
    expect(stored?.refreshToken).toBe(live[0]!.refreshToken);
    expect(stored?.expiresAt).toBe(live[0]!.expiresAt);
    expect(stored?.accessToken).not.toBe(setup.emulator.credentials.accessToken);

    // Every business request carried the token the store held when it left: a rotated token is stored first.
    const business = sent.filter((s) => s.path === PATH);
    expect(business.length).toBe(log.filter((r) => r.path === PATH).length);
    for (const [i, s] of business.entries()) expect(s.accessToken, `request ${i}`).toBe(s.storedAtSend);
    expect(business.filter((s) => s.accessToken === stored?.accessToken).length).toBeGreaterThan(0);
  });

  it("refreshes proactively when the token is about to expire", async () => {
    setup = await startJst();
    await setup.tokenStore.put("jushuitan", {
      accessToken: setup.emulator.credentials.accessToken,
      refreshToken: setup.emulator.credentials.refreshToken,
      expiresAt: setup.clock.now() + 3_600_000,
    });
    await setup.client.call(PATH, WINDOW);
    const paths = setup.emulator.requests().map((r) => `${r.path}:${r.code}`);
    expect(paths).toEqual(["/openWeb/auth/refreshToken:0", `${PATH}:0`]);
    const stored = await setup.tokenStore.get("jushuitan");
    expect(stored!.expiresAt).toBe(setup.clock.now() + 30 * DAY);
  });

  it("keeps using a still-valid token when the early refresh is refused (ISV app)", async () => {
    setup = await startJst({ emulator: { isv: true } });
    await setup.tokenStore.put("jushuitan", {
      accessToken: setup.emulator.credentials.accessToken,
      refreshToken: setup.emulator.credentials.refreshToken,
      expiresAt: setup.clock.now() + 3_600_000,
    });
    await setup.client.call(PATH, WINDOW);
    expect(setup.emulator.requests().map((r) => r.code)).toEqual([150, 0]);
  });

  it("concurrent calls that hit an expired token share one refresh", async () => {
    setup = await startJst({ client: { limits: null }, emulator: { limits: { perSecond: null, perMinute: null } } });
    setup.emulator.expireTokens();
    const results = await Promise.all(Array.from({ length: 6 }, () => setup!.client.call(PATH, WINDOW)));
    expect(results).toHaveLength(6);
    const log = setup.emulator.requests();
    expect(log.filter((r) => r.path === "/openWeb/auth/refreshToken")).toHaveLength(1);
    expect(log.filter((r) => r.path === PATH && r.code === 0)).toHaveLength(6);
  });

  it("two hosts refreshing at the same moment: the one whose refresh token was rotated away adopts the other's pair", async () => {
    // Regression (found by the chaos suite): the second refresh was refused (the first rotated the pair) and its
    // run failed asking for re-authorization, although the store held a working pair a moment later.
    setup = await startJst({ client: { limits: null }, emulator: { limits: { perSecond: null, perMinute: null } } });
    const [a, b] = [setup.makeClient(), setup.makeClient()];
    await a.call(PATH, WINDOW); // both hosts now share the stored pair
    setup.emulator.expireTokens();
    const results = await Promise.allSettled([a.call(PATH, WINDOW), b.call(PATH, WINDOW)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const refreshes = setup.emulator.requests().filter((r) => r.path === "/openWeb/auth/refreshToken");
    expect(refreshes.map((r) => r.code).sort()).toEqual([0, 100]);
    const live = setup.emulator.liveTokens().map((t) => t.accessToken);
    expect(live).toContain((await setup.tokenStore.get("jushuitan"))!.accessToken);
  });

  it("a rejected refresh token asks for re-authorization", async () => {
    setup = await startJst();
    setup.emulator.expireTokens();
    const client = setup.makeClient({ initialTokens: { accessToken: setup.emulator.credentials.accessToken, refreshToken: "unknown" } });
    const error = await failure(client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstTokenError);
    expect((error as JstTokenError).hint).toContain("re-authorize");
  });

  it("getInitToken bootstraps a self-developed app and persists the tokens", async () => {
    setup = await startJst();
    const client = setup.makeClient({ initialTokens: undefined });
    const tokens = await client.getInitToken();
    expect(await setup.tokenStore.get("jushuitan")).toEqual(tokens);
    expect(tokens.expiresAt).toBe(setup.clock.now() + 30 * DAY);
    const [auth] = setup.emulator.requests();
    expect(auth!.params).toMatchObject({ grant_type: "authorization_code", charset: "utf-8" });
    expect(auth!.params.code).toMatch(/^[a-z0-9]{6}$/);
    await client.call(PATH, WINDOW);
    expect(setup.emulator.requests()[1]!.params.access_token).toBe(tokens.accessToken);
  });

  it("accessToken(code) exchanges an ISV authorization code once", async () => {
    setup = await startJst();
    const client = setup.makeClient({ initialTokens: undefined, tokenSystemKey: "jst-isv" });
    const tokens = await client.accessToken("jst-emulator-auth-code");
    expect(await setup.tokenStore.get("jst-isv")).toEqual(tokens);
    expect(await failure(client.accessToken("jst-emulator-auth-code"))).toBeInstanceOf(JstParamError);
  });

  it("reads initial tokens from the environment contract", () => {
    expect(tokensFromEnv({ JST_ACCESS_TOKEN: " a ", JST_REFRESH_TOKEN: "r" })).toEqual({ accessToken: "a", refreshToken: "r" });
    expect(tokensFromEnv({ JST_ACCESS_TOKEN: "a" })).toEqual({ accessToken: "a" });
    expect(tokensFromEnv({ JST_REFRESH_TOKEN: "r" })).toBeUndefined();
  });
});
