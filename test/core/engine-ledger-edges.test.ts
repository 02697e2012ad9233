/**
 * The run ledger's promises through the real engine, state store and emulators (issue 18: Stryker survivors in
 * shared/engine/run-ledger.ts with the engine tests): a merge group's supplement counter is read back from the
 * ledger, so a second late arrival becomes `-S2` (not a second `-S1` the target refuses as a duplicate); a dead
 * letter is filed once per failing content, and a failing document whose content changed is filed afresh; a
 * refusal whose payload changed (a material re-mapped) and a conflict whose sides changed are filed again; each
 * ledger entry is saved once (a window's flush appends only what is new), and markers whose letters failed to save
 * wait, pending, for the run's final flush.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("run ledger through the engine", () => {
  it("two late sales-outs of a written day, in two runs, become -S1 and -S2; every quantity is booked once", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const env = e2e;
    const flow = env.flows[TPLUS]!;
    // Windows on modified, groups by io_date (merge-modified-windows.test.ts): a late sale is read by the next run.
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = env.stack.jushuitan;
    const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-18"))!;
    expect(template).toBeDefined();
    const group = `SO-2024-06-18-${String(template.wms_co_id)}`;
    const codes = () =>
      env.stack.tplus
        .vouchers("otherDispatch")
        .map((v) => v.ExternalCode)
        .filter((c) => c.startsWith(group))
        .sort();
    expect(codes()).toEqual([group]);
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    for (const n of [1, 2]) {
      jst.upsertDocument(JST_PATHS.salesOut, rest);
      env.clock.advance(86_400_000); // merged windows end at the start of today: the sale is read once its save day is over
      const last = (await env.runToCompletion(TPLUS)).at(-1)!;
      expect(last.outcome, JSON.stringify(last.error)).toBe("success");
      expect(last.counts.deadLettered).toBe(0);
      expect(codes()).toEqual([group, ...[1, 2].slice(0, n).map((s) => `${group}-S${s}`)]);
    }
    const expected = expectedTargets(env, { kis: 0, tplusDayEnd: parseInZone("2024-06-22 00:00:00")! }).tplus;
    expect(Object.fromEntries(actualTargets(env).tplus)).toEqual(Object.fromEntries(expected));
  });

  it("a dead letter is filed once per failing content: a re-read is skipped, an edited failing document is filed again", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0 });
    const env = e2e;
    expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    // A confirmed 其它退货 with a SKU that kis_materials lacks: a lookup miss, a dead letter.
    const jst = env.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const line = (qty: number) => [{ ...(template.items as Record<string, unknown>[])[0], sku_id: "NO-SUCH-SKU", qty }];
    const row = jst.upsertDocument(JST_PATHS.otherInOut, { ...rest, items: line(3) });
    const id = String(row.io_id);
    // A second failing document: each has its own marker, so re-reading both files neither again.
    const other = String(jst.upsertDocument(JST_PATHS.otherInOut, { ...rest, items: line(7) }).io_id);
    const all = async () => await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" });
    const letters = async () => (await all()).filter((l) => String(l.sourceId) === id);

    env.clock.advance(6 * 60_000);
    const first = (await env.runToCompletion(KIS)).at(-1)!;
    expect(first.counts.deadLettered).toBe(2);
    expect(first.deadLetterCodes).toEqual({ lookup_miss: 2 });
    env.clock.advance(60_000); // the next run reads it again in its 10-minute lookback
    const again = (await env.runToCompletion(KIS)).at(-1)!;
    expect(again.counts.deadLettered).toBe(0);
    expect(again.counts.skipped).toBeGreaterThan(0);
    expect((await letters()).length).toBe(1);
    expect((await all()).filter((l) => String(l.sourceId) === other).length).toBe(1);

    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: row.io_id, items: line(4) });
    env.clock.advance(6 * 60_000);
    const edited = (await env.runToCompletion(KIS)).at(-1)!;
    expect(edited.counts.deadLettered).toBe(1);
    const filed = await letters();
    expect(filed.map((l) => l.error.code)).toEqual(["lookup_miss", "lookup_miss"]);
  });

  it("a refusal filed again once the payload changes: a material re-mapped in kis_materials, the bill still refused", async () => {
    const rejected: string[] = [];
    e2e = await startE2E({ otherInOut: 20, salesOut: 0, kis: { rejectBillNos: rejected } });
    const env = e2e;
    expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const jst = env.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const row = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    const id = String(row.io_id);
    rejected.push(id); // KIS answers 物料不存在 for this bill number: a refusal, a dead letter
    const letters = async () => (await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" })).filter((l) => String(l.sourceId) === id);
    const itemIds = (payload: unknown) => ((payload as { Entry: { FItemID: unknown }[] }).Entry ?? []).map((e) => String(e.FItemID));

    env.clock.advance(6 * 60_000);
    expect((await env.runToCompletion(KIS)).at(-1)!.counts.deadLettered).toBe(1);
    const [first] = await letters();
    expect(first).toBeDefined();

    // The material of the bill's first line is re-created in KIS (a new FItemID) and the table refreshed: the same
    // source row now maps to another payload, which KIS refuses again. That refusal is news: a letter with what was sent.
    const sku = String((template.items as Record<string, unknown>[])[0]!.sku_id);
    const references = new KvReferenceStore(env.kv);
    const table = (await references.get("kis_materials"))!;
    const remapped = table.rows.map((r) => (String(r.F_103) === sku ? { ...r, FItemID: `${String(r.FItemID)}9` } : r));
    await references.put({ ...table, rows: remapped, updatedAt: env.clock.now() });
    env.clock.advance(60_000); // read again in the 10-minute lookback
    const again = (await env.runToCompletion(KIS)).at(-1)!;
    expect(again.counts.deadLettered).toBe(1);
    const filed = await letters();
    expect(filed).toHaveLength(2);
    const payloads = filed.map((l) => itemIds(l.payload));
    expect(payloads[0]).not.toEqual(payloads[1]);
    expect(filed.map((l) => l.source)).toEqual([first!.source, first!.source]);
  });

  it("a conflict is filed once per pair of sides: read again it is skipped, edited again it is filed afresh", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 60 });
    const env = e2e;
    const range = { from: env.clock.now() - 6 * DAY_MS, to: env.clock.now() - 60_000 };
    await env.run(KIS, { range });
    const jst = env.stack.jushuitan;
    const victim = env.stack.kis.bills()[0]!.FBillNo;
    const doc = jst.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === victim)!;
    const editFirstLine = (by: number) => {
      const now = jst.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === victim)!;
      const items = (now.items as Record<string, unknown>[]).map((it, i) => (i === 0 ? { ...it, qty: Number(it.qty) + by } : it));
      jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items, modified: doc.modified });
    };
    // The source is edited and the ledger lost (engine-verify-existing): the bill under the key holds other lines.
    editFirstLine(5);
    for (const key of await env.kv.list(`ledger:${KIS}:`)) await env.kv.delete(key);
    const conflicts = async () =>
      (await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" })).filter((l) => l.externalKey === victim && l.error.code === "conflict");
    const rerun = async () => {
      env.clock.advance(60_000);
      return (await env.run(KIS, { range: { from: range.from, to: env.clock.now() } })).summary;
    };
    expect((await rerun()).counts.deadLettered).toBe(1);
    expect(await conflicts()).toHaveLength(1);
    expect((await rerun()).counts.deadLettered).toBe(0); // the same two sides: filed already
    expect(await conflicts()).toHaveLength(1);
    editFirstLine(1); // our side changes again: another conflict, filed with the sides it has now
    expect((await rerun()).counts.deadLettered).toBe(1);
    const filed = await conflicts();
    expect(filed).toHaveLength(2);
    expect(filed[0]!.payload).not.toEqual(filed[1]!.payload);
  });

  it("each ledger entry is saved once: a run of several windows appends each window's entries, not the run's so far", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    const env = e2e;
    expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const segments: string[][] = [];
    for (const key of await env.kv.list(`ledger:${KIS}:`)) {
      const value = JSON.parse((await env.kv.get(key))!) as { entries?: { k: string }[] };
      segments.push((value.entries ?? []).map((e) => e.k));
    }
    expect(segments.length).toBeGreaterThan(1); // one append per settled window
    const keys = segments.flat();
    expect(keys.length).toBeGreaterThan(segments.length);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it("a dead-letter save that fails once: the run's final flush saves the letters with their markers; the next run files nothing twice", async () => {
    const rejected: string[] = [];
    e2e = await startE2E({ otherInOut: 60, salesOut: 0, days: 2, kis: { rejectBillNos: rejected } });
    const env = e2e;
    // KIS refuses every third bill (物料不存在: a refusal, dead-lettered, not retried): a window settles written bills
    // (ledger entries) and refused ones (letters and their markers) together.
    const ids = env.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => String(d.io_id));
    rejected.push(...ids.filter((_, i) => i % 3 === 0));
    let failures = 1; // the first dead-letter put fails (a KV hiccup), the ones after it succeed
    const put = env.kv.put.bind(env.kv);
    env.kv.put = async (key, value, options) => {
      if (key.startsWith("dl:") && failures > 0) {
        failures--;
        throw new Error("KV unavailable");
      }
      return put(key, value, options);
    };
    const first = (await env.run(KIS)).summary;
    expect(first.outcome).toBe("failed");
    expect(first.counts.written).toBeGreaterThan(0);
    expect(first.counts.deadLettered).toBeGreaterThan(0);
    const letters = async () => await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" });
    expect(await letters()).toHaveLength(first.counts.deadLettered);
    env.clock.advance(10 * 60_000);
    const second = (await env.run(KIS)).summary;
    expect(second.outcome).toBe("partial"); // its own refusals are letters
    // Run 1's refused bills are read again: their markers were saved with the letters, so they are skipped.
    expect(second.counts.skipped).toBeGreaterThanOrEqual(first.counts.deadLettered);
    const filed = await letters();
    expect(filed).toHaveLength(first.counts.deadLettered + second.counts.deadLettered);
    expect(new Set(filed.map((l) => String(l.sourceId))).size).toBe(filed.length);
  });

  it("letter saves that keep failing: the bills written before are recorded all the same, the next run does not write them again", async () => {
    const rejected: string[] = [];
    e2e = await startE2E({ otherInOut: 60, salesOut: 0, days: 2, kis: { rejectBillNos: rejected, enforceUniqueBillNo: false } });
    const env = e2e;
    const ids = env.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => String(d.io_id));
    rejected.push(...ids.filter((_, i) => i % 3 === 0));
    let failing = true; // every dead-letter put of run 1 fails: the window's flush and failRun's flush
    const put = env.kv.put.bind(env.kv);
    env.kv.put = async (key, value, options) => {
      if (failing && key.startsWith("dl:")) throw new Error("KV unavailable");
      return put(key, value, options);
    };
    const first = (await env.run(KIS)).summary;
    expect(first.outcome).toBe("failed");
    expect(first.counts.written).toBeGreaterThan(0);
    failing = false;
    env.clock.advance(10 * 60_000);
    const second = (await env.run(KIS)).summary;
    expect(second.counts.alreadyExisted).toBe(0);
    const billNos = env.stack.kis.bills().map((b) => String(b.FBillNo));
    expect(billNos.length).toBe(new Set(billNos).size);
  });
});
