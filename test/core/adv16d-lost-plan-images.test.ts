/**
 * Adversary 16d: a merged group whose open outbox plan is lost after its first part (a lost or unlisted plan,
 * adversary 12; the plan held the members' before-images, written only when the plan closes). The next invocations
 * meet the first part in the ledger unchanged (document-writer.ts rememberGroupMembers) and register its members in
 * the group's registry. Then members of the group are cancelled or edited in Jushuitan: every change must reach T+
 * as a group correction (<group>-C<n>), so the target's quantities per day + warehouse equal the source's current
 * Confirmed ones. Real engine, state store and emulators; explicit clock (E2E_START).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
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

/** maxLines 2; the run stops by its budget after LOST-1, whose plan is then deleted; the flow caught up since. */
async function lostPlanCaughtUp(): Promise<{ env: E2E; members: Row[] }> {
  e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
  const env = e2e;
  const flow = env.flows[TPLUS]!;
  if (flow.operation?.type === "merge") flow.operation.maxLines = 2;
  flow.source.params = { ...flow.source.params, date_type: 0 };
  flow.source.timeField = "modified";
  const jst = env.stack.jushuitan;
  const members = jst
    .documents(JST_PATHS.salesOut)
    .filter((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-15") && String(d.wms_co_id) === "10817");
  const first = await env.run(TPLUS, { budget: { maxSubrequests: 10 } });
  expect(first.summary.continues).toBe(true);
  const plans = await env.kv.list("outbox:");
  expect(plans).toEqual([`outbox:${TPLUS}:${encodeURIComponent(`${LOST}#S0`)}`]);
  await env.kv.delete(plans[0]!);
  expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
  return { env, members };
}

/** LOST's quantities in T+ (every part and correction) and in the source (Confirmed members), non-zero SKUs only. */
function lostTotals(env: E2E) {
  const nonZero = (q: Record<string, number> | undefined) => Object.fromEntries(Object.entries(q ?? {}).filter(([, v]) => Math.abs(v) > 1e-9));
  const target = nonZero(tplusByGroup(env.stack.tplus.vouchers("otherDispatch")).get(LOST));
  const source = nonZero(expectedTplus(env.stack.jushuitan.documents(JST_PATHS.salesOut), 0, Infinity).get(LOST));
  return { target, source };
}

/** The members only the first part holds (their images came from the lost plan alone). */
async function firstPartOnly(env: E2E): Promise<string[]> {
  const keys = [1, 2, 3, 4, 5, 6].map((n) => `${LOST}-${n}`);
  const ledger = await new FlowStateStore(env.kv).ledgerLookup(TPLUS, keys);
  const first = ledger.get(`${LOST}-1`)?.members ?? [];
  const later = new Set(keys.slice(1).flatMap((k) => ledger.get(k)?.members ?? []));
  return first.filter((m) => !later.has(m));
}

describe("a merged group whose open plan (and its before-images) was lost after its first part", () => {
  it("a member only the first part holds, cancelled later, is reversed in T+", async () => {
    const { env } = await lostPlanCaughtUp();
    expect(lostTotals(env).target).toEqual(lostTotals(env).source);
    const only = await firstPartOnly(env);
    expect(only.length).toBeGreaterThan(0);
    const jst = env.stack.jushuitan;
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: Number(only[0]), status: "Cancelled" });
    env.clock.advance(86_400_000);
    const last = (await env.runToCompletion(TPLUS)).at(-1)!;
    expect(last.outcome).toBe("success");
    const { target, source } = lostTotals(env);
    expect(target).toEqual(source);
  });

  it("a member only the first part holds, edited later (a line's quantity), is corrected in T+", async () => {
    const { env } = await lostPlanCaughtUp();
    const only = await firstPartOnly(env);
    const jst = env.stack.jushuitan;
    const row = jst.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === only[0])!;
    const items = (row.items as Row[]).map((it, i) => (i === 0 ? { ...it, qty: Number(it.qty) + 3 } : it));
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: row.io_id, items });
    env.clock.advance(86_400_000);
    const last = (await env.runToCompletion(TPLUS)).at(-1)!;
    expect(last.outcome).toBe("success");
    const { target, source } = lostTotals(env);
    expect(target).toEqual(source);
  });
});
