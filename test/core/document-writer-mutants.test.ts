/**
 * shared/engine/document-writer.ts against its Stryker survivors (issue 18 item 6), through the real engine, state
 * store and emulators: a flow that follows no corrections (no target.onChange) and meets a bill it wrote before
 * (same content: skipped; other content: a changed_after_write letter, or skipped under onExisting: skip; a dry run
 * plans it "unchanged" / "changed"), the counts of dropped rows, and a refused bill's letter (its source row, key and
 * payload). Explicit clock (E2E_START); nothing reads the wall clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** A KIS flow without corrections, caught up; returns a written bill's source row. */
async function writtenWithoutCorrections(
  onExisting: "skip" | "error",
  kis: { rejectBillNos?: string[] } = {},
): Promise<{ env: E2E; row: Row; watermark: number }> {
  e2e = await startE2E({ otherInOut: 20, salesOut: 0, kis });
  const env = e2e;
  const flow = env.flows[KIS]!;
  delete flow.target.onChange;
  flow.target.onExisting = onExisting;
  // Keys unlike the source ids, so a letter's sourceId (the member) and externalKey (the key) cannot be mistaken.
  flow.target.externalKey = "IO-{io_id}";
  flow.target.fields.find((f) => f.field === "Head")!.children!.find((f) => f.field === "FBillNo")!.value = "IO-{io_id}";
  const last = (await env.runToCompletion(KIS)).at(-1)!;
  expect(last.outcome).toBe("success");
  const billNos = new Set(env.stack.kis.bills().map((b) => String(b.FBillNo)));
  const row = env.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => billNos.has(key(String(d.io_id))))!;
  expect(row).toBeDefined();
  return { env, row, watermark: last.watermarkAfter };
}

const letters = async (env: E2E) => await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" });
const key = (id: string) => `IO-${id}`;
const billsOf = (env: E2E, id: string) => env.stack.kis.bills().filter((b) => String(b.FBillNo) === key(id));

/** The next run after the source changed (past the flow's lookback of the last run). */
async function nextRun(env: E2E, request: { dryRun?: boolean } = {}) {
  env.clock.advance(11 * 60_000);
  return await env.run(KIS, request);
}

describe("a flow without corrections meets a bill it wrote", () => {
  it("same content: skipped, nothing written, nothing filed; a dry run plans it unchanged", async () => {
    const { env, row } = await writtenWithoutCorrections("error");
    const id = String(row.io_id);
    const before = env.stack.kis.bills().length;
    env.stack.jushuitan.touchDocuments(JST_PATHS.otherInOut, [id]);
    const dry = await nextRun(env, { dryRun: true });
    expect(dry.planned.map((p) => [p.externalKey, p.status, p.members])).toEqual([[key(id), "unchanged", [id]]]);
    expect(dry.planned[0]!.payload).toMatchObject({ Head: { FBillNo: key(id) } });
    const { summary, planned } = await env.run(KIS);
    expect(planned).toEqual([]); // only a dry run plans
    expect(summary.outcome).toBe("success");
    expect(summary.counts).toMatchObject({ read: 1, written: 0, skipped: 1, deadLettered: 0, dropped: 0 });
    expect(env.stack.kis.bills().length).toBe(before);
    expect(await letters(env)).toEqual([]);
  });

  it("other content under onExisting: error is a changed_after_write letter with its row; a dry run plans it changed", async () => {
    const { env, row } = await writtenWithoutCorrections("error");
    const id = String(row.io_id);
    const items = (row.items as Row[]).map((l, i) => (i === 0 ? { ...l, qty: Number(l.qty) + 5 } : l));
    env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: row.io_id, items });
    const dry = await nextRun(env, { dryRun: true });
    expect(dry.planned.map((p) => [p.externalKey, p.status, p.members])).toEqual([[key(id), "changed", [id]]]);
    expect(await letters(env)).toEqual([]);
    const { summary } = await env.run(KIS);
    expect(summary.counts).toMatchObject({ read: 1, written: 0, skipped: 0, deadLettered: 1 });
    const filed = await letters(env);
    expect(filed).toHaveLength(1);
    const letter = filed[0]!;
    expect(letter).toMatchObject({ sourceId: id, externalKey: key(id), error: { code: "changed_after_write" } });
    expect(letter.error.message).toBe(`document ${key(id)} changed after it was written to the target`);
    expect(letter.error.hint).toMatch(/post the correction in the target by hand/);
    expect(letter.source).toMatchObject({ io_id: row.io_id, items }); // the row itself, not a list
    expect(letter.payload).toMatchObject({ Head: { FBillNo: key(id) } });
    expect(billsOf(env, id)).toHaveLength(1);
  });

  it("other content under onExisting: skip is skipped: nothing filed, the bill left as it was", async () => {
    const { env, row } = await writtenWithoutCorrections("skip");
    const id = String(row.io_id);
    const bill = structuredClone(billsOf(env, id));
    const items = (row.items as Row[]).map((l, i) => (i === 0 ? { ...l, qty: Number(l.qty) + 5 } : l));
    env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: row.io_id, items });
    const { summary } = await nextRun(env);
    expect(summary.counts).toMatchObject({ read: 1, written: 0, skipped: 1, deadLettered: 0 });
    expect(await letters(env)).toEqual([]);
    expect(billsOf(env, id)).toEqual(bill);
  });
});

