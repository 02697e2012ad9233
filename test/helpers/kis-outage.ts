/**
 * Set-ups the adversary 7 KIS-outage tests share (unvouched letters, withdrawn documents): KIS runs 30 minutes apart
 * on the harness's manual clock, a new 其它退货 document, and per-sku quantities of one document in KIS and in the source.
 */
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "./e2e.ts";
import { kisSignedLines } from "./signed-invariant.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

/** `n` KIS runs, each 30 minutes after the last, each run to completion. */
export async function kisRunsEvery30Min(env: E2E, n: number): Promise<void> {
  for (let run = 0; run < n; run++) {
    env.clock.advance(30 * MIN);
    await env.runToCompletion(KIS);
  }
}

/** A new Confirmed 其它退货 document (a copy of the first one, under a new io_id) arriving in Jushuitan. */
export function arriveReturnDocument(env: E2E) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.otherInOut, rest);
}

/** Signed KIS quantities per sku of every bill of the document (its own number and its -R/-C/-B corrections). */
export function kisQtyBySku(env: E2E, id: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const bill of env.stack.kis.bills()) {
    if (bill.FBillNo !== id && !bill.FBillNo.startsWith(`${id}-`)) continue;
    for (const l of kisSignedLines(bill as never)) out[l.sku] = (out[l.sku] ?? 0) + l.qty;
  }
  for (const k of Object.keys(out)) if (out[k] === 0) delete out[k];
  return out;
}

/** The document's current quantities per sku in Jushuitan. */
export function sourceQtyBySku(env: E2E, id: string): Record<string, number> {
  const doc = env.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === id)!;
  const out: Record<string, number> = {};
  for (const i of doc.items as Array<Record<string, unknown>>) out[String(i.sku_id)] = (out[String(i.sku_id)] ?? 0) + Number(i.qty);
  return out;
}
