/**
 * Adversary 16d: a merged group's open outbox plan is lost between its parts (adversary 12: a lost or unlisted plan)
 * and a late member changes the written part 1: the rebuild is one `changed_after_write` letter with the unit's parts
 * (outbox-writer.ts lostPlan), and the group's registry settles every member, like a conflict plan's. Members edited or
 * cancelled afterwards must be corrected against what the letter holds, so that once the operator voids the target's
 * part 1 and replays the letter, letter + corrections equal the source (as changes-conflict-group for a conflict).
 * Real engine, state store, clients and emulators; explicit clock (E2E_START).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { tplusSource } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Part 1 of the first group written, part 2 set aside (T+ answers 500), the plan lost, a late member with part 1's first SKU. */
async function lostPlanLetter(env: E2E) {
  const flow = env.flows[TPLUS]!;
  if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
  flow.operation.maxLines = 3;
  env.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", skip: 1, times: 6 }]);
  await env.run(TPLUS, { budget: { maxSubrequests: 10_000 } });
  const first = env.stack.tplus.vouchers("otherDispatch")[0]!;
  const [, day, wms] = /^SO-(\d{4}-\d{2}-\d{2})-(.+)-1$/.exec(first.ExternalCode)!;
  const group = `SO-${day}-${wms}`;
  const plans = (await env.kv.list("outbox:")).filter((k) => k.includes(encodeURIComponent(`${group}#`)));
  expect(plans.length).toBe(1);
  await env.kv.delete(plans[0]!);
  const jst = env.stack.jushuitan;
  const sku = String(((first.payload.RDRecordDetails as Row[])[0]!.Inventory as Row).Code);
  const members = jst
    .documents(JST_PATHS.salesOut)
    .filter((d) => String(d.io_date).startsWith(day!) && String(d.wms_co_id) === wms && d.shop_id === 0 && d.status === "Confirmed");
  const template = members.find((d) => (d.items as Row[]).some((i) => String(i.sku_id) === sku))!;
  const { io_id: _i, ts: _t, modified: _m, ...rest } = template;
  const added = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: `${day} 12:00:00` });
  jst.stampModified(JST_PATHS.salesOut, added.io_id as number, parseInZone("2024-06-19 23:00:00")!);
  env.stack.tplus.clearFaults();
  env.clock.advance(5 * 60_000);
  await env.runToCompletion(TPLUS);
  const letter = (await new FlowStateStore(env.kv).listDeadLetters(TPLUS)).find((l) => l.externalKey === `${group}-1`);
  expect(letter?.error.code).toBe("changed_after_write");
  return { group, members, letter: letter! };
}

describe("a merged group lettered because its plan was lost, its members edited afterwards", () => {
  it("members cancelled or edited after the letter are corrected against it: voiding part 1 and replaying gives the source", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const env = e2e;
    const { group, members, letter } = await lostPlanLetter(env);
    const [edited, cancelled] = [members[0]!, members[1]!];
    const items = structuredClone(edited.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    env.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: edited.io_id, items });
    env.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: cancelled.io_id, status: "Cancelled" });
    env.clock.advance(DAY);
    await env.runToCompletion(TPLUS);
    // The operator voids the target's part 1 (written before the late member) and replays the letter.
    expect(env.stack.tplus.removeVoucher("otherDispatch", `${group}-1`)).toBe(true);
    const replayed = await replayDeadLetter(env.ports, letter.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replayed.replayed, JSON.stringify(replayed)).toBe(true);
    env.clock.advance(DAY);
    await env.runToCompletion(TPLUS);
    assertSignedInvariant(tplusSource(env), tplusTotals(env.stack.tplus.vouchers("otherDispatch")), "after the letter was replayed");
  });
});