describe("counts and letters of a run", () => {
  it("a row the flow's condition drops is counted dropped, not skipped or written", async () => {
    const { env, row } = await writtenWithoutCorrections("skip");
    const { io_id: _i, modified: _m, ts: _t, ...copy } = row;
    env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { ...copy, status: "Draft" });
    env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { ...copy, status: "Draft" });
    const { summary } = await nextRun(env);
    expect(summary.counts).toMatchObject({ read: 2, written: 0, skipped: 0, deadLettered: 0, dropped: 2 });
  });

  it("a bill the target refuses is one letter holding its source row (not a list), its key and payload", async () => {
    const reject: string[] = [];
    const { env, row } = await writtenWithoutCorrections("skip", { rejectBillNos: reject });
    const { io_id: _i, modified: _m, ts: _t, ...copy } = row;
    const fresh = env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, copy);
    const id = String(fresh.io_id);
    reject.push(key(id));
    const dry = await nextRun(env, { dryRun: true });
    expect(dry.planned.map((p) => [p.externalKey, p.status, p.members])).toEqual([[key(id), "new", [id]]]);
    const { summary } = await env.run(KIS);
    expect(summary.counts).toMatchObject({ read: 1, written: 0, deadLettered: 1 });
    const filed = await letters(env);
    expect(filed.map((l) => [l.sourceId, l.externalKey])).toEqual([[id, key(id)]]);
    expect(Array.isArray(filed[0]!.source)).toBe(false);
    expect(filed[0]!.source).toMatchObject({ io_id: fresh.io_id });
    expect(filed[0]!.payload).toMatchObject({ Head: { FBillNo: key(id) } });
    expect(billsOf(env, id)).toEqual([]);
  });

  it("a written bill's ledger entry holds the target's id, its members and this run", async () => {
    const { env, row } = await writtenWithoutCorrections("skip");
    const { io_id: _i, modified: _m, ts: _t, ...copy } = row;
    const id = String(env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, copy).io_id);
    const { summary } = await nextRun(env);
    expect(summary.counts).toMatchObject({ written: 1 });
    const entry = (await new FlowStateStore(env.kv).ledgerLookup(KIS, [key(id)])).get(key(id));
    expect(entry).toMatchObject({ externalKey: key(id), targetId: String(billsOf(env, id)[0]!.FID), members: [id], runId: summary.runId });
  });

  it("rows written now that the last run read past are late by their lag plus the end lag; a row at its read end is not", async () => {
    const { env, row, watermark: readEnd } = await writtenWithoutCorrections("skip");
    const jst = env.stack.jushuitan;
    const endLagMs = env.flows[KIS]!.incremental.endLagMinutes * 60_000;
    const { io_id: _i, modified: _m, ts: _t, ...copy } = row;
    const atEnd = jst.upsertDocument(JST_PATHS.otherInOut, copy);
    jst.stampModified(JST_PATHS.otherInOut, atEnd.io_id as number, readEnd);
    const before = jst.upsertDocument(JST_PATHS.otherInOut, copy);
    jst.stampModified(JST_PATHS.otherInOut, before.io_id as number, readEnd - 2_000);
    const { summary } = await nextRun(env);
    expect(summary.counts).toMatchObject({ written: 2 });
    expect(summary.watermarkBefore).toBe(readEnd);
    expect(summary.source?.late).toEqual({ rows: 1, minLagMs: 2_000 + endLagMs });
  });

  it("a range backfill reports no late rows (it reads no watermark's past)", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0 });
    const now = e2e.clock.now();
    const { summary } = await e2e.run(KIS, { range: { from: now - 6 * 86_400_000, to: now - 2 * 3_600_000 } });
    expect(summary.counts.written).toBeGreaterThan(0);
    expect(summary.source?.late).toBeUndefined();
  });
});
