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

describe("adv7: a poison supplement on a T+ account without FindVoucherList", () => {
  // Scenario: T+ account without FindVoucherList (tplus-write / doctor tests: such accounts exist; the client falls
  // back to T+'s duplicate check, and probe() answers false: "no such read"). Everything is written; then a late
  // member of a written day arrives, so its supplement <group>-S1 is the only create the flow has, and T+ answers 500
  // to that payload every time (a poison document; T+ itself is up).
  // Expected (poison.ts, chaos seed 9147): the supplement is dead-lettered after MAX_FAILED_RUNS runs and the flow
  // moves on (watermark no longer held), or at least a letter says why it waits.
  // Actual: the supplement counts once (a fresh document's failure counts with no read, poison.ts counts (c)); from the
  // second run on it is "tried before", no create is seen (nothing else to write) and probe() answers "none", so
  // counts() never counts it again: attempts stay 1, every run ends "failed: the target took no document in this run
  // (1 set aside)" (an outage that is not there), the watermark is held for good (every run re-reads from the day it
  // came from), and no letter is ever filed. The chaos seed 9147 fix (a failure counts when the known-good read
  // answers) needs that read; a T+ account without FindVoucherList has none. Not fixed: counting a retried failure
  // with no read would letter healthy documents in a full outage of 1–2 documents (their unvouched letters would be
  // retried for a day, unvouched-retry.ts) — a policy choice for the maintainers.
  it.fails("FINDING adv7-tplus-poison-no-query: a poison supplement alone is dead-lettered after MAX_FAILED_RUNS runs; the watermark moves on", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120, tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
    let poisoned = false;
    let failed = 0;
    let poisonCode: string | undefined;
    const fetch: FetchLike = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (poisoned && /otherDispatch\/Create/.test(url) && typeof init?.body === "string") {
        const code = /"ExternalCode"\s*:\s*"([^"]+-S\d+)"/.exec(decodeURIComponent(init.body))?.[1];
        if (code && poisonCode === undefined) poisonCode = code;
        if (code !== undefined && code === poisonCode) {
          failed++;
          return new Response("Internal Server Error", { status: 500 });
        }
      }
      return globalThis.fetch(input, init);
    };
    let n = 0;
    const run = () => runFlowById({ ...e2e!.ports, fetch }, { flowId: TPLUS, runId: `r-${++n}`, trigger: "cli", budget: { maxSubrequests: 10_000 } });
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(HOUR);
      await run();
    }
    e2e.clock.advance(16 * HOUR); // the next day: every document saved late so far is written
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(HOUR);
      await run();
    }
    const jst = e2e.stack.jushuitan;
    const template = jst
      .documents(JST_PATHS.salesOut)
      .find((d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-18"))!;
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    jst.upsertDocument(JST_PATHS.salesOut, rest);
    poisoned = true; // the next supplement created is this member's
    e2e.clock.advance(24 * HOUR); // the next day: the late member is read
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
});
