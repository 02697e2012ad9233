/**
 * A poison bill with nothing else to write (chaos seed 9147 long: kis.5xx + kis.poison). KIS answers HTTP 500 to
 * every create of one bill; every other bill was written before it arrived, so no run after it first failed sees the
 * target take a create. The count of a document tried before grew only after a create was seen (poison.ts
 * `createsSeen`): it stayed at 1, every run ended "the target took no document in this run (1 set aside)" as a
 * suspected outage, and the watermark waited for the bill for good. A failure now also counts when a known-good read
 * of the target (TargetConnector.probe) answers in that run; a real outage (reads failing too) still counts for
 * nobody. Real engine, real KIS client, KIS emulator over loopback HTTP, a manual clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedKis } from "../helpers/targets.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** The io_id (= KIS FBillNo) the emulator gives the next document of the seeded set (max + 1). */
async function nextBillNo(otherInOut: number): Promise<string> {
  const probe = await startE2E({ salesOut: 0, otherInOut });
  const ids = probe.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => Number(d.io_id));
  await probe.close();
  return String(Math.max(...ids) + 1);
}

/** A new confirmed KIS-bound document (a copy of a 其它退货 one), saved now: it arrives after the others. */
function arrive(env: E2E) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.otherInOut, rest);
}

/** Every bill the source says belongs in KIS is there (but `except`), once. */
function expectOthersWritten(env: E2E, except: string[]) {
  const expected = expectedKis(env.stack.jushuitan.documents(JST_PATHS.otherInOut), 0, env.clock.now() - 20 * MIN);
  const stored = env.stack.kis.bills().map((b) => String(b.FBillNo));
  expect(new Set(stored).size).toBe(stored.length);
  for (const id of expected.keys()) expect(stored.includes(id), id).toBe(!except.includes(id));
}

