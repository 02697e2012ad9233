import { afterEach, describe, expect, it } from "vitest";
import { BudgetExhaustedError } from "../../shared/errors.ts";
import { JushuitanClient } from "../../shared/connectors/jushuitan/client.ts";
import {
  JstBadResponseError,
  JstBusinessError,
  JstError,
  JstHttpError,
  JstIpNotWhitelistedError,
  JstNetworkError,
  JstNotAuthorizedError,
  JstParamError,
  JstPermissionError,
  JstRefreshForbiddenError,
  JstSignError,
  JstThrottledError,
  JstTimeoutError,
  JstTimestampError,
  JstTokenError,
  errorForCode,
} from "../../shared/connectors/jushuitan/errors.ts";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";
import { failure, startJst, type JstSetup } from "./jushuitan-fixture.ts";

const PATH = "/open/other/inout/query";
const WINDOW = { modified_begin: "2024-06-10 00:00:00", modified_end: "2024-06-11 00:00:00" };

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** Every error must be a typed JstError whose text carries no secret. */
function assertNoSecrets(error: unknown, s: JstSetup) {
  expect(error).toBeInstanceOf(JstError);
  const text = `${(error as Error).message} ${JSON.stringify((error as JstError).toJSON())} ${(error as Error).stack ?? ""}`;
  for (const secret of [s.emulator.credentials.appSecret, s.emulator.credentials.accessToken, s.emulator.credentials.refreshToken]) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toMatch(/\b[0-9a-f]{32}\b/); // no signature or generated token
}

