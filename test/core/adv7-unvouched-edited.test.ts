/**
 * Unvouched letters (unvouched-retry.ts) are retried after the run's read: a bill lettered by a create-only outage and
 * edited before KIS takes creates again is written once, with its current content. Real engine, real KIS client, KIS
 * and Jushuitan emulators over loopback HTTP, a manual clock (runs 30 min apart).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisSignedLines } from "../helpers/signed-invariant.ts";
import { kisRunsEvery30Min as runs } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Signed quantities per sku: of a KIS bill, of the source document's items. */
function perSku(lines: Array<{ sku: string; qty: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) out[l.sku] = (out[l.sku] ?? 0) + l.qty;
  return out;
}

describe("unvouched letter of a bill edited before KIS takes creates again", () => {
  // Before: the retry replayed the letter's stored rows before the run read the source, so the stale content was
  // booked first and the run then corrected it (a reversal and a rebooking: three bills for one document).
  it("the run writes the current content once; the stale letter is resolved, not replayed", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const doc = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    await runs(e2e, 3);
    const open = async () => (await store.listDeadLetters(KIS)).map((l) => [l.externalKey, l.error.code]);
    expect(await open()).toEqual([[id, "write_failed_repeatedly"]]);
    const items = structuredClone(doc.items as Array<Record<string, unknown>>);
    items[0]!.qty = Number(items[0]!.qty) + 5;
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    e2e.stack.kis.clearFaults();
    await runs(e2e, 2);
    const bills = e2e.stack.kis.bills().filter((b) => b.FBillNo === id || b.FBillNo.startsWith(`${id}-`));
    const source = perSku(items.map((i) => ({ sku: String(i.sku_id), qty: Number(i.qty) })));
    expect({ bills: bills.map((b) => b.FBillNo), open: await open() }).toEqual({ bills: [id], open: [] });
    expect(perSku(kisSignedLines(bills[0] as never))).toEqual(source);
  }, 120_000);
});
