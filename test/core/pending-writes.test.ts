/**
 * Writes whose answer is lost (engine/pending-writes.ts): resolved in the target before the next run judges any
 * document. Real engine, real clients, emulators over loopback HTTP; explicit clocks (no dependence on the hour).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { DATE_FORMAT, formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";
import { lossyFirstCreate } from "../helpers/lossy-fetch.ts";
import { until } from "../helpers/until.ts";
import { firstPostedKisDocument } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** A network whose first create fails before it reaches the target (answer and write both lost); nothing answers after it. */
function downAtFirstCreate() {
  let down = false;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (down) throw new TypeError("network down");
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (/\/create$/i.test(url.pathname)) {
      down = true;
      throw new TypeError("connection reset");
    }
    return fetch(input, init);
  };
}

describe("pending writes: a lost write that never reached the target", () => {
  it("KIS: R1 never committed, the bill re-confirmed: the pending R1 is dropped, nothing is written, counted once", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    await e2e.run(KIS, {}, { fetch: downAtFirstCreate() });
    expect(e2e.stack.kis.bills().map((b) => String(b.FBillNo))).not.toContain(`${id}-R1`);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(15 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    expect(mine.map((b) => String(b.FBillNo))).toEqual([id]);
    expect(await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).toEqual([]);
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, kisTotals(mine), "the bill after R1 was lost before the target");
  });

  it("KIS: R1 never committed, the bill still cancelled: R1 is written by the next run (counted 0)", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    await e2e.run(KIS, {}, { fetch: downAtFirstCreate() });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(15 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    expect(mine.map((b) => String(b.FBillNo)).sort()).toEqual([id, `${id}-R1`]);
    expect(await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).toEqual([]);
    assertSignedInvariant(new Map(), kisTotals(mine), "the cancelled bill");
  });
});

describe("pending writes: the process killed between a correction's commit and its answer", () => {
  // The invocation never returns (a killed isolate holding its lease): nothing of it is saved but what it stored
  // before sending R1 — R1's pending entry. The bill is confirmed again before the run that takes the lease over.
  it("KIS: R1 committed, the invocation killed, the bill re-confirmed: the takeover run finds R1 and reposts (counted once)", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    const hangAfterCommit = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      if (!/\/create$/i.test(url.pathname)) return fetch(input, init);
      await fetch(input, init);
      return new Promise<Response>(() => {});
    };
    void e2e.run(KIS, {}, { fetch: hangAfterCommit });
    await until(() => e2e!.stack.kis.bills().some((b) => String(b.FBillNo) === `${id}-R1`), "R1 committed");
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(16 * 60_000); // the killed run's lease expires
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    expect(await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).toEqual([]);
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, kisTotals(mine), "the bill after the killed R1");
  });
});

describe("pending writes: a target that cannot be asked", () => {
  // T+ without FindVoucherList (the emulator's legacyQuery profile): a G-C1 whose answer was lost cannot be looked
  // up. It must not be dropped silently: a dead letter names it (replaying it writes exactly G-C1).
  it("T+ legacyQuery: G-C1 committed, its answer lost, the member re-confirmed: a write_unknown letter names G-C1", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { voucherApi: "legacyQuery" } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = parseInZone(`${formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
      )!;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    e2e.clock.advance(DAY);
    await e2e.run(TPLUS, {}, { fetch: lossyFirstCreate() });
    const c1 = e2e.stack.tplus
      .vouchers("otherDispatch")
      .map((v) => String(v.ExternalCode))
      .find((c) => /-C1$/.test(c))!;
    expect(c1).toBeDefined();
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Confirmed" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(DAY);
      await e2e.runToCompletion(TPLUS);
    }
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS);
    expect(letters.map((l) => [l.externalKey, l.error?.code])).toEqual([[c1, "write_unknown"]]);
  });
});

describe("pending writes: a killed correction pair resolved in the order it was written", () => {
  // Chaos seed 9056 (long): a quantity edit is corrected by R1 (red) then B1 (the new lines); the invocation is
  // killed once B1 committed, so both stay pending. The next run must settle R1 before B1 (the order they were
  // written): the outbox lists them by key (B1 before R1), and settling R1 last left the before-image "nothing
  // posted", so the cancellation read next was never reversed and B1 stood alone in KIS.
  it("KIS: R1 and B1 committed, the invocation killed, the bill cancelled: the takeover run reverses B1 (counted 0)", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const items = (doc.items as Array<Record<string, unknown>>).map((item, i) => (i === 0 ? { ...item, qty: Number(item.qty) + 1 } : item));
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    e2e.clock.advance(15 * 60_000);
    const hangAtB1 = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      if (!/\/create$/i.test(url.pathname) || !String(init?.body ?? "").includes(`${id}-B1`)) return fetch(input, init);
      await fetch(input, init);
      return new Promise<Response>(() => {});
    };
    void e2e.run(KIS, {}, { fetch: hangAtB1 });
    await until(() => e2e!.stack.kis.bills().some((b) => String(b.FBillNo) === `${id}-B1`), "B1 committed");
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(16 * 60_000); // the killed run's lease expires
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    expect(mine.map((b) => String(b.FBillNo)).sort()).toEqual([id, `${id}-B1`, `${id}-R1`, `${id}-R2`]);
    expect(await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).toEqual([]);
    assertSignedInvariant(new Map(), kisTotals(mine), "the cancelled bill after the killed R1/B1 pair");
  });
});
