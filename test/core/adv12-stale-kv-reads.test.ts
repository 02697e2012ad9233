/**
 * Workers KV reads may be up to ~60 s old, not only lists (https://developers.cloudflare.com/kv/concepts/how-kv-works/:
 * other locations see a change up to 60 s or more later; negative lookups are cached too). A run that starts a few
 * seconds after another, in another location, reads the checkpoint, the group registry, the outbox and the write
 * markers as they were before that run. None of that may double or lose a line: the flow index (the Worker's Durable
 * Object; MemoryFlowCoordinator is its model) holds them strongly consistent. Real engine, real T+ client, emulators;
 * KV is the hostile StaleKeyValueStore (every read by another location sees the state of 60 s ago).
 */
import { afterEach, describe, expect, it } from "vitest";
import { tplusByGroup } from "../helpers/targets.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { StaleKeyValueStore } from "../helpers/stale-kv.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

function setup(env: E2E) {
  const stale = new StaleKeyValueStore(env.kv, () => env.clock.now());
  const lock = new MemoryFlowCoordinator(env.clock);
  // Each run in its own location: it sees its own writes at once, every earlier run's only after 60 s.
  const run = (runId: string) =>
    runFlowById({ ...env.ports, kv: stale.view(runId), lock }, { flowId: TPLUS, runId, trigger: "cli", budget: { maxSubrequests: 10_000 } });
  const settle = async (from: number) => {
    for (let i = from; i < from + 40; i++) {
      env.clock.advance(30 * 60_000);
      const { summary } = await run(`r-${i}`);
      if (process.env.DEBUG_STALE)
        console.log(i, summary.outcome, JSON.stringify(summary.counts), summary.error?.message, summary.watermarkBefore, summary.watermarkAfter);
      if (!summary.continues && summary.outcome === "success") return;
    }
  };
  return { run, settle };
}

/** A sale confirmed now in the day and warehouse of `code`'s group (a late member). */
function lateMember(env: E2E, code: string) {
  const m = /^SO-(\d{4}-\d{2}-\d{2})-([^-]+)/.exec(code)!;
  const jst = env.stack.jushuitan;
  const template = jst
    .documents(JST_PATHS.salesOut)
    .find((d) => String(d.io_date).startsWith(m[1]!) && String(d.wms_co_id) === m[2] && d.shop_id === 0 && d.status === "Confirmed")!;
  expect(template).toBeDefined();
  const { io_id: _i, ts: _t, modified: _m, ...rest } = template;
  const added = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: `${m[1]} 12:00:00` });
  // The T+ seed reads by modified up to the start of today (s3-tmod): saved just before it, within the 30-min lookback.
  jst.stampModified(JST_PATHS.salesOut, added.io_id as number, parseInZone("2024-06-19 23:45:00")!);
  return `SO-${m[1]}-${m[2]}`;
}

async function expectExactlyOnce(env: E2E) {
  const vouchers = env.stack.tplus.vouchers("otherDispatch");
  expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
  const expected = expectedTargets(env, {
    kis: 0,
    tplusDayEnd: parseInZone("2024-06-20 00:00:00")!,
    tplusModifiedBefore: parseInZone("2024-06-20 00:00:00")!,
  }).tplus;
  expect(Object.fromEntries(tplusByGroup(vouchers))).toEqual(Object.fromEntries(expected));
  expect(await new FlowStateStore(env.kv).listDeadLetters(TPLUS)).toEqual([]);
}

describe("adv12: KV reads up to 60 s old (checkpoint, registry, outbox, markers)", () => {
  it("a late member found 5 s after its group was written becomes a supplement (stale registry and checkpoint reads)", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const { run, settle } = setup(e2e);
    const first = await run("r-1");
    expect(first.summary.outcome).toBe("success");
    // A group of the last closed day: the next runs read that day again (the flow's lookback).
    const lastDay = e2e.stack.tplus.vouchers("otherDispatch").find((v) => v.ExternalCode.startsWith("SO-2024-06-19-"));
    expect(lastDay).toBeDefined();
    const group = lateMember(e2e, lastDay!.ExternalCode);

    e2e.clock.advance(5_000);
    await run("r-2");
    await settle(3);
    await expectExactlyOnce(e2e);
    expect(e2e.stack.tplus.vouchers("otherDispatch").some((v) => v.ExternalCode.startsWith(`${group}-S1`) || v.ExternalCode === `${group}-S1`)).toBe(true);
  }, 180_000);

  it("a run 5 s after one that stopped between a group's parts resumes the stored plan (stale outbox, ledger and checkpoint reads)", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
    flow.operation.maxLines = 3;
    const { run, settle } = setup(e2e);
    e2e.stack.tplus.addFaults([{ kind: "http5xx", path: "otherDispatch/Create", skip: 1, times: 6 }]);
    await run("r-1");
    const first = e2e.stack.tplus.vouchers("otherDispatch");
    expect(first.length).toBeGreaterThanOrEqual(1);
    lateMember(e2e, first[0]!.ExternalCode);
    e2e.stack.tplus.clearFaults();
    e2e.clock.advance(5_000);
    await run("r-2");
    await settle(3);
    await expectExactlyOnce(e2e);
  }, 180_000);
});
