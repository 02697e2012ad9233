/**
 * Adversary 16d: a merged group's plan is lost with its last part set aside; before the next run, the members that
 * alone fed the last parts are cancelled. The rebuild has fewer parts, all as written (the ledger decides), so
 * nothing compares the target's part that only the cancelled member fed: it stays booked unless the member is
 * reversed (a correction <group>-C<n>). The promise: T+'s quantities per day + warehouse equal the source's current
 * Confirmed ones. Real engine, state store and emulators; explicit clock (E2E_START).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { SKUS } from "../emulators/catalog.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedTplus, tplusByGroup } from "../helpers/targets.ts";

const TPLUS = "jst-sales-out-to-tplus";
const LOST = "SO-2024-06-15-10817";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const nonZero = (q: Record<string, number> | undefined) => Object.fromEntries(Object.entries(q ?? {}).filter(([, v]) => Math.abs(v) > 1e-9));
const lostCodes = (env: E2E) =>
  env.stack.tplus
    .vouchers("otherDispatch")
    .map((v) => v.ExternalCode)
    .filter((c) => c.startsWith(`${LOST}-`));

/** The scenario; returns T+'s and the source's quantities of LOST, the cancelled members' ids and the flow's open letters. */
async function scenario() {
  e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
  const env = e2e;
  const flow = env.flows[TPLUS]!;
  if (flow.operation?.type === "merge") flow.operation.maxLines = 1; // one part per sku
  flow.source.params = { ...flow.source.params, date_type: 0 };
  flow.source.timeField = "modified";
  const jst = env.stack.jushuitan;
  const members = jst
    .documents(JST_PATHS.salesOut)
    .filter((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-15") && String(d.wms_co_id) === "10817");
  const used = new Set(members.flatMap((d) => (d.items as Row[]).map((i) => String(i.sku_id))));
  const [skuX, skuY] = SKUS.map((s) => s.skuId).filter((s) => !used.has(s));
  const { io_id: _i, ts: _t, modified: _m, items, ...rest } = members[0]!;
  const item = (items as Row[])[0]!;
  const late = [skuX!, skuY!].map((sku) => {
    const doc = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: "2024-06-15 12:00:00", items: [{ ...item, sku_id: sku, qty: 2 }] });
    jst.stampModified(JST_PATHS.salesOut, doc.io_id as number, parseInZone("2024-06-15 13:00:00")!);
    return doc;
  });
  const parts = used.size + 2;
  // The first invocation writes part 1 and stops on its budget; T+ then answers 500 from the last part on: the run
  // ends with the last part set aside, the plan open.
  expect((await env.run(TPLUS, { budget: { maxSubrequests: 10 } })).summary.continues).toBe(true);
  expect(lostCodes(env)).toEqual([`${LOST}-1`]);
  env.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", skip: parts - 2, times: 1000 }]);
  await env.runToCompletion(TPLUS);
  env.stack.tplus.clearFaults();
  expect(lostCodes(env).length).toBe(parts - 1);
  const plans = (await env.kv.list("outbox:")).filter((k) => k.includes(encodeURIComponent(`${LOST}#`)));
  expect(plans).toEqual([`outbox:${TPLUS}:${encodeURIComponent(`${LOST}#S0`)}`]);
  await env.kv.delete(plans[0]!); // the plan is lost (adversary 12: a reset flow index)
  for (const doc of late) jst.upsertDocument(JST_PATHS.salesOut, { io_id: doc.io_id, status: "Cancelled" });
  env.clock.advance(86_400_000);
  expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).not.toBe("failed");
  const target = nonZero(tplusByGroup(env.stack.tplus.vouchers("otherDispatch")).get(LOST));
  const source = nonZero(expectedTplus(jst.documents(JST_PATHS.salesOut), 0, Infinity).get(LOST));
  const letters = await new FlowStateStore(env.kv).listDeadLetters(TPLUS);
  return { target, source, cancelled: late.map((d) => String(d.io_id)), letters, parts };
}

describe("a merged group whose plan is lost with its last part set aside, the last parts' members cancelled", () => {
  it("the part only a cancelled member fed is never kept silently: T+ equals the source, or a letter names it", async () => {
    const { target, source, cancelled, letters, parts } = await scenario();
    if (JSON.stringify(target) === JSON.stringify(source)) return;
    // On the old code the rebuild (parts 1 … n-2, all as written) was taken as the whole group: no letter, no correction.
    const letter = letters.find((l) => l.externalKey === `${LOST}-${parts - 1}`);
    expect(letter?.error.code).toBe("changed_after_write");
    expect(letter?.sourceId).toBe(cancelled[0]);
    expect(letter?.error.message).toContain(`rebuilds without it, to ${parts - 2} part(s)`);
  });

  // KNOWN LIMITATION (adversary 16d): the plan held the only before-image of the cancelled member (images are written
  // when a plan closes); without it nothing says which lines the orphaned part booked for it, so the reversal is left
  // to the operator (the letter above). Exact automatic reversal would need the member's image written with the part.
  it.fails("the part only a cancelled member fed is reversed without an operator", async () => {
    const { target, source } = await scenario();
    expect(target).toEqual(source);
  });
});
