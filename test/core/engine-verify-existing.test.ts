/**
 * "Already exists" is verified, not trusted (issue 12 item 3, engine-review finding 3): on a duplicate-key answer the
 * engine reads the target document back and compares lines and quantities with what it would write. Real engine,
 * real clients, emulators over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { actualTplus, expectedTplus } from "../helpers/targets.ts";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";

const TPLUS = "jst-sales-out-to-tplus";
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function resetLedger(e: E2E, flowId: string) {
  for (const key of await e.kv.list(`ledger:${flowId}:`)) await e.kv.delete(key);
}

type Row = Record<string, unknown>;

/**
 * These tests rebuild whole written days after a ledger reset, which io_date windows do (the seed's former setting,
 * still an option). The seed reads by `modified` now: after a ledger reset it re-reads only part of a day, and the
 * partial group's "already exists" is a conflict letter (adv12-merge-registry-lost covers that path).
 */
function ioDateWindows(e: E2E) {
  const flow = e.flows[TPLUS]!;
  flow.source.params.date_type = 2;
  flow.source.timeField = "io_date";
  flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback
}

describe("already exists is verified (engine-review finding 3)", () => {
  it("ledger reset, then a late member of a written day: the rebuilt group's 'already exists' is a conflict dead letter holding the late member, not 'written'", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    ioDateWindows(e2e);
    await e2e.runToCompletion(TPLUS);
    const written = e2e.stack.tplus.vouchers("otherDispatch");
    expect(written.length).toBeGreaterThan(0);
    // The latest written day (inside the flow's one-day lookback): a late member arrives for it.
    const docs = e2e.stack.jushuitan.documents(JST_PATHS.salesOut).filter((d) => d.status === "Confirmed" && Number(d.shop_id) === 0);
    const keyOf = (d: Row) => `SO-${String(d.io_date).slice(0, 10)}-${String(d.wms_co_id)}`;
    const target = [...written].sort((a, b) => b.ExternalCode.localeCompare(a.ExternalCode))[0]!;
    const sibling = docs.find((d) => keyOf(d) === target.ExternalCode)!;
    expect(sibling).toBeDefined();

    await resetLedger(e2e, TPLUS);
    e2e.clock.advance(60 * 60_000);
    const late = e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, {
      ...structuredClone(sibling),
      io_id: undefined,
      o_id: Number(sibling.o_id ?? 0) + 900_000,
      items: [{ ...(sibling.items as Row[])[0]!, qty: 7 }],
    });
    delete (late as Row).__unused;
    const lateId = String(late.io_id);
    const summaries = await e2e.runToCompletion(TPLUS);
    const last = summaries.at(-1)!;
    expect(last.outcome).not.toBe("failed");

    // Nothing doubled: the stored voucher is the only one for its day; nothing silently wrong: it is unchanged.
    const after = e2e.stack.tplus.vouchers("otherDispatch");
    expect(after.filter((v) => v.ExternalCode.startsWith(target.ExternalCode))).toHaveLength(1);
    expect(after.length).toBe(written.length);
    // Nothing lost: the late member is in a conflict dead letter with both sides shown.
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS);
    const conflict = letters.find((l) => l.error.code === "conflict" && l.externalKey === target.ExternalCode);
    expect(conflict, JSON.stringify(letters.map((l) => [l.externalKey, l.error.code]))).toBeDefined();
    const rows = (Array.isArray(conflict!.source) ? conflict!.source : [conflict!.source]) as Row[];
    expect(rows.map((r) => String(r.io_id))).toContain(lateId);
    const shown = conflict!.payload as { ours?: unknown; theirs?: unknown; diff?: Array<{ item: string; ours: number; theirs: number }> };
    expect(shown.ours).toBeDefined();
    expect(shown.theirs).toBeDefined();
    expect(shown.diff!.length).toBeGreaterThan(0);
    // The other (unchanged) days answered "already exists" with the same content: recorded as written, no letter.
    expect(letters.filter((l) => l.error.code === "conflict")).toHaveLength(1);

    // The next run files nothing again and books nothing.
    e2e.clock.advance(30 * 60_000);
    const next = await e2e.runToCompletion(TPLUS);
    expect(next.at(-1)!.counts.written).toBe(0);
    expect(e2e.stack.tplus.vouchers("otherDispatch").length).toBe(written.length);
    expect((await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => l.error.code === "conflict")).toHaveLength(1);

    // Replaying the letter while the target still holds the other voucher is refused (the letter stays open);
    // once that voucher is voided, the replay writes the whole group and the day holds every member.
    const refusedReplay = await replayDeadLetter(e2e.ports, conflict!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(refusedReplay.replayed).toBe(false);
    expect(refusedReplay.error?.code).toBe("conflict");
    expect(e2e.stack.tplus.removeVoucher("otherDispatch", target.ExternalCode)).toBe(true);
    const replay = await replayDeadLetter(e2e.ports, conflict!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replay.error).toBeUndefined();
    expect(replay.replayed).toBe(true);
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(e2e.clock.now()));
    const day = e2e.stack.tplus.vouchers("otherDispatch").filter((v) => v.ExternalCode.startsWith(target.ExternalCode));
    expect(day).toHaveLength(1);
    expect(Object.fromEntries(actualTplus(day))).toEqual({ [target.ExternalCode]: expected.get(target.ExternalCode) });
  });

  it("ledger reset with nothing changed: every group answered 'already exists' with the same content stays written (no letter)", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    ioDateWindows(e2e);
    await e2e.runToCompletion(TPLUS);
    const before = e2e.stack.tplus.vouchers("otherDispatch").length;
    await resetLedger(e2e, TPLUS);
    e2e.clock.advance(60 * 60_000);
    const summaries = await e2e.runToCompletion(TPLUS);
    expect(summaries.at(-1)!.outcome).toBe("success");
    expect(summaries.reduce((n, s) => n + s.counts.alreadyExisted, 0)).toBeGreaterThan(0);
    expect(summaries.reduce((n, s) => n + s.counts.deadLettered, 0)).toBe(0);
    expect(e2e.stack.tplus.vouchers("otherDispatch").length).toBe(before);
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(e2e.clock.now()));
    expect(expected.size).toBe(before);
  });

  it("KIS: a bill found by its FBillNo whose lines differ from what we would write is a conflict, not 'already exists'", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 60 });
    const range = { from: e2e.clock.now() - 6 * DAY_MS, to: e2e.clock.now() - 60_000 };
    await e2e.run(KIS, { range });
    const bills = e2e.stack.kis.bills();
    expect(bills.length).toBeGreaterThan(1);
    // Someone edits one source document's quantity; the ledger is lost; the backfill finds the old bill under the key.
    const victim = bills[0]!.FBillNo;
    const doc = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === victim)!;
    const items = (doc.items as Row[]).map((it, i) => (i === 0 ? { ...it, qty: Number(it.qty) + 5 } : it));
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items, modified: doc.modified });
    await resetLedger(e2e, KIS);
    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS, { range: { from: range.from, to: e2e.clock.now() } });
    expect(e2e.stack.kis.bills().length).toBe(bills.length);
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(KIS);
    expect(letters.map((l) => [l.externalKey, l.error.code])).toContainEqual([victim, "conflict"]);
    expect(again.summary.counts.alreadyExisted).toBe(bills.length - 1);
  });

  it("ledger reset, then the rebuilt group splits differently (maxLines): the other split's key is found in the target, nothing is booked twice", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    ioDateWindows(e2e);
    await e2e.runToCompletion(TPLUS);
    const written = e2e.stack.tplus.vouchers("otherDispatch");
    expect(written.every((v) => !/-\d$/.test(v.ExternalCode.replace(/^SO-\d{4}-\d{2}-\d{2}-\d+/, "")))).toBe(true);
    await resetLedger(e2e, TPLUS);
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
    flow.operation.maxLines = 2; // every group now splits into <key>-1, <key>-2 …: new ExternalCodes
    e2e.clock.advance(60 * 60_000);
    await e2e.runToCompletion(TPLUS);
    const after = e2e.stack.tplus.vouchers("otherDispatch");
    expect(after.map((v) => v.ExternalCode).sort()).toEqual(written.map((v) => v.ExternalCode).sort());
    const letters = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS);
    expect(letters.length).toBeGreaterThan(0);
    expect(letters.every((l) => l.error.code === "conflict")).toBe(true);
  });
});