describe("Jushuitan envelope and typed errors (emulator over HTTP)", () => {
  it("returns the envelope's data on code 0", async () => {
    setup = await startJst();
    const data = await setup.client.call<Record<string, unknown>>(PATH, WINDOW);
    expect(data).toMatchObject({ page_index: 1, page_size: 30, has_next: expect.any(Boolean) });
    expect(Array.isArray(data.datas)).toBe(true);
    const [entry] = setup.emulator.requests();
    expect(entry).toMatchObject({ method: "POST", path: PATH, code: 0, biz: WINDOW });
    expect(entry!.params).toMatchObject({
      app_key: setup.emulator.credentials.appKey,
      version: "2",
      charset: "utf-8",
      timestamp: String(setup.clock.now() / 1000),
    });
  });

  it("code 10: invalid sign (wrong secret)", async () => {
    setup = await startJst();
    const error = await failure(setup.makeClient({ appSecret: "not-the-secret" }).call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstSignError);
    expect((error as JstError).details?.jstCode).toBe(10);
    expect((error as JstError).hint).toContain("JST_APP_SECRET");
    expect((error as JstError).retryable).toBe(false);
    assertNoSecrets(error, setup);
  });

  it("code 100: expired token and no refresh token", async () => {
    setup = await startJst();
    setup.emulator.expireTokens();
    const client = setup.makeClient({ initialTokens: { accessToken: setup.emulator.credentials.accessToken } });
    const error = await failure(client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstTokenError);
    expect((error as JstError).details?.jstCode).toBe(100);
    expect((error as JstError).hint).toContain("JST_REFRESH_TOKEN");
    assertNoSecrets(error, setup);
  });

  it("no token at all: not authorized, before any request", async () => {
    setup = await startJst();
    const client = setup.makeClient({ initialTokens: undefined });
    const error = await failure(client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstNotAuthorizedError);
    expect(setup.emulator.requests()).toHaveLength(0);
  });

  it.each([
    [110, "IP不在白名单", JstIpNotWhitelistedError, "whitelist"],
    [190, "无API权限", JstPermissionError, "permission"],
    [160, "内部保存失败", JstBusinessError, "server message"],
  ] as const)("code %i (%s) maps to its typed error with a hint", async (code, msg, type, hintWord) => {
    setup = await startJst();
    setup.emulator.addFaults({ kind: "bizError", code, msg });
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(type);
    expect((error as JstError).details).toMatchObject({ jstCode: code, serverMessage: msg, path: PATH });
    expect((error as JstError).hint).toContain(hintWord);
    expect(setup.emulator.requests()).toHaveLength(1);
    assertNoSecrets(error, setup);
  });

  it.each([
    [199, "second"],
    [200, "minute"],
  ] as const)("code %i: throttled (retryable, scope %s) once retries are spent", async (code, scope) => {
    setup = await startJst({ client: { retry: { tries: 2 } } });
    setup.emulator.addFaults({ kind: "throttle", code, times: 2 });
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstThrottledError);
    expect((error as JstThrottledError).scope).toBe(scope);
    expect((error as JstError).retryable).toBe(true);
    expect(setup.emulator.requests().map((r) => r.code)).toEqual([code, code]);
  });

  it("code 140: parameter error for a window over 7 days (emulator validation)", async () => {
    setup = await startJst();
    const error = await failure(setup.client.call(PATH, { modified_begin: "2024-06-01 00:00:00", modified_end: "2024-06-09 00:00:00" }));
    expect(error).toBeInstanceOf(JstParamError);
    expect((error as JstError).details?.jstCode).toBe(140);
    expect(String((error as JstError).details?.serverMessage)).toContain("七天");
    expect((error as JstError).retryable).toBe(false);
  });

  it("code 140: page size above the endpoint maximum, and missing window/ids", async () => {
    setup = await startJst();
    expect(await failure(setup.client.call(PATH, { ...WINDOW, page_size: 51 }))).toBeInstanceOf(JstParamError);
    expect(await failure(setup.client.call(PATH, {}))).toBeInstanceOf(JstParamError);
    expect(await failure(setup.client.call(PATH, { io_ids: "1,2" }))).toBeInstanceOf(JstParamError);
  });

  it.each([140, 180])("timestamp outside ±10 min (emulator code %i): timestamp error with a clock hint", async (code) => {
    setup = await startJst({ emulator: { timestampErrorCode: code } });
    const skewed = { now: () => setup!.clock.now() + 11 * 60_000, sleep: (ms: number) => setup!.clock.sleep(ms) };
    const error = await failure(setup.makeClient({ clock: skewed }).call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstTimestampError);
    expect((error as JstError).details?.jstCode).toBe(code);
    expect((error as JstError).hint).toContain("NTP");
  });

  it("code 150: an ISV app may not refresh", async () => {
    setup = await startJst({ emulator: { isv: true } });
    setup.emulator.expireTokens();
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstRefreshForbiddenError);
    expect((error as JstError).details).toMatchObject({ jstCode: 150, path: "/openWeb/auth/refreshToken" });
    expect((error as JstError).hint).toContain("authorize again");
    assertNoSecrets(error, setup);
  });

  it("HTML gateway page: bad response, retryable on 502, and recovered by a retry", async () => {
    setup = await startJst({ client: { retry: { tries: 1 } } });
    setup.emulator.addFaults({ kind: "html" });
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstBadResponseError);
    expect((error as JstError).retryable).toBe(true);
    expect((error as JstError).details).toMatchObject({ httpStatus: 502 });
    expect(String((error as JstError).details?.bodySnippet)).toContain("502 Bad Gateway");

    setup.emulator.addFaults({ kind: "html", times: 2 });
    const data = await setup.makeClient({ retry: { tries: 3 } }).call<Record<string, unknown>>(PATH, WINDOW);
    expect(data.page_index).toBe(1);
    expect(setup.emulator.requests().map((r) => r.httpStatus)).toEqual([502, 502, 502, 200]);
  });

  it("HTTP 5xx: retryable HTTP error", async () => {
    setup = await startJst({ client: { retry: { tries: 2 } } });
    setup.emulator.addFaults({ kind: "http5xx", status: 503, times: 2 });
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstHttpError);
    expect((error as JstError).retryable).toBe(true);
    expect((error as JstError).details?.httpStatus).toBe(503);
    expect(setup.emulator.requests()).toHaveLength(2);
  });

  it("network error: retryable, counted attempts", async () => {
    setup = await startJst();
    const closed = await serveOnLoopback({ fetch: () => new Response("") });
    await closed.close();
    const client = setup.makeClient({ baseUrl: closed.url, retry: { tries: 3 } });
    const error = await failure(client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstNetworkError);
    expect((error as JstError).retryable).toBe(true);
    expect(setup.clock.sleeps).toBe(2); // backoff between the three attempts
  });

  it("timeout: aborted after timeoutMs, retryable; the emulator's delay honours the abort", async () => {
    setup = await startJst({ client: { timeoutMs: 100, retry: { tries: 1 } } });
    setup.emulator.addFaults({ kind: "timeout", delayMs: 20_000 });
    const started = Date.now();
    const error = await failure(setup.client.call(PATH, WINDOW));
    expect(error).toBeInstanceOf(JstTimeoutError);
    expect((error as JstError).retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("a budget refusal from the metered fetch escapes unwrapped and is never retried", async () => {
    setup = await startJst();
    let calls = 0;
    const refusal = new BudgetExhaustedError("subrequest budget of 0 spent");
    const client = new JushuitanClient({
      baseUrl: setup.url,
      appKey: "k",
      appSecret: "s",
      tokenStore: new MemoryTokenStore({ jushuitan: { accessToken: "t" } }),
      clock: setup.clock,
      fetch: async () => {
        calls++;
        throw refusal;
      },
    });
    expect(await failure(client.call(PATH, WINDOW))).toBe(refusal);
    expect(calls).toBe(1);
  });
});

describe("errorForCode", () => {
  const ctx = { path: "/open/x" };
  it("covers the alternative code tables", () => {
    expect(errorForCode({ ...ctx, jstCode: 120, serverMessage: "签名错误" })).toBeInstanceOf(JstSignError);
    expect(errorForCode({ ...ctx, jstCode: 140, serverMessage: "无效的timestamp" })).toBeInstanceOf(JstTimestampError);
    expect(errorForCode({ ...ctx, jstCode: 140, serverMessage: "参数不符合规范" })).toBeInstanceOf(JstParamError);
    // 150 is "internal error" in the older table unless it concerns refreshing.
    expect(errorForCode({ ...ctx, jstCode: 150, serverMessage: "内部处理异常！" })).toBeInstanceOf(JstBusinessError);
    expect(errorForCode({ ...ctx, jstCode: 150, serverMessage: "x", tokenEndpoint: true })).toBeInstanceOf(JstRefreshForbiddenError);
    expect(errorForCode({ ...ctx, jstCode: 130, serverMessage: "传输数据不能为空" })).toBeInstanceOf(JstParamError);
    expect(errorForCode({ ...ctx, jstCode: 170, serverMessage: "店铺编号[123]不存在!" })).toBeInstanceOf(JstParamError);
    expect(errorForCode({ ...ctx, jstCode: 999, serverMessage: "access_token已过期" })).toBeInstanceOf(JstTokenError);
    expect(errorForCode({ ...ctx, jstCode: 999, serverMessage: "系统繁忙" })).toBeInstanceOf(JstBusinessError);
  });
});
