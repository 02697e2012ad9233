import { env as untypedEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { JushuitanClient } from "../../shared/connectors/jushuitan/client.ts";
import { jstRateLimits, type RateBudget } from "../../shared/http/rate-budget.ts";
import { MemoryTokenStore, silentLogger, systemClock } from "../../shared/ports.ts";
import type { Env } from "../../worker/env.ts";
import { DO_RATE_MARGIN_MS, DoRateBudget, workerRateBudget } from "../../worker/rate-budget-do.ts";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { PersistedRateBudget } from "../../shared/http/persisted-rate-budget.ts";
import { RemoteRateBudget } from "../../shared/http/remote-rate-budget.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import worker from "../../worker/index.ts";
import { callApi, createStack, JST, workerEnv } from "./stack.ts";

const env = untypedEnv as unknown as Env;
const T0 = Date.UTC(2024, 6, 1, 4);

function objectFor(name: string) {
  return env.RATE_BUDGET!.get(env.RATE_BUDGET!.idFromName(name));
}

describe("JstRateBudget Durable Object", () => {
  it("hands out slots that keep 5 per second and 100 per minute, whoever asks", async () => {
    const stub = objectFor("unit-a");
    const limits = jstRateLimits();
    const slots: number[] = [];
    for (let i = 0; i < 105; i++) slots.push((await stub.reserve(limits, 0, [], T0)).at);
    // As early as the limits allow: five per second, then the 101st waits for the first to leave the minute.
    expect(slots.slice(0, 6)).toEqual([T0, T0, T0, T0, T0, T0 + 1000]);
    expect(slots[99]).toBe(T0 + 19_000);
    expect(slots[100]).toBe(T0 + 60_000);
    const waits = await stub.reserve(limits, 0, [], T0 + 30_000);
    expect(waits.waitMs).toBe(waits.at - (T0 + 30_000));
  });

  it("moves a grant to when its answer came back, and holds everyone after a pause", async () => {
    const stub = objectFor("unit-b");
    const oneASecond = [{ limit: 1, windowMs: 1000 }];
    const first = await stub.reserve(oneASecond, 0, [], T0);
    // The answer to the first came back 700 ms after it was sent: the next slot is a second after that.
    const second = await stub.reserve(oneASecond, 0, [{ at: first.at, elapsedMs: 700 }], T0 + 100);
    expect(second.at).toBe(T0 + 1700);
    await stub.pause(10_000, T0 + 2000);
    expect((await stub.reserve(oneASecond, 0, [], T0 + 2000)).at).toBe(T0 + 12_000);
    expect((await stub.inspect()).pausedUntil).toBe(T0 + 12_000);
  });

  it("falls back to the documented limits for nonsense ones (never to none)", async () => {
    const stub = objectFor("unit-c");
    const slots: number[] = [];
    for (let i = 0; i < 6; i++) slots.push((await stub.reserve([{ limit: 0, windowMs: 1000 }], 0, [], T0)).at);
    expect(slots.at(-1)).toBe(T0 + 1000);
  });
});

describe("one budget for every run of the Worker", () => {
  async function threeRunsAtOnce(shared: boolean, borrowing = false) {
    const stack = await createStack({ documents: { [JST.otherInOut]: 240 }, days: 2 });
    const e = workerEnv(stack);
    const vars = e as unknown as Record<string, string | undefined>;
    const now = Date.now();
    const scan = async (budget: RateBudget | undefined) => {
      const client = new JushuitanClient({
        baseUrl: stack.urls.jushuitan,
        appKey: vars.JST_APP_KEY!,
        appSecret: vars.JST_APP_SECRET!,
        tokenStore: new MemoryTokenStore(),
        fetch: (input, init) => fetch(input, init),
        clock: systemClock,
        initialTokens: { accessToken: vars.JST_ACCESS_TOKEN!, refreshToken: vars.JST_REFRESH_TOKEN! },
        retry: { tries: 1 },
        ...(budget ? { rateLimiter: budget } : {}),
      });
      let pages = 0;
      // Page size 30 over 240 documents: 8 or 9 requests per run.
      for await (const _ of client.pages(JST.otherInOut, {}, { window: { from: now - 3 * 86_400_000, to: now }, pageSize: 30 })) pages++;
      return pages;
    };
    // What runFlowInWorker gives each run (worker/runtime.ts → workerRateBudget): a DoRateBudget over one object.
    const budgets: Array<RateBudget | undefined> = [0, 1, 2].map(() => (shared ? workerRateBudget(e, vars, silentLogger) : undefined));
    if (borrowing) {
      // The third is a CLI on another machine whose state is this Worker's: it borrows over the authenticated API.
      const workerFetch = async (input: RequestInfo | URL, init?: RequestInit) => {
        const ctx = createExecutionContext();
        const res = await worker.fetch(new Request(input, init), e, ctx);
        await waitOnExecutionContext(ctx);
        return res;
      };
      const fallback = new PersistedRateBudget({ kv: new MemoryKeyValueStore(), key: "rate:jst:cli", clock: systemClock, limits: jstRateLimits() });
      budgets[2] = new RemoteRateBudget({ baseUrl: "https://bridge.test", token: e.SYNC_API_TOKEN!, fetch: workerFetch, clock: systemClock, fallback });
    }
    const outcomes = await Promise.allSettled(budgets.map((b) => scan(b)));
    const log = (await (await fetch(`${stack.urls.jushuitan}/__emulator/requests`)).json()) as Array<{ code: number | null }>;
    return { budgets, outcomes, log, throttled: log.filter((r) => r.code === 199 || r.code === 200).length };
  }

  it("before: three runs paging at once, each with its own limiter, are throttled", async () => {
    const { throttled } = await threeRunsAtOnce(false);
    expect(throttled).toBeGreaterThan(0);
  });

  it("three runs paging at once (each its own invocation's budget object) draw no throttled answer", async () => {
    const { budgets, outcomes, log, throttled } = await threeRunsAtOnce(true);
    expect(budgets.every((b) => b instanceof DoRateBudget)).toBe(true);
    const pages = outcomes.map((o) => (o.status === "fulfilled" ? o.value : -1));
    expect(pages.every((p) => p >= 8)).toBe(true);
    expect(log.length).toBe(pages.reduce((a, b) => a + b, 0));
    expect(throttled).toBe(0);
    expect(budgets.reduce((n, b) => n + (b as DoRateBudget).reservations, 0)).toBe(log.length);
    expect(DO_RATE_MARGIN_MS).toBeGreaterThanOrEqual(1000);
  });

  it("a CLI borrowing through the API and two Worker runs at once draw no throttled answer", async () => {
    const { budgets, outcomes, throttled } = await threeRunsAtOnce(true, true);
    expect(outcomes.every((o) => o.status === "fulfilled")).toBe(true);
    expect(throttled).toBe(0);
    expect((budgets[2] as RemoteRateBudget).borrowed).toBeGreaterThanOrEqual(8);
  });

  it("lends only with the API token, and only the Worker's limits", async () => {
    const stack = await createStack();
    const e = workerEnv(stack);
    expect((await callApi(e, "POST", "/rate-budget/jushuitan/reserve", { token: null, body: {} })).status).toBe(401);
    const ok = await callApi(e, "POST", "/rate-budget/jushuitan/reserve", { body: { settles: [] } });
    expect(ok.status).toBe(200);
    expect(ok.json.waitMs).toBeGreaterThanOrEqual(0);
    const bad = await callApi(e, "POST", "/rate-budget/jushuitan/reserve", { body: { limits: [{ limit: 1000, windowMs: 1 }] } });
    expect(bad.status).toBe(400);
  });
});
