/**
 * Adversarial review of issue 12 (poison documents × merge outbox × dead-letter replay): a part of a merged T+ group
 * that T+ always answers 500 for is dead-lettered after MAX_FAILED_RUNS; once T+ takes it, replaying the open dead
 * letters must book every line of the group exactly once. Real engine, real T+ client, emulators; the poison is the
 * network (500 for one payload), like the KIS emulator's poisonBillNos.
 */
import { afterEach, describe, expect, it } from "vitest";
import { tplusByGroup } from "../helpers/targets.ts";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { poisonPartTwo } from "../helpers/poisoned-part.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv12: a poisoned part of a merged group, dead-lettered, then replayed", () => {
  it("replaying the open dead letters after the cause is fixed books every line of the group once", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const { poison, fetch, run } = poisonPartTwo(e2e);
    for (let i = 0; i < 5; i++) {
      e2e.clock.advance(30 * 60_000);
      await run();
    }
    expect(poison.code).toMatch(/-2$/);
    const store = new FlowStateStore(e2e.kv);
    const letters = await store.listDeadLetters(TPLUS);
    expect(letters.length).toBeGreaterThan(0);

    // T+ takes the payload now; the operator replays every open dead letter.
    poison.on = false;
    for (const letter of letters) {
      const replay = await replayDeadLetter({ ...e2e.ports, fetch }, letter.id, { by: "test", budget: { maxSubrequests: 200 } });
      expect(replay.error).toBeUndefined();
    }
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
    expect(vouchers.map((v) => v.ExternalCode)).toContain(poison.code);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTargets(e2e, {
      kis: 0,
      tplusDayEnd: parseInZone("2024-06-20 00:00:00")!,
      tplusModifiedBefore: parseInZone("2024-06-20 00:00:00")!,
    }).tplus;
    const group = poison.code!.replace(/-2$/, "");
    expect(tplusByGroup(vouchers).get(group)).toEqual(expected.get(group));
  }, 180_000);
});
