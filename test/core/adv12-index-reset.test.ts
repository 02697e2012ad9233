/**
 * Adversary 12 (second pass): the flow index (the Worker's Durable Object) is reset (FlowLock.forgetIndex, a lost or
 * re-created object) while the flow's KV state stays intact. The open merge plan lived only in the index, the KV
 * checkpoint is a view without the cursor, the write markers are gone. Scenario: a run stops between the parts of a
 * merged group (part 1 written and in the KV ledger, part 2 set aside), a late member of that group arrives, the index
 * is reset, the next run rebuilds the group as a new original (no plan, no registry entry): the rebuilt part 1 holds
 * the late member's lines but its key is in the ledger, part 2 is written. MemoryFlowCoordinator is the index's
 * in-memory model; forgetting its flow entry is what forgetIndex does to the four idx_* tables.
 * Real engine, real T+ client, emulators.
 */
import { afterEach, describe, expect, it } from "vitest";
import { tplusByGroup } from "../helpers/targets.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { parseInZone } from "../../shared/util/time.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** FlowLock.forgetIndex on the in-memory model: the flow's checkpoint, registry, plans and markers are gone. */
function forgetIndex(lock: MemoryFlowCoordinator, flowId: string) {
  (lock as unknown as { indexes: Map<string, unknown> }).indexes.delete(flowId);
}

async function scenario(env: E2E) {
  const flow = env.flows[TPLUS]!;
  if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
  flow.operation.maxLines = 3;
  const lock = new MemoryFlowCoordinator(env.clock);
  const run = (runId: string) => runFlowById({ ...env.ports, lock }, { flowId: TPLUS, runId, trigger: "cli", budget: { maxSubrequests: 10_000 } });

  // Run 1: the first part of the first group is written, then T+ answers 500 to the next six creates (part 2 set aside).
  env.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", skip: 1, times: 6 }]);
  await run("r-1");
  const first = env.stack.tplus.vouchers("otherDispatch");
  expect(first.length).toBeGreaterThanOrEqual(1);
  const code = first[0]!.ExternalCode;
  const m = /^SO-(\d{4}-\d{2}-\d{2})-(.+)-1$/.exec(code)!;
  expect(m).not.toBeNull();
  // A late member of that group, with lines of the written part's first SKU (the rebuilt part 1 differs).
  const jst = env.stack.jushuitan;
  const sku = String(((first[0]!.payload.RDRecordDetails as Array<Record<string, unknown>>)[0]!.Inventory as Record<string, unknown>).Code);
  const template = jst
    .documents(JST_PATHS.salesOut)
    .find(
      (d) =>
        String(d.io_date).startsWith(m[1]!) &&
        String(d.wms_co_id) === m[2] &&
        d.shop_id === 0 &&
        d.status === "Confirmed" &&
        (d.items as Array<Record<string, unknown>>).some((i) => String(i.sku_id) === sku),
    )!;
  expect(template).toBeDefined();
  const { io_id: _i, ts: _t, modified: _m, ...rest } = template;
  const added = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: `${m[1]} 12:00:00` });
  jst.stampModified(JST_PATHS.salesOut, added.io_id as number, parseInZone("2024-06-19 23:00:00")!);

  env.stack.tplus.clearFaults();
  env.clock.advance(5 * 60_000);
  forgetIndex(lock, TPLUS); // KV (ledger, dead letters, checkpoint view) stays as it is
  for (let i = 2; i < 40; i++) {
    env.clock.advance(30 * 60_000);
    const { summary } = await run(`r-${i}`);
    if (!summary.continues && summary.outcome === "success") break;
  }
  const vouchers = env.stack.tplus.vouchers("otherDispatch");
  expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
  const expected = expectedTargets(env, {
    kis: 0,
    tplusDayEnd: parseInZone("2024-06-20 00:00:00")!,
    tplusModifiedBefore: parseInZone("2024-06-20 00:00:00")!,
  }).tplus;
  const group = code.replace(/-1$/, "");
  const letters = await new FlowStateStore(env.kv).listDeadLetters(TPLUS);
  return { actual: tplusByGroup(vouchers), expected, group, lateId: String(added.io_id), letters };
}

describe("adv12: flow index reset with KV intact", () => {
  it("a late member of a group rebuilt after the reset is never dropped silently (in the target, or in a dead letter with its rows)", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const { actual, expected, group, lateId, letters } = await scenario(e2e);
    const booked = JSON.stringify(actual.get(group)) === JSON.stringify(expected.get(group));
    const lettered = letters.some(
      (l) => JSON.stringify(l.source ?? null).includes(`"io_id":${lateId}`) || JSON.stringify(l.source ?? null).includes(`"io_id":"${lateId}"`),
    );
    expect({ booked, lettered }).not.toEqual({ booked: false, lettered: false });
    // Nothing booked twice either: no SKU of the group holds more in the target than its members have.
    const want = expected.get(group)!;
    for (const [sku, qty] of Object.entries(actual.get(group) ?? {})) expect(qty).toBeLessThanOrEqual(want[sku] ?? 0);
    // Every other group is booked exactly.
    for (const [key, sums] of expected) if (key !== group) expect(actual.get(key)).toEqual(sums);
  }, 180_000);

  // KNOWN LIMITATION (adversary 12): the open merge plan lives only in the flow index (indexed-state.ts puts it there,
  // not in KV). After forgetIndex with KV intact, a group stopped between its parts is rebuilt as a new original with
  // its late members; its written part 1 (in the KV ledger) no longer matches the rebuild, so the late member's lines
  // cannot be booked automatically: the rebuilt part is dead-lettered (changed_after_write) for an operator instead.
  // Exact booking would need the plan (or its member list) to survive the reset, e.g. in the written part's ledger entry.
  it.fails("a late member of a group rebuilt after the reset is booked exactly once without an operator", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const { actual, expected, group } = await scenario(e2e);
    expect(actual.get(group)).toEqual(expected.get(group));
  }, 180_000);
});
