/**
 * Adversary 7 (poison letters of a merged group's plan × a member cancelled before the replay). Real engine, real T+
 * client, emulators over loopback HTTP; the poison is the network (500 for one part's payload), as in
 * adv12-poison-part-replay.
 */
import { afterEach, describe, expect, it } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { poisonPartTwo } from "../helpers/poisoned-part.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: a member of a dead-lettered group part cancelled before the letter is replayed", () => {
  // HELD (tried by adversary 7): T+ answers 500 to one part (-2) of a merged day group for three runs while it takes
  // the others: the part is dead-lettered write_failed_repeatedly with the plan's remainder. A member whose lines all
  // stand in that unwritten part is cancelled in Jushuitan and the runs read the cancellation; then T+ takes the
  // payload again and the operator replays the open letters, as the hint says. The plan imaged its members as
  // planned, so the cancellation is corrected (-C1) against the part the replay then books: the group sums to the
  // source (also with a member split over parts -1 and -2, tried by hand).
  it("a member of a lettered part cancelled before the replay: the group sums to the source afterwards", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 240 });
    const { poison, fetch, run } = poisonPartTwo(e2e);
    for (let i = 0; i < 5; i++) {
      e2e.clock.advance(30 * 60_000);
      await run();
    }
    const store = new FlowStateStore(e2e.kv);
    const letters = await store.listDeadLetters(TPLUS);
    const letter = letters.find((l) => l.externalKey === poison.code)!;
    const parts = (letter.payload as { outbox: { parts: Array<{ externalKey: string; members: string[] }> } }).outbox.parts;
    const member = parts[0]!.members.at(-1)!;
    // The member is cancelled (saved now); the next runs read it once its day is read again (the seed reads by modified up to the start of today).
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: Number(member), status: "Cancelled" });
    e2e.clock.advance(16 * 3600_000);
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(30 * 60_000);
      await run();
    }
    poison.on = false;
    for (const l of await store.listDeadLetters(TPLUS)) {
      await replayDeadLetter({ ...e2e.ports, fetch }, l.id, { by: "test", budget: { maxSubrequests: 200 } });
    }
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(30 * 60_000);
      await run();
    }
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    const dayEnd = parseInZone("2024-06-21 00:00:00")!;
    const expected = expectedTargets(e2e, { kis: 0, tplusDayEnd: dayEnd, tplusModifiedBefore: Number.POSITIVE_INFINITY }).tplus;
    const group = poison.code!.replace(/-2$/, "");
    const signed = signedByGroup(vouchers).get(group);
    const open = (await store.listDeadLetters(TPLUS)).map((l) => [l.externalKey, l.error.code]);
    expect({ group: signed, open }).toEqual({ group: expected.get(group), open: [] });
  }, 180_000);
});

/** Per group: parts, supplements and corrections (-C<n>, negative quantities count as they are). */
function signedByGroup(vouchers: Array<{ ExternalCode: string; payload: Record<string, unknown> }>) {
  const out = new Map<string, Record<string, number>>();
  for (const v of vouchers) {
    const correction = /-(S|C)\d+(-B)?$/;
    const group = correction.test(v.ExternalCode) ? v.ExternalCode.replace(correction, "") : v.ExternalCode.replace(/-\d+$/, "");
    const sum = out.get(group) ?? {};
    for (const d of v.payload.RDRecordDetails as Array<Record<string, unknown>>) {
      const sku = String((d.Inventory as Record<string, unknown>).Code);
      sum[sku] = (sum[sku] ?? 0) + Number(d.BaseQuantity);
      if (sum[sku] === 0) delete sum[sku];
    }
    out.set(group, sum);
  }
  return out;
}
