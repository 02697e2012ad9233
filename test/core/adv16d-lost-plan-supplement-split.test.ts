/**
 * Adversary 16d: a supplement of a written merged group split in two parts (`<group>-S1-1`, `-S1-2`); the first is
 * written, the second set aside, the plan lost (adversary 12: a reset flow index), and the member only the second
 * part held is cancelled. The next run rebuilds the supplement from the late member left: one part, keyed `<group>-S1`
 * (the other maxLines split), which the ledger does not hold. An original (S0) is first checked under the other split
 * (verify-existing.ts probeOtherSplit); a supplement must be too, or its lines are booked a second time.
 * Real engine, state store and emulators; explicit clock (E2E_START).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
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

describe("a supplement split in two, its plan lost after the first part, the second part's member cancelled", () => {
  it("the late member left is booked once (or lettered), never twice", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const env = e2e;
    const flow = env.flows[TPLUS]!;
    if (flow.operation?.type === "merge") flow.operation.maxLines = 4;
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = env.stack.jushuitan;
    const members = jst
      .documents(JST_PATHS.salesOut)
      .filter((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-15") && String(d.wms_co_id) === "10817");
    const used = new Set(members.flatMap((d) => (d.items as Row[]).map((i) => String(i.sku_id))));
    const free = SKUS.map((s) => s.skuId).filter((s) => !used.has(s));
    const { io_id: _i, ts: _t, modified: _m, items, ...rest } = members[0]!;
    const item = (items as Row[])[0]!;
    // Two late members: four lines and one (maxLines 4: S1-1 holds the first's, S1-2 the second's).
    const lines = (skus: string[]) => skus.map((sku) => ({ ...item, sku_id: sku, qty: 2 }));
    const kept = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: "2024-06-15 12:00:00", items: lines(free.slice(0, 4)) });
    const gone = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: "2024-06-15 12:00:00", items: lines(free.slice(4, 5)) });
    env.clock.advance(86_400_000);
    env.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", skip: 1, times: 1000 }]);
    await env.runToCompletion(TPLUS);
    env.stack.tplus.clearFaults();
    const codes = () =>
      env.stack.tplus
        .vouchers("otherDispatch")
        .map((v) => v.ExternalCode)
        .filter((c) => c.startsWith(`${LOST}-S`));
    expect(codes()).toEqual([`${LOST}-S1-1`]);
    const plans = (await env.kv.list("outbox:")).filter((k) => k.includes(encodeURIComponent(`${LOST}#`)));
    expect(plans).toEqual([`outbox:${TPLUS}:${encodeURIComponent(`${LOST}#S1`)}`]);
    await env.kv.delete(plans[0]!);
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: gone.io_id, status: "Cancelled" });
    env.clock.advance(86_400_000);
    await env.runToCompletion(TPLUS);
    const target = nonZero(tplusByGroup(env.stack.tplus.vouchers("otherDispatch")).get(LOST));
    const source = nonZero(expectedTplus(jst.documents(JST_PATHS.salesOut), 0, Infinity).get(LOST));
    if (JSON.stringify(target) === JSON.stringify(source)) return;
    const letters = await new FlowStateStore(env.kv).listDeadLetters(TPLUS);
    // Not booked exactly: a letter must hold the late member left, and no SKU holds more than the source.
    expect(letters.some((l) => JSON.stringify(l.source).includes(`"io_id":${String(kept.io_id)}`))).toBe(true);
    for (const [sku, qty] of Object.entries(target)) expect(qty, sku).toBeLessThanOrEqual(source[sku] ?? 0);
  });
});
