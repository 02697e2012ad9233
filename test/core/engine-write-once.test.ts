/**
 * Write side of "nothing doubled / nothing lost" (issue 12): real engine, real clients, emulators over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { kisPrecheck, runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";
import { actualTplus, expectedKis, expectedTplus, tplusByGroup } from "../helpers/targets.ts";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function resetLedger(e: E2E, flowId: string) {
  for (const key of await e.kv.list(`ledger:${flowId}:`)) await e.kv.delete(key);
}

describe("KIS duplicates (engine-review finding 6)", () => {
  it("a KIS account that accepts a repeated FBillNo: a range backfill after a ledger reset books no bill twice (default settings)", async () => {
    e2e = await startE2E({ kis: { enforceUniqueBillNo: false }, salesOut: 0, otherInOut: 120 });
    const range = { from: E2E_START - 6 * DAY_MS, to: E2E_START - 60_000 };
    const first = await e2e.run(KIS, { range });
    expect(first.summary.outcome).toBe("success");
    const bills = e2e.stack.kis.bills().length;
    expect(bills).toBeGreaterThan(0);

    await resetLedger(e2e, KIS);
    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS, { range });
    expect(again.summary.outcome).toBe("success");
    const stored = e2e.stack.kis.bills();
    expect(stored.length).toBe(bills);
    expect(new Set(stored.map((b) => b.FBillNo)).size).toBe(stored.length);
    expect(again.summary.counts.written).toBe(0);
    expect(again.summary.counts.alreadyExisted).toBe(bills);
  });

  it("KIS_PRECHECK: default always; after_unknown_outcome only when asked; anything else is a configuration error", () => {
    expect(kisPrecheck({})).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "" })).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "always" })).toBe("always");
    expect(kisPrecheck({ KIS_PRECHECK: "after_unknown_outcome" })).toBe("after_unknown_outcome");
    expect(() => kisPrecheck({ KIS_PRECHECK: "sometimes" })).toThrow(/KIS_PRECHECK/);
  });
});

describe("poison documents (engine-review finding 8)", () => {
  it("a bill the target always answers 500 for is set aside, the others are written, the watermark waits; after 3 failed runs it is dead-lettered with its rows and the flow moves on", async () => {
    // Find the KIS bills the flow will write, and poison the earliest two (they would block everything after them).
    const probe = await startE2E({ salesOut: 0, otherInOut: 80 });
    const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const until = E2E_START - 5 * 60_000;
    const expectedAll = expectedKis(docs, 0, until);
    await probe.close();
    const byModified = docs.filter((d) => expectedAll.has(String(d.io_id))).sort((a, b) => String(a.modified).localeCompare(String(b.modified)));
    const poison = [String(byModified[0]!.io_id), String(byModified[3]!.io_id)];
    const firstPoisonModified = parseInZone(String(byModified[0]!.modified))!;

    e2e = await startE2E({ salesOut: 0, otherInOut: 80, kis: { poisonBillNos: poison } });
    const store = new FlowStateStore(e2e.kv);
    const runs = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) e2e.clock.advance(30 * 60_000);
      const summaries = await e2e.runToCompletion(KIS);
      runs.push(summaries.at(-1)!);
      const bills = e2e.stack.kis.bills();
      // Every bill but the poisoned ones is written in the very first run.
      expect(new Set(bills.map((b) => b.FBillNo))).toEqual(new Set([...expectedAll.keys()].filter((k) => !poison.includes(k))));
      const checkpoint = (await store.getWatermark<{ watermark: number }>(KIS))!;
      if (i < 3) {
        // Set aside: the watermark waits at (or before) the earliest one.
        expect(checkpoint.watermark).toBeLessThanOrEqual(firstPoisonModified);
        expect(runs[i]!.outcome).not.toBe("success");
      }
      if (i < 2) expect(await store.listDeadLetters(KIS)).toHaveLength(0);
    }
    // The third failed run dead-letters both, with their source rows and the error; the fourth moves on.
    expect(runs[2]!.counts.deadLettered).toBe(2);
    const letters = await store.listDeadLetters(KIS);
    expect(letters.map((l) => l.externalKey).sort()).toEqual([...poison].sort());
    for (const letter of letters) {
      const rows = (Array.isArray(letter.source) ? letter.source : [letter.source]) as Array<Record<string, unknown>>;
      expect(rows.map((r) => String(r.io_id))).toEqual([letter.externalKey]);
      expect(letter.error.message).toMatch(/3 runs/);
    }
    expect(runs[3]!.outcome).toBe("success");
    expect(runs[3]!.counts.deadLettered).toBe(0);
    const checkpoint = (await store.getWatermark<{ watermark: number }>(KIS))!;
    expect(checkpoint.watermark).toBeGreaterThan(firstPoisonModified);
    // The dead-lettered bills are not sent again while their source is unchanged.
    const before = e2e.stack.kis.requests().length;
    e2e.clock.advance(30 * 60_000);
    await e2e.runToCompletion(KIS);
    const resent = e2e.stack.kis
      .requests()
      .slice(before)
      .filter((r) => /create$/.test(r.path));
    expect(resent).toHaveLength(0);
  });
});

describe("poison documents: an outage is not poison", () => {
  it("a KIS outage (every create answers 500) fails the runs as before and dead-letters nothing, however many runs it lasts", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 80, env: { MAX_FAILED_RUNS: "2" } });
    const store = new FlowStateStore(e2e.kv);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 10_000 }]);
    for (let i = 0; i < 4; i++) {
      e2e.clock.advance(30 * 60_000);
      const { summary } = await e2e.run(KIS);
      expect(summary.outcome).toBe("failed");
      expect(summary.counts.written).toBe(0);
    }
    expect(await store.listDeadLetters(KIS)).toHaveLength(0);
    e2e.stack.kis.clearFaults();
    e2e.clock.advance(30 * 60_000);
    await e2e.runToCompletion(KIS);
    expect(await store.listDeadLetters(KIS)).toHaveLength(0);
    const docs = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut);
    expect(e2e.stack.kis.bills().length).toBe(expectedKis(docs, 0, e2e.clock.now() - 5 * 60_000).size);
  });
});

describe("dead letters carry source rows and replay (engine-review finding 12)", () => {
  it("a bill the target refuses is dead-lettered with its source row, and replays once the cause is fixed", async () => {
    const probe = await startE2E({ salesOut: 0, otherInOut: 60 });
    const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const expectedAll = expectedKis(docs, 0, E2E_START - 5 * 60_000);
    await probe.close();
    const refused = [...expectedAll.keys()][1]!;
    const rejectBillNos = [refused];
    e2e = await startE2E({ salesOut: 0, otherInOut: 60, kis: { rejectBillNos } });
    const store = new FlowStateStore(e2e.kv);
    await e2e.runToCompletion(KIS);
    const [letter] = await store.listDeadLetters(KIS);
    expect(letter?.externalKey).toBe(refused);
    const rows = (Array.isArray(letter!.source) ? letter!.source : [letter!.source]) as Array<Record<string, unknown>>;
    expect(rows.map((r) => String(r.io_id))).toEqual([refused]);
    expect(Array.isArray(rows[0]!.items)).toBe(true);

    rejectBillNos.length = 0; // the master data is fixed
    const replay = await replayDeadLetter(e2e.ports, letter!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replay.error).toBeUndefined();
    expect(replay.replayed).toBe(true);
    expect(e2e.stack.kis.bills().map((b) => b.FBillNo)).toContain(refused);
    expect(e2e.stack.kis.bills().length).toBe(expectedAll.size);
  });

  it("a merged T+ voucher the target refuses is dead-lettered with every member's rows, and its replay writes the whole group", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    e2e.stack.tplus.addFaults([{ kind: "bizError", path: "otherDispatch/Create", code: "EXBZ0101", message: "存货编码不存在", times: 1 }]);
    const store = new FlowStateStore(e2e.kv);
    await e2e.runToCompletion(TPLUS);
    const [letter] = await store.listDeadLetters(TPLUS);
    expect(letter).toBeDefined();
    const rows = letter!.source as Array<Record<string, unknown>>;
    expect(Array.isArray(rows)).toBe(true);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(E2E_START), startOfDayInZone(E2E_START));
    const key = letter!.externalKey!;
    const members = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .filter((d) => `SO-${String(d.io_date).slice(0, 10)}-${String(d.wms_co_id)}` === key && d.status === "Confirmed" && Number(d.shop_id) === 0);
    expect(rows.map((r) => String(r.io_id)).sort()).toEqual(members.map((m) => String(m.io_id)).sort());

    const replay = await replayDeadLetter(e2e.ports, letter!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replay.error).toBeUndefined();
    expect(replay.replayed).toBe(true);
    expect(replay.written.map((w) => w.externalKey)).toEqual([key]);
    const actual = actualTplus(e2e.stack.tplus.vouchers("otherDispatch"));
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
  });
});

describe("merge outbox (engine-review finding 2)", () => {
  it("groups split into maxLines parts, with the budget running out between parts: every line is written once", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
    flow.operation.maxLines = 3;
    const summaries = await e2e.runToCompletion(TPLUS, { budget: { maxSubrequests: 4 } }, 2000);
    expect(summaries.at(-1)!.outcome).toBe("success");
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
    expect(vouchers.some((v) => /-2$/.test(v.ExternalCode))).toBe(true);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(E2E_START), startOfDayInZone(E2E_START));
    expect(Object.fromEntries(tplusByGroup(vouchers))).toEqual(Object.fromEntries(expected));
  });
});

describe("merge outbox: a part refused for good", () => {
  it("dead-letters the whole remainder with its rows; later runs book nothing for it; the replay writes exactly the remainder", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
    flow.operation.maxLines = 3;
    // The second create is part 2 of the first group (every group here has more than 3 lines).
    e2e.stack.tplus.addFaults([{ kind: "bizError", path: "otherDispatch/Create", code: "EXBZ0101", message: "存货编码不存在", skip: 1, times: 1 }]);
    await e2e.runToCompletion(TPLUS);
    e2e.clock.advance(DAY_MS);
    await e2e.runToCompletion(TPLUS);
    const store = new FlowStateStore(e2e.kv);
    const letters = await store.listDeadLetters(TPLUS);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter.externalKey).toMatch(/-2$/);
    const parts = (letter.payload as { outbox: { parts: Array<{ externalKey: string; members: string[] }> } }).outbox.parts;
    const group = letter.externalKey!.replace(/-2$/, "");
    const stored = e2e.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    expect(stored).toContain(`${group}-1`);
    for (const p of parts) expect(stored).not.toContain(p.externalKey);
    expect(stored.filter((c) => c.startsWith(`${group}-S`))).toEqual([]);
    const rows = letter.source as Array<Record<string, unknown>>;
    expect(new Set(rows.map((r) => String(r.io_id)))).toEqual(new Set(parts.flatMap((p) => p.members)));

    const replay = await replayDeadLetter(e2e.ports, letter.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replay.error).toBeUndefined();
    expect(replay.written.map((w) => w.externalKey)).toEqual(parts.map((p) => p.externalKey));
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(e2e.clock.now()), startOfDayInZone(e2e.clock.now()));
    expect(Object.fromEntries(tplusByGroup(vouchers))).toEqual(Object.fromEntries(expected));
    expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
  });
});

describe("recovery from state (engine-review finding 6, F5)", () => {
  it("a run whose ledger save failed after its writes makes the next run verify every write (KIS accepting repeated FBillNo, cheap precheck)", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 80, kis: { enforceUniqueBillNo: false }, env: { KIS_PRECHECK: "after_unknown_outcome" } });
    const kv = e2e.kv;
    // A KV that refuses every ledger write (Free plan's daily write limit, an outage): the bills are in KIS, the ledger is not.
    const failingKv: typeof kv = Object.assign(Object.create(Object.getPrototypeOf(kv)), kv, {
      put: async (key: string, value: string, options?: { expirationTtl?: number }) => {
        if (key.startsWith("ledger:")) throw new Error("KV write limit exceeded");
        return kv.put(key, value, options);
      },
    });
    const first = await runFlowById({ ...e2e.ports, kv: failingKv }, { flowId: KIS, runId: "r-1", trigger: "cli", budget: { maxSubrequests: 10_000 } });
    expect(first.summary.outcome).toBe("failed");
    const bills = e2e.stack.kis.bills().length;
    expect(bills).toBeGreaterThan(0);

    e2e.clock.advance(30 * 60_000);
    const second = await e2e.run(KIS);
    expect(second.summary.outcome).toBe("success");
    const stored = e2e.stack.kis.bills();
    expect(new Set(stored.map((b) => b.FBillNo)).size).toBe(stored.length);
    const docs = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut);
    expect(stored.length).toBe(expectedKis(docs, 0, e2e.clock.now() - 5 * 60_000).size);
  });
});

describe("numbers on the wire (engine-review finding 13)", () => {
  it("every T+ line carries Amount as summed and a Price with Price × Qty rounding to Amount", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    await e2e.runToCompletion(TPLUS);
    const lines = e2e.stack.tplus.vouchers("otherDispatch").flatMap((v) => v.payload.RDRecordDetails as Array<Record<string, number>>);
    expect(lines.length).toBeGreaterThan(20);
    const off = lines.filter((l) => Math.round(l.Price! * l.BaseQuantity! * 100) !== Math.round(l.Amount! * 100));
    expect(off).toEqual([]);
  });
});

describe("lease renewal and fencing (engine-review finding 10)", () => {
  it("a run whose lease was taken over stops before its next write or state save", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 80 });
    const current = e2e;
    let creates = 0;
    let createsAfterTakeover = 0;
    let takenOver = false;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      if (/create$/.test(url.pathname)) {
        creates++;
        if (takenOver) createsAfterTakeover++;
        if (creates === 3) {
          // The run stalls past its lease; a cron tick takes the flow over meanwhile.
          current.clock.advance(2 * 60_000);
          expect((await current.lock.acquire(KIS, "cron-takeover", 15 * 60_000)).acquired).toBe(true);
          takenOver = true;
        }
      }
      return globalThis.fetch(input, init);
    };
    const { summary } = await e2e.run(KIS, { leaseMs: 60_000 }, { fetch });
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.code).toBe("lease_lost");
    expect(createsAfterTakeover).toBe(0);
  });

  it("the lease is not re-entrant: a re-delivered event with the same run id does not run twice at once", async () => {
    const lock = new MemoryFlowLock({ now: () => 1_000_000, sleep: async () => {} });
    expect((await lock.acquire(KIS, "20240620T020000000Z-cron", 60_000)).acquired).toBe(true);
    expect((await lock.acquire(KIS, "20240620T020000000Z-cron", 60_000)).acquired).toBe(false);
  });
});

describe("key scheme versioned (engine-review finding 11)", () => {
  it("a flow edit that changes the external key is refused until accepted; documents edited upstream are not booked again under new keys", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 80 });
    await e2e.runToCompletion(KIS);
    const before = e2e.stack.kis.bills().length;
    const flow = e2e.flows[KIS]!;
    flow.target.externalKey = "JST-{io_id}";
    const head = flow.target.fields.find((f) => f.field === "Head")!;
    const billNo = head.children!.find((f) => f.field === "FBillNo")!;
    billNo.value = "JST-{io_id}";
    // Two bills are edited upstream after the change (a re-read that would become "new" documents under the new keys).
    e2e.clock.advance(60_000);
    const ids = e2e.stack.kis
      .bills()
      .slice(0, 2)
      .map((b) => b.FBillNo);
    e2e.stack.jushuitan.touchDocuments(JST_PATHS.otherInOut, ids);
    e2e.clock.advance(10 * 60_000);
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.code).toBe("key_scheme_changed");
    expect(summary.error?.hint).toMatch(/ACCEPT_KEY_SCHEME/);
    expect(e2e.stack.kis.bills().length).toBe(before);
  });
});

describe("CLI: the runner's lease keeper renews the lease the sync holds", () => {
  it("heldLease renews the holder's lease whatever run id a window run passes", async () => {
    const { heldLease } = await import("../../action/cli/lease-lock.ts");
    let now = 1_000_000;
    const lock = new MemoryFlowLock({ now: () => now, sleep: async () => {} });
    const held = await lock.acquire(KIS, "sync-base", 60_000);
    const port = heldLease(held, lock);
    now += 30_000;
    const renewed = await port.renew(KIS, "sync-base-w3", 60_000);
    expect(renewed.renewed).toBe(true);
    expect((await lock.inspect(KIS)).expiresAt).toBe(now + 60_000);
  });
});
