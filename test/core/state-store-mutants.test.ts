/**
 * FlowStateStore (shared/state/state-store.ts) over the real MemoryKeyValueStore, asserting what state-store.test.ts
 * leaves open and the surviving mutants of `npm run mutation -- shared/state/state-store.ts` showed (docs/testing.md):
 * the errors' words (what, where, how to fix), values at KV's 25 MiB limit, keys listed but gone before the read,
 * unreadable values, reading back its own writes over a stale KV copy, the order of listings, and the logs a
 * compaction leaves. KV faults are injected at the KV port (a failing put, a list that lags), never in the store.
 */
import { describe, expect, it } from "vitest";
import { BridgeError, BudgetExhaustedError, ConfigError } from "../../shared/errors.ts";
import type { Clock, KeyValueStore, Logger } from "../../shared/ports.ts";
import { MAX_VALUE_BYTES, utf8Length } from "../../shared/state/kv-helpers.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { type FlowStateStoreOptions, FlowStateStore } from "../../shared/state/state-store.ts";

const T0 = Date.UTC(2024, 6, 1, 4, 0, 0);
const DAY = 86_400_000;

function testClock(start = T0) {
  let t = start;
  let slept = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += Math.max(0, ms);
      slept += Math.max(0, ms);
    },
    advance: (ms: number) => {
      t += ms;
    },
    slept: () => slept,
  } satisfies Clock & Record<string, unknown>;
}

/** A logger that keeps what it was told. */
function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines, warnings: () => lines.filter((l) => l.level === "warn") };
}

function setup(options: Omit<FlowStateStoreOptions, "clock"> = {}) {
  const clock = testClock();
  const kv = new MemoryKeyValueStore({ now: clock.now });
  const log = recordingLogger();
  const open = (more: Omit<FlowStateStoreOptions, "clock"> = {}) => new FlowStateStore(kv, { clock, logger: log.logger, ...options, ...more });
  return { clock, kv, log, open, store: open() };
}

const entry = (key: string, writtenAt: number, hash = "h"): LedgerEntry => ({ externalKey: key, contentHash: hash, writtenAt, runId: "r1" });
const letter = (extra: Record<string, unknown> = {}) => ({ runId: "r1", error: { code: "e", message: "m" }, ...extra });

async function caught(promise: Promise<unknown>): Promise<BridgeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BridgeError);
  return error as BridgeError;
}

/** A string of `bytes` UTF-8 bytes whose UTF-16 length is about a third of that (3-byte characters, ASCII remainder). */
const wideText = (bytes: number) => "报".repeat(Math.floor(bytes / 3)) + "x".repeat(bytes % 3);

describe("FlowStateStore options", () => {
  it("refuses a ledger option that is not a positive number, naming it", () => {
    const kv = new MemoryKeyValueStore();
    for (const name of ["compactAfterSegments", "packMaxEntries", "packMaxBytes", "retentionMs"] as const) {
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        let error: unknown;
        try {
          new FlowStateStore(kv, { ledger: { [name]: bad } });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message).toBe(`ledger.${name} must be a positive number, got ${bad}`);
        expect((error as ConfigError).hint).toBe(`Set ledger.${name} to a value above 0.`);
      }
    }
    expect(() => new FlowStateStore(kv, { ledger: { compactAfterSegments: 0.5 } })).not.toThrow();
  });

  it("spaces writes to one key by writeIntervalMs when it is set", async () => {
    const { store, clock } = setup({ writeIntervalMs: 5_000 });
    await store.saveCheckpoint("flow-a", { watermark: 1 });
    clock.advance(300);
    await store.saveCheckpoint("flow-a", { watermark: 2 });
    expect(clock.slept()).toBe(4_700);
  });

  it("keeps a segment whose letters are all resolved for 90 days by default", async () => {
    const { store, open, clock } = setup();
    const [a] = await store.addDeadLetters("flow-a", [letter()]);
    await store.resolveDeadLetter(a!.id, { reason: "fixed", by: "ops" });
    clock.advance(89 * DAY);
    expect(await open().listDeadLetters("flow-a", { status: "all" })).toHaveLength(1);
    clock.advance(2 * DAY);
    expect(await open().listDeadLetters("flow-a", { status: "all" })).toHaveLength(0);
  });
});

