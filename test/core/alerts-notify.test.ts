import { afterEach, describe, expect, it } from "vitest";
import { notifyRun, type NotifyDeps } from "../../shared/alerts/notify.ts";
import { stateKeys } from "../../shared/state/keys.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { KeyValueStore } from "../../shared/ports.ts";
import { captureLogger, DINGTALK_SECRET, FLOW, httpFetch, MINUTE, type ReceiverSetup, startReceiver, summary } from "./alerts-fixture.ts";

let setup: ReceiverSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

function harness(s: ReceiverSetup, env: Record<string, string> = {}, overrides: Partial<NotifyDeps> = {}) {
  const logger = captureLogger();
  const kv = new MemoryKeyValueStore({ now: () => s.clock.now() });
  const deps: NotifyDeps = {
    env: { ALERT_WEBHOOK_URL: s.urls.dingtalk, ALERT_KIND: "dingtalk", ALERT_SECRET: DINGTALK_SECRET, ...env },
    kv,
    fetch: httpFetch,
    clock: s.clock,
    logger,
    timeoutMs: 2_000,
    retryDelayMs: 1_000,
    ...overrides,
  };
  /** Runs one summary finishing at the clock's current time. */
  const run = (outcome: Parameters<typeof summary>[0], extra: Parameters<typeof summary>[1] = {}) =>
    notifyRun(summary(outcome, { at: s.clock.now(), ...extra }), deps);
  return { logger, kv, deps, run };
}

const texts = (s: ReceiverSetup) => s.receiver.accepted().map((r) => (r.body as { markdown: { text: string } }).markdown.text);

function expectNoLeak(s: ReceiverSetup, ...values: unknown[]) {
  const text = JSON.stringify(values);
  expect(text).not.toContain(s.receiver.config.dingtalk.accessToken);
  expect(text).not.toContain(s.url);
  expect(text).not.toContain(DINGTALK_SECRET);
}

