import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KvRestStore } from "../../action/state/kv-rest.ts";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import type { Clock, FetchLike } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { createKvRestEmulator } from "../emulators/kv-rest/index.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

const TOKEN = "cf-test-token-7f3a9c";
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "fedcba9876543210fedcba9876543210";

function testClock(start = Date.UTC(2024, 6, 1)): Clock & { slept: number } {
  let t = start;
  const c = {
    slept: 0,
    now: () => t,
    sleep: async (ms: number) => {
      t += Math.max(0, ms);
      c.slept += Math.max(0, ms);
    },
  };
  return c;
}

const clock = testClock();
const emulator = createKvRestEmulator({ apiToken: TOKEN, accountId: ACCOUNT, now: clock.now, listPageSize: 10, enforceWriteRate: true });
let server: RunningServer;
let calls = 0;
const countingFetch: FetchLike = (input, init) => {
  calls++;
  return fetch(input, init);
};

function store(overrides: Partial<ConstructorParameters<typeof KvRestStore>[0]> = {}) {
  return new KvRestStore({
    accountId: ACCOUNT,
    namespaceId: NAMESPACE,
    apiToken: TOKEN,
    fetch: countingFetch,
    baseUrl: `${server.url}/client/v4`,
    clock,
    ...overrides,
  });
}

beforeAll(async () => {
  server = await serveOnLoopback(emulator.app);
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  emulator.reset();
  calls = 0;
});

describe("KvRestStore against the KV REST emulator (real HTTP)", () => {
  it("puts, gets, deletes values with keys that need URL encoding", async () => {
    const kv = store();
    const key = "ref:仓库 map:meta/x?y#z%";
    await kv.put(key, '{"v":1,"名":"值"}');
    expect(await kv.get(key)).toBe('{"v":1,"名":"值"}');
    expect(emulator.state()[NAMESPACE]).toEqual({ [key]: '{"v":1,"名":"值"}' });
    await kv.delete(key);
    expect(await kv.get(key)).toBeNull();
    await kv.delete(key); // deleting a missing key is fine
    const log = emulator.requests();
    expect(log.every((r) => r.path.startsWith(`/client/v4/accounts/${ACCOUNT}/storage/kv/namespaces/${NAMESPACE}/`))).toBe(true);
    expect(log[0]).toMatchObject({ method: "PUT", key, status: 200 });
  });

  it("sends expiration_ttl and the value expires on the emulator's clock", async () => {
    const kv = store();
    await kv.put("run:f:1", "x", { expirationTtl: 120 });
    expect(emulator.requests()[0]?.query).toEqual({ expiration_ttl: "120" });
    expect(await kv.get("run:f:1")).toBe("x");
    await clock.sleep(120_000);
    expect(await kv.get("run:f:1")).toBeNull();
    await expect(kv.put("run:f:2", "x", { expirationTtl: 10 })).rejects.toBeInstanceOf(ConfigError);
  });

  it("lists every key under a prefix across cursor pages", async () => {
    const kv = store({ listPageSize: 10 });
    for (let i = 0; i < 35; i++) emulator.seed(NAMESPACE, `ledger:f:s${String(i).padStart(3, "0")}`, "{}");
    emulator.seed(NAMESPACE, "ledger:g:s000", "{}");
    emulator.seed(NAMESPACE, "wm:f", "{}");
    const keys = await kv.list("ledger:f:");
    expect(keys).toHaveLength(35);
    expect(keys[0]).toBe("ledger:f:s000");
    expect(keys[34]).toBe("ledger:f:s034");
    const lists = emulator.requests().filter((r) => r.path.endsWith("/keys"));
    expect(lists).toHaveLength(4);
    expect(lists.every((r) => r.query.prefix === "ledger:f:")).toBe(true);
    expect(lists[0]?.query.cursor).toBeUndefined();
    expect(lists[1]?.query.cursor).toBeTruthy();
  });

  it("a wrong token fails at once with a clear, non-retryable error that never contains the token", async () => {
    const wrong = "cf-WRONG-token-secret-9d2e";
    const kv = store({ apiToken: wrong });
    const err = await kv.get("wm:f").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    const e = err as BridgeError;
    expect(e.code).toBe("kv_auth_failed");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain("401");
    expect(e.message).toContain("Authentication error");
    expect(e.hint).toContain("CLOUDFLARE_API_TOKEN");
    const everything = `${e.message} ${e.hint} ${JSON.stringify(e)} ${e.stack}`;
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(TOKEN);
    expect(calls).toBe(1);
  });

  it("retries 429 and 5xx with backoff (honouring Retry-After), then gives up with a retryable error", async () => {
    const kv = store({ tries: 3, baseDelayMs: 100, maxDelayMs: 1_000 });
    emulator.addFaults([
      { kind: "http_error", status: 429, path: "/values/", times: 1, retryAfter: 2 },
      { kind: "http_error", status: 503, path: "/values/", times: 1 },
    ]);
    const before = clock.slept;
    await kv.put("wm:f", '{"watermark":1}');
    expect(calls).toBe(3);
    expect(clock.slept - before).toBeGreaterThanOrEqual(2_000);
    expect(emulator.state()[NAMESPACE]?.["wm:f"]).toBe('{"watermark":1}');

    emulator.addFaults([{ kind: "http_error", status: 500, path: "/keys", times: 5 }]);
    const err = await kv.list("wm:").catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("kv_rest_unavailable");
    expect((err as BridgeError).retryable).toBe(true);
    expect((err as BridgeError).message).toContain("HTTP 500");
  });

  it("rejects missing configuration before any request", () => {
    expect(() => store({ apiToken: "" })).toThrow(/apiToken/);
    expect(() => store({ namespaceId: "../x" })).toThrow(ConfigError);
  });

  it("FlowStateStore over KV REST writes the same keys and JSON as any other backend", async () => {
    const clockB = testClock(Date.UTC(2024, 6, 2));
    const viaRest = new FlowStateStore(store({ clock: clockB }), { clock: clockB });
    await viaRest.saveCheckpoint("jst-sales-out", { watermark: 1_719_900_000_000, cursor: { page: 2 }, runId: "r1" });
    await viaRest.ledgerAppend("jst-sales-out", [{ externalKey: "so-1", contentHash: "h", targetId: "XS-1", writtenAt: 1, runId: "r1" }]);
    const [dl] = await viaRest.addDeadLetters("jst-sales-out", [{ runId: "r1", sourceId: "o-9", error: { code: "e", message: "m" } }]);
    await viaRest.recordRun({ runId: "r1", flowId: "jst-sales-out", startedAt: 1, outcome: "partial" });

    // Copy the emulator's namespace into a memory store: the Worker-side code path reads it unchanged.
    const copy = new MemoryKeyValueStore({ initial: emulator.state()[NAMESPACE] });
    const viaMemory = new FlowStateStore(copy);
    expect(await viaMemory.getWatermark("jst-sales-out")).toMatchObject({ watermark: 1_719_900_000_000, cursor: { page: 2 } });
    expect((await viaMemory.ledgerLookup("jst-sales-out", ["so-1"])).get("so-1")?.targetId).toBe("XS-1");
    expect((await viaMemory.getDeadLetter(dl!.id))?.sourceId).toBe("o-9");
    expect((await viaMemory.listRuns("jst-sales-out"))[0]?.outcome).toBe("partial");
    // And back: the REST store lists what the state store wrote, through paging.
    expect(await new FlowStateStore(store()).listDeadLetters("jst-sales-out")).toHaveLength(1);
  });
});
