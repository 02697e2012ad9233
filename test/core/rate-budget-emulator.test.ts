import { afterEach, describe, expect, it } from "vitest";
import { JstThrottledError } from "../../shared/connectors/jushuitan/errors.ts";
import { PersistedRateBudget } from "../../shared/http/persisted-rate-budget.ts";
import { JST_RATE_MARGIN_MS, jstRateLimits, reserveSlot, settleGrant } from "../../shared/http/rate-budget.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { KvRestStore } from "../../action/state/kv-rest.ts";
import { createKvRestEmulator } from "../emulators/kv-rest/index.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { failure, startJst, T0, type JstSetup } from "./jushuitan-fixture.ts";

const PATH = "/open/other/inout/query";
const WINDOW = { modified_begin: "2024-06-10 00:00:00", modified_end: "2024-06-11 00:00:00" };

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe("the emulator counts per app, across clients, in either window reading", () => {
  it("sliding (default): two clients of one app share 5 a second; the throttled answers are counted", async () => {
    setup = await startJst({ client: { limits: null, retry: { tries: 1 } } });
    const other = setup.makeClient();
    setup.clock.set(T0 + 900);
    for (let i = 0; i < 3; i++) await setup.client.call(PATH, WINDOW);
    for (let i = 0; i < 2; i++) await other.call(PATH, WINDOW);
    setup.clock.set(T0 + 1100);
    expect(await failure(other.call(PATH, WINDOW))).toBeInstanceOf(JstThrottledError);
    expect(setup.emulator.throttles()).toEqual({ perSecond: 1, perMinute: 0 });
  });

  it("fixed: the count starts again at each whole second of the server's clock", async () => {
    setup = await startJst({ emulator: { limits: { windows: "fixed" } }, client: { limits: null, retry: { tries: 1 } } });
    setup.clock.set(Math.floor(T0 / 1000) * 1000 + 900);
    for (let i = 0; i < 5; i++) await setup.client.call(PATH, WINDOW);
    expect(await failure(setup.client.call(PATH, WINDOW))).toBeInstanceOf(JstThrottledError);
    setup.clock.advance(200); // the next whole second
    await setup.client.call(PATH, WINDOW);
    expect(setup.emulator.throttles()).toEqual({ perSecond: 1, perMinute: 0 });
  });

  it("a sliding-window budget satisfies the fixed reading too: 250 calls, no throttled answer", async () => {
    setup = await startJst({ emulator: { limits: { windows: "fixed" } } });
    for (let i = 0; i < 250; i++) await setup.client.call(PATH, WINDOW);
    expect(setup.emulator.throttles()).toEqual({ perSecond: 0, perMinute: 0 });
  });
});

describe("reservation arithmetic (shared by the Durable Object)", () => {
  it("reserves as early as every limit allows and keeps grants ordered", () => {
    let state = { grants: [] as number[], pausedUntil: 0 };
    const at: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = reserveSlot(state, jstRateLimits(), 0, 0);
      state = r.state;
      at.push(r.at);
    }
    expect(at).toEqual([0, 0, 0, 0, 0, 1000, 1000]);
    expect(settleGrant([0, 0, 1000], 0, 1500)).toEqual([0, 1000, 1500]);
    expect(settleGrant([0, 1000], 400, 900)).toEqual([0, 1000]);
  });
});

describe("PersistedRateBudget", () => {
  it("a second process over the same store waits for the minute the first one left", async () => {
    const clock = new ManualClock(T0);
    const kv = new MemoryKeyValueStore();
    const options = { kv, key: "rate:jst:test", clock, limits: jstRateLimits(), marginMs: JST_RATE_MARGIN_MS };
    const first = new PersistedRateBudget(options);
    for (let i = 0; i < 100; i++) (await first.acquire()).settle();
    await first.flush();
    const firstDone = clock.now();
    const second = new PersistedRateBudget(options);
    (await second.acquire()).settle();
    // The 101st request of the app in the minute waits until the first grant has left it.
    expect(clock.now()).toBeGreaterThanOrEqual(T0 + 60_000);
    expect(clock.now()).toBeGreaterThan(firstDone);
  });

  it("over the Worker's KV through the REST API (--state kv): a second process waits for the first one's minute", async () => {
    const clock = new ManualClock(T0);
    const emulator = createKvRestEmulator({ apiToken: "cf-token-rate", accountId: "a".repeat(32), now: () => clock.now(), enforceWriteRate: true });
    const server = await serveOnLoopback(emulator.app);
    try {
      let writes = 0;
      const kv = () =>
        new KvRestStore({
          accountId: "a".repeat(32),
          namespaceId: "b".repeat(32),
          apiToken: "cf-token-rate",
          baseUrl: `${server.url}/client/v4`,
          clock,
          fetch: (input, init) => {
            if (init?.method === "PUT") writes++;
            return fetch(input, init);
          },
        });
      const options = { key: "rate:jst:kvrest", clock, limits: jstRateLimits(), marginMs: JST_RATE_MARGIN_MS };
      const first = new PersistedRateBudget({ kv: kv(), ...options });
      for (let i = 0; i < 100; i++) (await first.acquire()).settle();
      await first.flush();
      // Debounced: a handful of KV writes for 100 requests, not 100.
      expect(writes).toBeLessThanOrEqual(10);
      const second = new PersistedRateBudget({ kv: kv(), ...options });
      (await second.acquire()).settle();
      expect(clock.now()).toBeGreaterThanOrEqual(T0 + 60_000);
    } finally {
      await server.close();
    }
  });

  it("an unreadable stored window is a warning, not a failure", async () => {
    const clock = new ManualClock(T0);
    const kv = new MemoryKeyValueStore();
    await kv.put("rate:jst:test", "{not json");
    const warnings: string[] = [];
    const budget = new PersistedRateBudget({
      kv,
      key: "rate:jst:test",
      clock,
      limits: jstRateLimits(),
      logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    (await budget.acquire()).settle();
    await budget.flush();
    expect(warnings.length).toBeGreaterThan(0);
    expect(JSON.parse((await kv.get("rate:jst:test"))!).writers).toBeTruthy();
  });
});