describe("notifyRun: grouping, escalation, recovery and KV writes (robot receiver over HTTP)", () => {
  it("three failures in the period → one message; the 4th (N) escalates inside the period; a success sends the recovery; then silence and no writes", async () => {
    setup = await startReceiver();
    const h = harness(setup, { ALERT_PERIOD_MINUTES: "30", ALERT_CONSECUTIVE_FAILURES: "4" });
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await h.run("failed")).status);
      setup.clock.advance(5 * MINUTE);
    }
    const recovered = await h.run("success");
    statuses.push(recovered.status);
    expect(statuses).toEqual(["sent", "held", "held", "sent", "sent"]);

    const messages = texts(setup);
    expect(messages).toHaveLength(3);
    expect(messages[0]).toContain("同步失败 / sync failed");
    expect(messages[1]).toContain("连续失败 4 次 / 4 consecutive failures");
    expect(messages[1]).toContain("另有 2 条告警被合并 / 2 more grouped");
    expect(messages[2]).toContain("已恢复 / recovered");
    expect(messages[2]).toContain("恢复前连续失败 4 次 / recovered after 4 failed runs");
    expect(h.kv.writeLog).toEqual(Array(5).fill(stateKeys.alert(FLOW)));
    expect(JSON.parse((await h.kv.get(stateKeys.alert(FLOW)))!)).toEqual({
      lastSentAt: setup.clock.now(),
      lastEvent: "recovered",
      consecutiveFailures: 0,
      openIncident: false,
      suppressed: 0,
    });

    // Healthy from here on: every run reads the state once and writes nothing.
    const writes = h.kv.stats.writes;
    const reads = h.kv.stats.reads;
    for (let i = 0; i < 5; i++) {
      setup.clock.advance(30 * MINUTE);
      expect(await h.run("success")).toMatchObject({ status: "quiet", stateWritten: false, attempts: 0 });
    }
    expect(h.kv.stats.writes).toBe(writes);
    expect(h.kv.stats.reads).toBe(reads + 5);
    expect(setup.receiver.requests()).toHaveLength(3);
  });

  it("no KV access at all when alerts are off, for dry runs and for runs skipped on the lock", async () => {
    setup = await startReceiver();
    const off = harness(setup, {}, { env: {} });
    expect(await off.run("failed")).toEqual({ status: "disabled", attempts: 0, stateWritten: false });
    const on = harness(setup);
    expect((await on.run("failed", { dryRun: true })).status).toBe("ignored");
    expect((await on.run("skipped_locked")).status).toBe("ignored");
    for (const kv of [off.kv, on.kv]) expect(kv.stats).toMatchObject({ reads: 0, writes: 0, deletes: 0, lists: 0 });
    expect(setup.receiver.requests()).toHaveLength(0);
  });

  it("a webhook answering 500 is retried once; failing twice it is logged, nothing throws, and the next alert carries it", async () => {
    setup = await startReceiver();
    const h = harness(setup);
    setup.receiver.addFaults({ kind: "http_error", status: 500, times: 2 });
    const started = setup.clock.now();
    const result = await h.run("failed");
    expect(result).toMatchObject({ status: "undelivered", attempts: 2, event: "run_failed", stateWritten: true, reason: "HTTP 500" });
    // The retry waited on the injected clock and was signed afresh.
    expect(setup.clock.now() - started).toBe(1_000);
    const [first, second] = setup.receiver.requests();
    expect(second?.query.timestamp).toBe(String(Number(first?.query.timestamp) + 1_000));
    expect(h.logger.lines.find((l) => l.level === "warn")?.fields).toMatchObject({ host: "127.0.0.1", attempts: 2, reason: "HTTP 500" });
    expectNoLeak(setup, result, h.logger.lines);

    // Inside the period the undelivered alert is not "sent": the next failure goes out and announces it.
    setup.clock.advance(MINUTE);
    const next = await h.run("failed");
    expect(next).toMatchObject({ status: "sent", grouped: 1, attempts: 1 });
    expect(texts(setup)[0]).toContain("另有 1 条告警被合并 / 1 more grouped");
  });

  it("one 500 then success: delivered on the retry", async () => {
    setup = await startReceiver();
    const h = harness(setup);
    setup.receiver.addFaults({ kind: "http_error", status: 503 });
    expect(await h.run("failed")).toMatchObject({ status: "sent", attempts: 2 });
    expect(setup.receiver.accepted()).toHaveLength(1);
  });

  it("a hanging webhook times out (twice), does not throw and leaks nothing", async () => {
    setup = await startReceiver();
    const h = harness(setup, {}, { timeoutMs: 150 });
    setup.receiver.addFaults({ kind: "hang", times: 2 });
    const result = await h.run("failed");
    expect(result).toMatchObject({ status: "undelivered", attempts: 2, reason: "no answer within 150 ms" });
    expect(setup.receiver.requests()).toHaveLength(2);
    expectNoLeak(setup, result, h.logger.lines);
  });

  it("robot-level refusals (HTTP 200 with errcode ≠ 0) are not retried", async () => {
    setup = await startReceiver();
    const h = harness(setup);
    setup.receiver.addFaults({ kind: "app_error", code: 130101, message: "send too fast" });
    const result = await h.run("failed");
    expect(result).toMatchObject({ status: "undelivered", attempts: 1, reason: "HTTP 200: errcode 130101 send too fast" });
  });

  it("network errors whose text quotes the URL never reach logs or results", async () => {
    setup = await startReceiver();
    const h = harness(
      setup,
      {},
      {
        fetch: async (input) => {
          throw new TypeError(`fetch failed: connect ECONNREFUSED ${String(input)}`);
        },
      },
    );
    const result = await h.run("failed");
    expect(result).toMatchObject({ status: "undelivered", attempts: 2, reason: "network error (TypeError)" });
    expectNoLeak(setup, result, h.logger.lines);
  });

  it("a real connection refusal (closed port) is reported without the URL", async () => {
    setup = await startReceiver();
    const closedUrl = `${setup.url}/robot/send?access_token=${setup.receiver.config.dingtalk.accessToken}`;
    await setup.close();
    const h = harness(setup, { ALERT_WEBHOOK_URL: closedUrl }, { timeoutMs: 1_000 });
    const result = await h.run("failed");
    expect(result.status).toBe("undelivered");
    expect(result.reason).toMatch(/^network error|^no answer/);
    expectNoLeak(setup, result, h.logger.lines);
    setup = undefined;
  });

  it("bad alert configuration is reported by variable name without echoing the URL or the secret; the run is untouched", async () => {
    setup = await startReceiver();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ALERT_KIND: "slack" }, /ALERT_KIND "slack" is not one of/],
      [{ ALERT_WEBHOOK_URL: `not a url ${setup.receiver.config.dingtalk.accessToken}` }, /ALERT_WEBHOOK_URL is not a valid URL/],
      [{ ALERT_PERIOD_MINUTES: "-5" }, /ALERT_PERIOD_MINUTES must be a whole number/],
      [{ ALERT_CONSECUTIVE_FAILURES: "0" }, /ALERT_CONSECUTIVE_FAILURES must be a whole number between 1/],
    ];
    for (const [env, reason] of cases) {
      const h = harness(setup, env);
      const result = await h.run("failed");
      expect(result.status).toBe("error");
      expect(result.reason).toMatch(reason);
      expect(h.logger.lines[0]?.level).toBe("error");
      expectNoLeak(setup, result, h.logger.lines);
      expect(h.kv.stats.reads).toBe(0);
    }
    expect(setup.receiver.requests()).toHaveLength(0);
  });

  it("a KV write failure is logged and the alert still counts as sent; an unreadable stored state starts afresh", async () => {
    setup = await startReceiver();
    const inner = new MemoryKeyValueStore({ initial: { [stateKeys.alert(FLOW)]: "{not json" } });
    const failingPuts: KeyValueStore = {
      get: (k) => inner.get(k),
      put: async () => {
        throw new Error("KV PUT failed: 429 Too Many Requests");
      },
      delete: (k) => inner.delete(k),
      list: (p) => inner.list(p),
    };
    const h = harness(setup, {}, { kv: failingPuts });
    const result = await h.run("failed");
    expect(result).toMatchObject({ status: "sent", stateWritten: false });
    const levels = h.logger.lines.map((l) => `${l.level}:${l.message}`);
    expect(levels).toContain("warn:alerts: stored alert state unreadable; starting afresh");
    expect(levels).toContain("warn:alerts: could not save alert state");
  });

  it("runs of different flows keep separate states", async () => {
    setup = await startReceiver();
    const h = harness(setup);
    expect((await h.run("failed")).status).toBe("sent");
    expect((await h.run("failed", { flowId: "jst-sales-out-to-tplus" })).status).toBe("sent");
    expect((await h.run("failed")).status).toBe("held");
    expect(await h.kv.list("alert:")).toEqual([stateKeys.alert(FLOW), stateKeys.alert("jst-sales-out-to-tplus")].sort());
  });
});