describe("FlowStateStore checkpoint", () => {
  it("stores no cursor field once a run completes, and reads its own save over a stale KV copy", async () => {
    const { store, kv } = setup();
    await store.saveCheckpoint("flow-a", { watermark: 5, cursor: null, runId: "r" });
    expect(JSON.parse((await kv.get("wm:flow-a"))!)).toEqual({ watermark: 5, runId: "r", savedAt: T0 });
    // KV serves an older copy (eventual consistency): the store that saved answers what it saved.
    await kv.put("wm:flow-a", JSON.stringify({ watermark: 1, savedAt: 0 }));
    expect((await store.getWatermark("flow-a"))?.watermark).toBe(5);
  });

  it("names the checkpoint, the field and the problem when the checkpoint is not valid", async () => {
    const { store } = setup();
    const error = await caught(store.saveCheckpoint("flow-a", { watermark: {} as never }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe("Invalid checkpoint: watermark: Invalid input"); // zod's words for the field
    expect(error.hint).toBe("Check the checkpoint passed to the state store (field watermark).");
    expect(error.details).toEqual({ path: "watermark" });
    const root = await caught(store.saveCheckpoint("flow-a", null as never));
    expect(root.message).toMatch(/^Invalid checkpoint: \(root\): /);
  });

  it("stores a checkpoint of exactly 25 MiB and refuses one byte more, with the fix", async () => {
    const { store, kv } = setup();
    await store.saveCheckpoint("flow-a", { watermark: 1, cursor: { s: "" } });
    const overhead = utf8Length((await kv.get("wm:flow-a"))!);
    await store.saveCheckpoint("flow-b", { watermark: 1, cursor: { s: wideText(MAX_VALUE_BYTES - overhead) } });
    expect(utf8Length((await kv.get("wm:flow-b"))!)).toBe(MAX_VALUE_BYTES);
    const error = await caught(store.saveCheckpoint("flow-c", { watermark: 1, cursor: { s: wideText(MAX_VALUE_BYTES - overhead + 1) } }));
    expect(error.code).toBe("state_value_too_large");
    expect(error.message).toBe(`State value "wm:flow-c" would exceed KV's 25 MiB limit`);
    expect(error.hint).toBe("Keep the cursor small (ids and counters, not whole rows).");
    expect(error.details).toEqual({ key: "wm:flow-c" });
    expect(await kv.get("wm:flow-c")).toBeNull();
  });

  it("stores a value over 25 MiB / 3 characters when its UTF-8 size is under the limit", async () => {
    const { store } = setup();
    const ascii = "x".repeat(Math.ceil(MAX_VALUE_BYTES / 3) + 10);
    await expect(store.saveCheckpoint("flow-a", { watermark: 1, cursor: { s: ascii } })).resolves.toMatchObject({ watermark: 1 });
  });
});

describe("FlowStateStore run records", () => {
  it("names the run record's missing field; an unknown run is null", async () => {
    const { store } = setup();
    const error = await caught(store.recordRun({ runId: "r", startedAt: 1 } as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^Invalid run record: flowId: /);
    expect(await store.getRun("flow-a", "nope")).toBeNull();
  });

  it("refuses a run record over 25 MiB with the fix", async () => {
    const { store } = setup();
    const error = await caught(store.recordRun({ runId: "r", flowId: "flow-a", startedAt: 1, note: wideText(MAX_VALUE_BYTES) }));
    expect(error.code).toBe("state_value_too_large");
    expect(error.hint).toBe("Leave per-record detail out of the run summary.");
  });

  it("lists runs newest first by start, skipping unreadable, malformed and vanished keys", async () => {
    const { store, kv, log } = setup();
    // Run ids out of time order: the listing picks the top ids, then orders them by start.
    await store.recordRun({ runId: "c", flowId: "flow-a", startedAt: 10 });
    await store.recordRun({ runId: "b", flowId: "flow-a", startedAt: 30 });
    await store.recordRun({ runId: "a", flowId: "flow-a", startedAt: 20 });
    await kv.put("run:flow-a:bad", "{not json");
    await kv.put("run:oops", JSON.stringify({ runId: "x", flowId: "oops", startedAt: 99 })); // no flow:run shape
    const reader = new FlowStateStore(listsGhost(kv, "run:flow-a:d"), { logger: log.logger });
    const runs = await reader.listRuns("flow-a", 10);
    expect(runs.map((r) => r.runId)).toEqual(["b", "a", "c"]);
    expect(log.warnings()).toEqual([
      { level: "warn", message: "skipping unreadable run record", fields: { key: "run:flow-a:bad", error: expect.any(String) } },
    ]);
    // The top two ids of all flows are d (vanished) and c.
    expect((await reader.listRuns(undefined, 2)).map((r) => r.runId)).toEqual(["c"]);
  });

  it("of two flows' runs with the same id, keeps the listing's order when the limit cuts between them", async () => {
    const { store } = setup();
    await store.recordRun({ runId: "same", flowId: "flow-a", startedAt: 1 });
    await store.recordRun({ runId: "same", flowId: "flow-b", startedAt: 1 });
    expect((await store.listRuns(undefined, 1)).map((r) => r.flowId)).toEqual(["flow-a"]);
  });
});

/** The KV lists `ghost` too, as a key deleted (or expired) between the list and the read. */
function listsGhost(kv: MemoryKeyValueStore, ghost: string): KeyValueStore {
  return {
    get: (key) => kv.get(key),
    put: (key, value, options) => kv.put(key, value, options),
    delete: (key) => kv.delete(key),
    list: async (prefix) => (ghost.startsWith(prefix) ? [...(await kv.list(prefix)), ghost].sort() : kv.list(prefix)),
  };
}

describe("FlowStateStore ledger", () => {
  it("counts page segments and packs apart, and reports a compaction only when one ran", async () => {
    const { store, open, clock, log } = setup({ ledger: { compactAfterSegments: 2 } });
    await store.ledgerAppend("flow-a", [entry("a", clock.now())]);
    const first = await open().loadLedger("flow-a");
    expect(first).toEqual({ entries: 1, segments: 1, packs: 0 });
    expect("compaction" in first).toBe(false);
    expect(log.lines).toEqual([]); // nothing to compact: no log, no failure
    clock.advance(1_000);
    await store.ledgerAppend("flow-a", [entry("b", clock.now())]);
    expect(await open().loadLedger("flow-a")).toEqual({ entries: 2, segments: 0, packs: 1, compaction: { packsWritten: 1, keysRemoved: 2 } });
    expect(log.lines).toEqual([{ level: "info", message: "ledger compacted", fields: { flow: "flow-a", packsWritten: 1, keysRemoved: 2 } }]);
    clock.advance(1_000);
    const reader = open();
    await reader.loadLedger("flow-a");
    const appended = await reader.ledgerAppend("flow-a", [entry("c", clock.now()), entry("d", clock.now())]);
    expect(appended).toEqual({ segment: expect.stringMatching(/^s\d{13}-[a-z0-9]+$/), entries: 2 });
    expect(await reader.loadLedger("flow-a")).toEqual({ entries: 4, segments: 1, packs: 1 });
  });

  it("cuts packs at ledger.packMaxBytes", async () => {
    const { store, open, clock } = setup({ ledger: { compactAfterSegments: 2, packMaxBytes: 100 } });
    await store.ledgerAppend("flow-a", [entry("a", clock.now()), entry("b", clock.now())]);
    clock.advance(1_000);
    await store.ledgerAppend("flow-a", [entry("c", clock.now())]);
    const stats = await open().loadLedger("flow-a");
    expect(stats.compaction?.packsWritten).toBe(2); // 45 bytes an entry: two fit in 100
  });

  it("refuses entries that are not an array, and a page over 25 MiB, with the fix", async () => {
    const { store } = setup();
    const error = await caught(store.ledgerAppend("flow-a", {} as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe("ledgerAppend: entries must be an array");
    expect(error.hint).toBe("Pass the written page's entries.");
    const big = await caught(store.ledgerAppend("flow-a", [{ ...entry("a", 1), contentHash: wideText(MAX_VALUE_BYTES) }]));
    expect(big.code).toBe("state_value_too_large");
    expect(big.hint).toBe("Append the page in smaller pieces.");
  });

  it("a budget that runs out during compaction stops the load; another failure only logs", async () => {
    const { store, kv, clock, open, log } = setup({ ledger: { compactAfterSegments: 2 } });
    for (const k of ["a", "b"]) {
      clock.advance(1_000);
      await store.ledgerAppend("flow-a", [entry(k, clock.now())]);
    }
    const realPut = kv.put.bind(kv);
    let fault: Error | undefined = new BudgetExhaustedError("the subrequest budget is spent");
    kv.put = async (key, value, options) => {
      if (fault && key.includes(":p")) throw fault;
      return realPut(key, value, options);
    };
    await expect(open().loadLedger("flow-a")).rejects.toBeInstanceOf(BudgetExhaustedError);
    fault = new BridgeError("kv_error", "KV PUT failed: 500");
    expect(await open().loadLedger("flow-a")).toEqual({ entries: 2, segments: 2, packs: 0 });
    expect(log.warnings()).toEqual([
      {
        level: "warn",
        message: "ledger compaction failed; continuing with the uncompacted ledger",
        fields: { flow: "flow-a", error: expect.stringContaining("500") },
      },
    ]);
  });

  it("a load that failed is tried again by the next lookup", async () => {
    const { store, kv, clock } = setup();
    await store.ledgerAppend("flow-a", [entry("a", clock.now())]);
    const realList = kv.list.bind(kv);
    let failures = 1;
    kv.list = async (prefix) => {
      if (failures-- > 0) throw new BridgeError("kv_error", "KV LIST failed: 500");
      return realList(prefix);
    };
    const reader = new FlowStateStore(kv, { clock });
    await expect(reader.ledgerLookup("flow-a", ["a"])).rejects.toThrow("500");
    expect((await reader.ledgerLookup("flow-a", ["a"])).size).toBe(1);
  });

  it("an append while the load is failing is still recorded", async () => {
    const { kv, clock } = setup();
    let failList: (error: Error) => void = () => undefined;
    const realList = kv.list.bind(kv);
    let gated = true;
    kv.list = (prefix) => {
      if (!gated) return realList(prefix);
      gated = false;
      return new Promise((_, reject) => (failList = reject));
    };
    const store = new FlowStateStore(kv, { clock });
    const load = store.loadLedger("flow-a").catch((e: unknown) => e);
    const append = store.ledgerAppend("flow-a", [entry("a", clock.now())]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    failList(new BridgeError("kv_error", "KV LIST failed: 500"));
    expect(await load).toBeInstanceOf(BridgeError);
    expect(await append).toMatchObject({ entries: 1 });
    expect((await store.ledgerLookup("flow-a", ["a"])).size).toBe(1);
  });

  it("a store sharing a ledger cache reads only the keys added since, and ignores keys it does not recognise", async () => {
    const { store, kv, clock, log } = setup();
    await store.ledgerAppend("flow-a", [entry("a", clock.now())]);
    const cache = new Map();
    const first = new FlowStateStore(kv, { clock, ledgerCache: cache, logger: log.logger });
    await first.loadLedger("flow-a");
    clock.advance(1_000);
    await store.ledgerAppend("flow-a", [entry("b", clock.now())]);
    await kv.put("ledger:flow-a:not-a-segment", JSON.stringify({ v: 1, flow: "flow-a", kind: "segment", entries: [] }));
    kv.resetStats();
    const second = new FlowStateStore(kv, { clock, ledgerCache: cache, logger: log.logger });
    expect([...(await second.ledgerLookup("flow-a", ["a", "b"])).keys()]).toEqual(["a", "b"]);
    expect(kv.stats.keysRead).toBe(1); // b's segment only
    expect(log.warnings()).toEqual([{ level: "warn", message: "ignoring unrecognised ledger key", fields: { key: "ledger:flow-a:not-a-segment" } }]);
  });

  it("skips a segment listed but gone before the read (compacted away by another run)", async () => {
    const { store, kv, clock } = setup();
    await store.ledgerAppend("flow-a", [entry("a", clock.now())]);
    const reader = new FlowStateStore(listsGhost(kv, "ledger:flow-a:s0000000000001-gone1"), { clock });
    expect(await reader.loadLedger("flow-a")).toEqual({ entries: 1, segments: 1, packs: 0 });
  });

  it("names an unreadable ledger key and how to get past it", async () => {
    const { kv, clock } = setup();
    await kv.put("ledger:flow-a:s0000000000001-bad01", "{not json");
    const error = await caught(new FlowStateStore(kv, { clock }).loadLedger("flow-a"));
    expect(error.code).toBe("state_corrupt");
    expect(error.message).toBe('State value "ledger:flow-a:s0000000000001-bad01" cannot be read: it is not valid JSON');
    expect(error.hint).toBe(
      'Delete the key (wrangler kv key delete "ledger:flow-a:s0000000000001-bad01"); the documents it listed are then looked up in the target again on the next write.',
    );
    expect(error.details).toEqual({ key: "ledger:flow-a:s0000000000001-bad01" });
    await kv.put("ledger:flow-a:s0000000000001-bad01", JSON.stringify({ v: 2, flow: "flow-a", kind: "segment", entries: [] }));
    const shape = await caught(new FlowStateStore(kv, { clock }).loadLedger("flow-a"));
    expect(shape.message).toBe('State value "ledger:flow-a:s0000000000001-bad01" cannot be read: unknown version 2');
  });
});

describe("FlowStateStore dead letters", () => {
  it("refuses items that are not an array, an invalid item (naming it), and a letter filed under another flow", async () => {
    const { store, kv } = setup();
    const notArray = await caught(store.addDeadLetters("flow-a", {} as never));
    expect(notArray).toBeInstanceOf(ConfigError);
    expect(notArray.message).toBe("addDeadLetters: items must be an array");
    expect(notArray.hint).toBe("Pass the failed documents.");
    const invalid = await caught(store.addDeadLetters("flow-a", [letter(), { error: { code: "e", message: "m" } } as never]));
    expect(invalid.message).toMatch(/^Invalid dead letter \[1\]: runId: /);
    const nested = await caught(store.addDeadLetters("flow-a", [{ runId: "r1", error: { message: "m" } } as never]));
    expect(nested.message).toMatch(/^Invalid dead letter \[0\]: error\.code: /); // the field's path, dotted
    expect(nested.details).toEqual({ path: "error.code" });
    const other = await caught(store.addDeadLetters("flow-a", [letter(), letter({ flowId: "flow-b" })]));
    expect(other.message).toBe("Dead letter [1] belongs to flow flow-b, not flow-a");
    expect(other.hint).toBe("File dead letters under their own flow.");
    expect(other.details).toEqual({ flow: "flow-a", flowId: "flow-b" });
    expect(await store.addDeadLetters("flow-a", [])).toEqual([]);
    expect(kv.stats.writes).toBe(0);
    const [own] = await store.addDeadLetters("flow-a", [letter({ flowId: "flow-a" })]);
    expect(own).toMatchObject({ flow: "flow-a", runId: "r1" });
    const big = await caught(store.addDeadLetters("flow-a", [letter({ source: wideText(MAX_VALUE_BYTES) })]));
    expect(big.hint).toBe("Dead-letter fewer items per call, or leave large payloads out.");
  });

  it("lists letters oldest first, skipping keys it does not recognise and keys gone before the read; reads its own writes", async () => {
    const { store, kv } = setup();
    await store.addDeadLetters("flow-a", [letter({ sourceId: "late", at: 300 }), letter({ sourceId: "early", at: 100 }), letter({ sourceId: "mid", at: 200 })]);
    await kv.put("dl:flow-a:garbage", JSON.stringify({ v: 1, flow: "flow-a", items: [letter({ sourceId: "garbage", createdAt: 1 })] }));
    await kv.put("dl:nocolon", JSON.stringify({ v: 1, flow: "x", items: [letter({ sourceId: "nocolon", createdAt: 1 })] }));
    const [key] = (await kv.list("dl:flow-a:s")) as [string];
    await kv.put(key, JSON.stringify({ v: 1, flow: "flow-a", items: [] })); // a stale copy KV still serves
    expect((await store.listDeadLetters("flow-a")).map((d) => d.sourceId)).toEqual(["early", "mid", "late"]);
    expect((await store.listDeadLetters()).map((d) => d.sourceId)).toEqual(["early", "mid", "late"]);
    const reader = new FlowStateStore(listsGhost(kv, "dl:flow-a:s0000000000001-gone1"));
    expect(await reader.listDeadLetters("flow-a")).toEqual([]);
  });

  it("lists letters resolved at or after a time (resolved ones only), and open, resolved or all by status", async () => {
    const { store, clock } = setup();
    const [a, b] = await store.addDeadLetters("flow-a", [letter({ sourceId: "a" }), letter({ sourceId: "b" })]);
    clock.advance(1_000);
    await store.resolveDeadLetter(a!.id, { reason: "fixed", by: "ops" });
    const at = clock.now();
    expect((await store.listDeadLetters("flow-a", { resolvedSince: at })).map((d) => d.sourceId)).toEqual(["a"]);
    expect((await store.listDeadLetters("flow-a", { resolvedSince: at - 1 })).map((d) => d.sourceId)).toEqual(["a"]);
    expect(await store.listDeadLetters("flow-a", { resolvedSince: at + 1 })).toEqual([]);
    expect((await store.listDeadLetters("flow-a")).map((d) => d.sourceId)).toEqual(["b"]);
    expect((await store.listDeadLetters("flow-a", { status: "resolved" })).map((d) => d.sourceId)).toEqual(["a"]);
    expect((await store.listDeadLetters("flow-a", { status: "all" })).map((d) => d.sourceId)).toEqual(["a", "b"]);
    expect(b!.id).not.toBe(a!.id);
  });

  it("resolves with a trimmed reason and who; refuses a missing or blank reason or who with a hint", async () => {
    const { store } = setup();
    const [a] = await store.addDeadLetters("flow-a", [letter()]);
    for (const bad of [null, { reason: 1, by: "x" }, { reason: " ", by: "x" }, { reason: "r", by: 2 }, { reason: "r", by: "  " }]) {
      const error = await caught(store.resolveDeadLetter(a!.id, bad as never));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`Resolving dead letter ${a!.id} needs a reason and who resolved it`);
      expect(error.hint).toBe("Pass { reason: 'why it no longer needs a retry', by: 'user or process' }.");
      expect(error.details).toEqual({ id: a!.id });
    }
    const resolved = await store.resolveDeadLetter(a!.id, { reason: "  fixed in KIS  ", by: " ops " });
    expect(resolved.resolved).toMatchObject({ reason: "fixed in KIS", by: "ops" });
  });

  it("a letter of a segment that does not exist: null, and not found when resolved", async () => {
    const { store } = setup();
    const id = "flow-a~s0000000000001-nope1~0";
    expect(await store.getDeadLetter(id)).toBeNull();
    const error = await caught(store.resolveDeadLetter(id, { reason: "r", by: "b" }));
    expect(error.code).toBe("not_found");
    expect(error.message).toBe(`Dead letter ${id} does not exist`);
    expect(error.hint).toBe("It may have expired after being resolved; list the current ones with listDeadLetters.");
    expect(error.details).toEqual({ id });
  });

  it("a segment with one letter still open keeps no TTL", async () => {
    const { store, open, clock } = setup();
    const [a] = await store.addDeadLetters("flow-a", [letter({ sourceId: "a" }), letter({ sourceId: "b" })]);
    await store.resolveDeadLetter(a!.id, { reason: "fixed", by: "ops" });
    clock.advance(400 * DAY);
    expect((await open().listDeadLetters("flow-a")).map((d) => d.sourceId)).toEqual(["b"]);
  });
});