describe("a poison bill that arrives after every other bill is written", () => {
  it("is dead-lettered after MAX_FAILED_RUNS runs in which KIS reads answer (chaos seed 9147 long), and the watermark moves on", async () => {
    const billNo = await nextBillNo(40);
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: [billNo] } });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    expect(String(doc.io_id)).toBe(billNo);
    const outcomes: string[] = [];
    for (let run = 0; run < 5; run++) {
      e2e.clock.advance(30 * MIN);
      outcomes.push(...(await e2e.runToCompletion(KIS)).map((s) => s.outcome));
    }
    const letters = await store.listDeadLetters(KIS, { status: "all" });
    expect(letters.map((l) => l.externalKey)).toEqual([billNo]);
    expect(letters[0]!.error.code).toBe("write_failed_repeatedly");
    expect((letters[0]!.source as { io_id?: unknown } | undefined)?.io_id).toBe(doc.io_id);
    // The runs that counted are partial (a document set aside), not outages; the last ones settle.
    expect(outcomes).not.toContain("failed");
    expect(outcomes.at(-1)).toBe("success");
    const checkpoint = (await store.getWatermark<{ watermark: number }>(KIS))!;
    expect(checkpoint.watermark).toBeGreaterThan(parseInZone(String(doc.modified))!);
    expectOthersWritten(e2e, [billNo]);
  }, 120_000);

  it("a lettered poison bill tried again once (a run that read its dead: marker stale) is not sent by every run after (chaos seed 4359 long)", async () => {
    // Seed 4359 (kis.poison + state.staleKv): after the letter, one run read the ledger without the `dead:` marker and
    // tried the bill again; its attempt entry was saved newer than the marker, and filing the same letter again is
    // skipped (same content) without renewing the marker: `exhausted` (marker at least as new as the count) was false
    // for good, every run sent the bill, set it aside and held the watermark (160 invocations, never settled).
    const billNo = await nextBillNo(40);
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: [billNo] } });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    for (let run = 0; run < 4; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    expect((await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey)).toEqual([billNo]);
    // The state a stale read leaves: the attempt entry saved after the marker (the bill was sent once more).
    const attempt = (await store.ledgerLookup(KIS, [`try:${billNo}`])).get(`try:${billNo}`)!;
    await store.ledgerAppend(KIS, [{ ...attempt, attempts: (attempt.attempts ?? 0) + 1, writtenAt: e2e.clock.now() }]);
    // ... while the watermark still waited before the bill (the runs that counted held it there).
    const checkpoint = (await store.getWatermark<{ watermark: number }>(KIS))!;
    await store.saveCheckpoint(KIS, { ...checkpoint, watermark: parseInZone(String(doc.modified))! - MIN });
    const creates = () => e2e!.stack.kis.requests().filter((r) => r.path.endsWith("/create")).length;
    e2e.clock.advance(30 * MIN);
    await e2e.runToCompletion(KIS); // may send it once more and file (or renew) its letter
    const before = creates();
    const outcomes: string[] = [];
    for (let run = 0; run < 3; run++) {
      e2e.clock.advance(30 * MIN);
      outcomes.push(...(await e2e.runToCompletion(KIS)).map((s) => s.outcome));
    }
    // The letter is retried by the runs (unvouched-retry.ts: once per invocation), but the runs themselves settle.
    expect(creates() - before).toBeLessThanOrEqual(9);
    expect(outcomes.at(-1)).toBe("success");
    const last = (await store.listRuns(KIS, 1))[0] as unknown as { watermarkHeld?: string; watermarkAfter: number };
    expect(last.watermarkHeld).toBeUndefined();
    expect(last.watermarkAfter).toBeGreaterThan(parseInZone(String(doc.modified))!);
    expect((await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey)).toEqual([billNo]);
  }, 120_000);

  it("a full KIS outage (every create and read answering 500) dead-letters nothing, even with MAX_FAILED_RUNS 1; the bill is written once KIS is back", async () => {
    // On old code a fresh document that failed alone counted without any sign the target was up: with
    // MAX_FAILED_RUNS 1 the outage dead-lettered a healthy bill.
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, env: { MAX_FAILED_RUNS: "1" } });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/koas/", times: 1_000_000 }]);
    const outcomes: string[] = [];
    for (let run = 0; run < 4; run++) {
      e2e.clock.advance(30 * MIN);
      outcomes.push((await e2e.runToCompletion(KIS)).at(-1)!.outcome);
    }
    expect((await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey)).toEqual([]);
    // Each run stops as an outage (the probe failed too) and counts nothing.
    expect(outcomes).toEqual(["failed", "failed", "failed", "failed"]);
    e2e.stack.kis.clearFaults();
    e2e.clock.advance(30 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    expect((await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey)).toEqual([]);
    expect(e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === String(doc.io_id)).length).toBe(1);
    expectOthersWritten(e2e, []);
  }, 120_000);

  it("its last send commits and the answer is lost: nothing is booked twice, and no letter stays open for a bill KIS holds", async () => {
    // 3 runs × 3 tries: eight 500s, then the ninth create stores the bill and never answers (a 5xx may have committed).
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    const billNo = String(doc.io_id);
    e2e.stack.kis.addFaults([
      { kind: "http5xx", path: "/create", times: 8 },
      { kind: "commitThenTimeout", path: "/create", times: 1 },
    ]);
    const setAside: number[] = [];
    for (let run = 0; run < 5; run++) {
      e2e.clock.advance(30 * MIN);
      for (const s of await e2e.runToCompletion(KIS)) setAside.push(...(s.setAside ?? []).map((d) => d.attempts));
    }
    // Counted in three runs; the third one's last send committed: found by the read-back, not dead-lettered.
    expect(setAside).toEqual([1, 2, 3]);
    expect(e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === billNo).length).toBe(1);
    const open = await store.listDeadLetters(KIS);
    for (const letter of open) {
      const replay = await replayDeadLetter(e2e.ports, letter.id, { by: "test", budget: { maxSubrequests: 200 } });
      expect(replay.error).toBeUndefined();
    }
    expect(e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === billNo).length).toBe(1);
    expect(open.map((l) => l.externalKey)).toEqual([]);
    expectOthersWritten(e2e, []);
  }, 120_000);

  it("KIS refusing every create while its reads answer, three bills waiting: counts for nobody (a target that takes no create, not three poison bills)", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, env: { MAX_FAILED_RUNS: "2" } });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const waiting = [arrive(e2e), arrive(e2e), arrive(e2e)].map((d) => String(d.io_id));
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    for (let run = 0; run < 5; run++) {
      e2e.clock.advance(30 * MIN);
      expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("failed");
    }
    expect((await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey)).toEqual([]);
    e2e.stack.kis.clearFaults();
    e2e.clock.advance(30 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const stored = e2e.stack.kis.bills().map((b) => String(b.FBillNo));
    for (const id of waiting) expect(stored.filter((b) => b === id).length, id).toBe(1);
    expectOthersWritten(e2e, []);
  }, 120_000);
});
