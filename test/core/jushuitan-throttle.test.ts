import { afterEach, describe, expect, it } from "vitest";
import { JstThrottledError } from "../../shared/connectors/jushuitan/errors.ts";
import type { SlidingWindowRateLimiter } from "../../shared/http/rate-limiter.ts";
import { collect, DAY, failure, startJst, T0, type JstSetup } from "./jushuitan-fixture.ts";

const PATH = "/open/other/inout/query";
const WINDOW = { modified_begin: "2024-06-10 00:00:00", modified_end: "2024-06-11 00:00:00" };

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

// Client and emulator share one ManualClock and the real limits (5/s, 100/min per app_key): the emulator
// throttles exactly as the platform documents, and waiting costs no wall time.
describe("rate limits", () => {
  it("a burst of 250 calls sees no 199/200 thanks to the proactive limiter", async () => {
    setup = await startJst();
    const started = setup.clock.now();
    for (let i = 0; i < 250; i++) await setup.client.call(PATH, WINDOW);
    const log = setup.emulator.requests();
    expect(log).toHaveLength(250);
    expect(log.filter((r) => r.code === 199 || r.code === 200)).toHaveLength(0);
    // 250 calls at 100 per minute cannot take less than two minutes (of emulated time).
    expect(setup.clock.now() - started).toBeGreaterThanOrEqual(120_000);
  });

  it("without the limiter the same emulator does throttle (the burst test can fail)", async () => {
    setup = await startJst({ client: { limits: null, retry: { tries: 1 } } });
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => setup!.client.call(PATH, WINDOW)));
    const throttled = outcomes.filter((o) => o.status === "rejected" && o.reason instanceof JstThrottledError);
    expect(throttled).toHaveLength(3);
  });

  it("a long paged scan stays under the limits", async () => {
    setup = await startJst({ emulator: { documents: { [PATH]: 6000 }, range: { from: T0 - 14 * DAY, to: T0 } } });
    const pages = await collect(setup.client.pages(PATH, {}, { window: { from: T0 - 14 * DAY, to: T0 } }));
    expect(pages.reduce((s, p) => s + p.rows.length, 0)).toBe(6000);
    const log = setup.emulator.requests();
    expect(log.length).toBeGreaterThan(100); // more than one minute's allowance
    expect(log.every((r) => r.code === 0)).toBe(true);
  });

  it("a forced 199 is retried after a second and recovers", async () => {
    setup = await startJst();
    setup.emulator.addFaults({ kind: "throttle", code: 199, times: 2 });
    const started = setup.clock.now();
    const data = await setup.client.call<Record<string, unknown>>(PATH, WINDOW);
    expect(data.page_index).toBe(1);
    expect(setup.emulator.requests().map((r) => r.code)).toEqual([199, 199, 0]);
    expect(setup.clock.now() - started).toBeGreaterThanOrEqual(2000);
  });

  it("a forced 200 waits a minute before retrying, and holds other calls too", async () => {
    setup = await startJst();
    setup.emulator.addFaults({ kind: "throttle", code: 200 });
    const started = setup.clock.now();
    await setup.client.call(PATH, WINDOW);
    expect(setup.emulator.requests().map((r) => r.code)).toEqual([200, 0]);
    expect(setup.clock.now() - started).toBeGreaterThanOrEqual(60_000);
    expect((setup.client.rateLimiter as SlidingWindowRateLimiter).delayAt(started + 30_000)).toBeGreaterThan(0);
  });

  it("gives up with a retryable error once the tries are spent", async () => {
    setup = await startJst({ client: { retry: { tries: 3 } } });
    setup.emulator.addFaults({ kind: "throttle", code: 199, times: 5 });
    expect(await failure(setup.client.call(PATH, WINDOW))).toBeInstanceOf(JstThrottledError);
    expect(setup.emulator.requests()).toHaveLength(3);
  });
});
