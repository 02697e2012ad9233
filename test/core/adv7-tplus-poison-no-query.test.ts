/**
 * Adversary 7 (poison.ts counting on a T+ account without voucher queries). Real engine, real T+ client, emulators
 * over loopback HTTP; the poison is the network (T+ answers 500 to one voucher's payload every time).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";
const HOUR = 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Answers true when this request (T+ URL, body) should get a 500. */
type Poison = (url: string, body: string | undefined) => boolean;

/**
 * A T+ account without FindVoucherList: every document is written, then a late member of a written day arrives (its
 * supplement <group>-S1 is the only create the flow has). Returns the run function; `fail` is asked for every request
 * once the late member is in the source.
 */
async function writtenThenLateMember(env: E2E, fail: Poison) {
  let armed = false;
  const fetch: FetchLike = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (armed && fail(url, typeof init?.body === "string" ? init.body : undefined)) return new Response("Internal Server Error", { status: 500 });
    return globalThis.fetch(input, init);
  };
  let n = 0;
  const run = () => runFlowById({ ...env.ports, fetch }, { flowId: TPLUS, runId: `r-${++n}`, trigger: "cli", budget: { maxSubrequests: 10_000 } });
  for (let i = 0; i < 3; i++) {
    env.clock.advance(HOUR);
    await run();
  }
  env.clock.advance(16 * HOUR); // the next day: every document saved late so far is written
  for (let i = 0; i < 2; i++) {
    env.clock.advance(HOUR);
    await run();
  }
  const jst = env.stack.jushuitan;
  const template = jst
    .documents(JST_PATHS.salesOut)
    .find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-18"))!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  jst.upsertDocument(JST_PATHS.salesOut, rest);
  armed = true; // the next supplement created is this member's
  env.clock.advance(24 * HOUR); // the next day: the late member is read
  return run;
}

describe("adv7: a poison supplement on a T+ account without FindVoucherList", () => {
  // Scenario: T+ account without FindVoucherList (tplus-write / doctor tests: such accounts exist; the client falls
  // back to T+'s duplicate check, and probe() answers false: "no such read"). Everything is written; then a late
  // member of a written day arrives, so its supplement <group>-S1 is the only create the flow has, and T+ answers 500
  // to that payload every time (a poison document; T+ itself is up).
  // Expected (poison.ts, chaos seed 9147): the supplement is dead-lettered after MAX_FAILED_RUNS runs and the flow
  // moves on (watermark no longer held), or at least a letter says why it waits.
  // Was (before the fix): the supplement counted once (a fresh document's failure counts with no read), then from the
  // second run on it was "tried before", no create was seen and probe() answered "none", so it was never counted
  // again: every run ended "failed: the target took no document in this run (1 set aside)", the watermark was held
  // for good and no letter was filed. Fixed: on such an account the probe reads a one-row archive (warehouse/Query,
  // operations.ts probe), so "T+ answers" is known and the poison counts; a full outage fails that read too and
  // counts for nobody (the next test).
  it("FINDING adv7-tplus-poison-no-query: a poison supplement alone is dead-lettered after MAX_FAILED_RUNS runs; the watermark moves on", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120, tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
    let failed = 0;
    let poisonCode: string | undefined;
    const poison: Poison = (url, body) => {
      if (!/otherDispatch\/Create/.test(url) || body === undefined) return false;
      const code = /"ExternalCode"\s*:\s*"([^"]+-S\d+)"/.exec(decodeURIComponent(body))?.[1];
      if (code && poisonCode === undefined) poisonCode = code;
      if (code === undefined || code !== poisonCode) return false;
      failed++;
      return true;
    };
    const run = await writtenThenLateMember(e2e, poison);
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      e2e.clock.advance(HOUR / 2);
      const s = (await run()).summary;
      outcomes.push(s.outcome);
    }
    const store = new FlowStateStore(e2e.kv);
    const letters = (await store.listDeadLetters(TPLUS)).map((l) => [String(l.externalKey).replace(/^SO-[\d-]+-/, "G-"), l.error.code]);
    const last = (await store.listRuns(TPLUS, 1))[0] as unknown as { watermarkHeld?: string };
    expect(failed).toBeGreaterThan(0);
    expect({ letters, held: last.watermarkHeld, last: outcomes.at(-1) }).toEqual({
      letters: [["G-S1", "write_failed_repeatedly"]],
      held: undefined,
      last: "success",
    });
  }, 180_000);

  it("a full T+ outage on such an account letters nothing healthy: the probe's archive read fails too, nothing counts", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120, tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
    const tplus = e2e.ports.env.TPLUS_BASE_URL!;
    let down = true;
    let refused = 0;
    const run = await writtenThenLateMember(e2e, (url) => {
      // The gateway still answers that the account has no FindVoucherList (the emulator's refusal): what tells this
      // outage from "T+ answers" is the probe's archive read, which fails like every other T+ service.
      if (!down || !url.startsWith(tplus) || /FindVoucherList/.test(url)) return false;
      refused++;
      return true;
    });
    const supplements = () =>
      e2e!.stack.tplus
        .vouchers("otherDispatch")
        .map((v) => String(v.ExternalCode))
        .filter((c) => /-S\d+$/.test(c));
    const before = supplements();
    const store = new FlowStateStore(e2e.kv);
    const attempts: number[] = [];
    for (let i = 0; i < 6; i++) {
      e2e.clock.advance(HOUR / 2);
      const s = (await run()).summary;
      attempts.push(...(s.setAside ?? []).map((d) => d.attempts));
    }
    expect(refused).toBeGreaterThan(0);
    expect({ letters: await store.listDeadLetters(TPLUS), attempts: [...new Set(attempts)] }).toEqual({ letters: [], attempts: [0] });
    down = false; // T+ is back: the supplement is written, no letter
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(HOUR / 2);
      await run();
    }
    const after = supplements();
    expect({ letters: await store.listDeadLetters(TPLUS), added: after.length - before.length, distinct: new Set(after).size }).toEqual({
      letters: [],
      added: 1,
      distinct: after.length,
    });
  }, 180_000);
});
