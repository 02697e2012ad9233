/**
 * Chaos seed 4436 long (2026-12-06): an invocation is killed after KIS committed a bill and before its answer arrived
 * (or before its page's ledger entries were saved); a 聚水潭 user then edits or cancels the document. Before the write
 * intents (shared/engine/write-intents.ts) the next run had no record of the write: an edit became a `conflict` dead
 * letter (target 20, source 23), a cancellation left the bill booked. Now the killed page's intent lets the next run
 * recognise the bill as its own (exactly the lines it sent) and correct it; other lines under the key stay a conflict.
 * Real engine, real clients, the emulators over loopback HTTP, the emulated clock.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "../helpers/e2e.ts";
import { addLine, differences, e2ePerTest } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

const start = e2ePerTest();

/** Sends every request; the first KIS create is committed by the emulator but its answer never arrives (a killed isolate). */
function killedBeforeFirstAnswer(): FetchLike {
  let killed = false;
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const res = await fetch(input, init);
    if (!killed && /\/create$/i.test(new URL(url).pathname)) {
      killed = true;
      return new Promise<Response>(() => {});
    }
    return res;
  };
}

/** A bill committed by a killed invocation; then `change` edits its source document; then the flow runs to completion. */
async function killedThen(change: (e: E2E, doc: Row) => void): Promise<{ e: E2E; billNo: string }> {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  void e.run(KIS, {}, { fetch: killedBeforeFirstAnswer() });
  const until = async () => {
    for (let i = 0; i < 1000 && e.stack.kis.bills().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  };
  await until();
  await new Promise((r) => setTimeout(r, 50));
  const billNo = String(e.stack.kis.bills()[0]!.FBillNo);
  const doc = e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === billNo)!;
  change(e, doc);
  e.clock.advance(60 * 60_000); // the dead run's lease expires; the edit passes the end lag
  await e.runToCompletion(KIS);
  return { e, billNo };
}

const cancel = (e: E2E, doc: Row) => {
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
};
const killedThenEdited = () => killedThen(addLine);

describe("an original committed by a killed invocation, then changed (chaos seed 4436)", () => {
  // Before the fix: a `conflict` dead letter ("the target already holds … with other lines"), target 20 vs source 23.
  it("edited: the next run recognises its own unconfirmed write and corrects it to the edited lines", async () => {
    const { e, billNo } = await killedThenEdited();
    expect(differences(e, billNo)).toEqual([]);
    expect(e.stack.kis.bills().filter((b) => String(b.FBillNo) === billNo)).toHaveLength(1); // never booked twice
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect(letters.filter((l) => l.externalKey?.startsWith(billNo))).toEqual([]);
  });

  // Before the fix: the next run never looked at the cancelled document (no ledger entry), the bill stayed booked.
  it("cancelled: the next run reverses the bill the killed invocation committed", async () => {
    const { e, billNo } = await killedThen(cancel);
    expect(differences(e, billNo)).toEqual([]);
    expect(e.stack.kis.bills().some((b) => String(b.FBillNo).startsWith(`${billNo}-R`))).toBe(true);
  });

  // Not ours: the bill under the key holds other lines than the killed invocation sent (changed in KIS by hand).
  it("a bill under the key with other lines than the intent is never adopted: a conflict letter, as before", async () => {
    const { e, billNo } = await killedThen((e, doc) => {
      const bill = e.stack.kis.bills().find((b) => b.FBillNo === String(doc.io_id))!;
      bill.Entry[0]!.FQty = Number(bill.Entry[0]!.FQty) + 5;
      addLine(e, doc);
    });
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect(letters.find((l) => l.externalKey === billNo)?.error.code).toBe("conflict");
    expect(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(billNo))).toHaveLength(1);
  });

  // Three bills answered, the fourth never sent, then all edited: before the fix three conflict letters.
  it("every bill a killed page committed, then edited, is corrected; the unsent one is written once", async () => {
    const e = await start({ days: 2, otherInOut: 80, salesOut: 0 });
    void e.run(KIS, {}, { fetch: e.crashingFetch(3) });
    for (let i = 0; i < 1000 && e.stack.kis.bills().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const written = e.stack.kis.bills().map((b) => String(b.FBillNo));
    expect(written).toHaveLength(3);
    const docs = e.stack.jushuitan.documents(JST_PATHS.otherInOut);
    for (const no of written) addLine(e, docs.find((d) => String(d.io_id) === no)!);
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(KIS);
    for (const no of written) expect(differences(e, no)).toEqual([]);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect(letters).toEqual([]);
    const originals = e.stack.kis.bills().filter((b) => !/-[RB]\d+$/.test(String(b.FBillNo)));
    expect(new Set(originals.map((b) => b.FBillNo)).size).toBe(originals.length); // nothing booked twice
    // Every intent met and closed, the killed page's included.
    expect((await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit)).toEqual([]);
  });

  it("invocations that end on their budget close their pages' intents; none is left between them", async () => {
    const e = await start({ days: 2, otherInOut: 200, salesOut: 0 });
    let invocations = 0;
    for (; invocations < 100; invocations++) {
      const { summary } = await e.run(KIS, { budget: { maxSubrequests: 10 } });
      expect((await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit)).toEqual([]);
      if (!summary.continues) break;
    }
    expect(invocations).toBeGreaterThan(1);
    expect(e.stack.kis.bills().length).toBeGreaterThan(10);
  });

  // Chaos 9014, 9059, 4242 long on f1dfee7 (abort + a budget of a few calls): a killed page's parts the target did
  // not hold were asked again by every invocation and the answers lost with each budget stop (a page's worth of
  // lookups above the budget), so the flow never settled (160 invocations).
  it("a killed page's unsent parts are resolved across invocations with a budget of a few calls; the flow settles", async () => {
    const e = await start({ days: 2, otherInOut: 400, salesOut: 0 });
    // Killed at its first create, before sending it: the page's intent stands, nothing of it is in KIS.
    const killedAtFirstCreate: FetchLike = (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      return /\/create$/i.test(new URL(url).pathname) ? new Promise<Response>(() => {}) : fetch(input, init);
    };
    void e.run(KIS, {}, { fetch: killedAtFirstCreate });
    for (let i = 0; i < 1000 && (await new OutboxStore(e.kv).list(KIS)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect((await new OutboxStore(e.kv).list(KIS))[0]?.parts.length).toBeGreaterThan(10);
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(KIS, { budget: { maxSubrequests: 4 } }, 200);
    expect((await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit)).toEqual([]);
    const numbers = e.stack.kis.bills().map((b) => String(b.FBillNo));
    expect(numbers.length).toBeGreaterThan(3);
    expect(new Set(numbers).size).toBe(numbers.length);
  });
});
