/**
 * A merged group's dead letter that holds only a part's payload (filed before the outbox remainder rule): its
 * members are in the group registry, so rebuilding it writes nothing. Replay must not resolve it as if it were
 * done (adv12 finding 3). Real engine, real T+ client, emulators.
 */
import { afterEach, describe, expect, it } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("replay of a merged letter that would write nothing", () => {
  it("is refused and the letter stays open", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    await e2e.runToCompletion(TPLUS);
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    expect(vouchers.length).toBeGreaterThan(0);
    const written = vouchers[0]!;
    const store = new FlowStateStore(e2e.kv);
    const members = (await store.ledgerView(TPLUS))(written.ExternalCode)?.members ?? [];
    expect(members.length).toBeGreaterThan(0);
    const rows = e2e.stack.jushuitan.documents(JST_PATHS.salesOut).filter((d) => members.includes(String(d.io_id)));
    const [letter] = await store.addDeadLetters(TPLUS, [
      {
        runId: "r-old",
        externalKey: written.ExternalCode,
        source: rows,
        payload: written.payload,
        error: { code: "write_failed_repeatedly", message: "old letter" },
      },
    ]);
    const before = vouchers.length;
    const replay = await replayDeadLetter(e2e.ports, letter!.id, { by: "test", budget: { maxSubrequests: 200 } });
    expect(replay.error?.code).toBe("replay_impossible");
    expect(replay.replayed).toBe(false);
    expect((await store.getDeadLetter(letter!.id))?.resolved).toBeUndefined();
    expect(e2e.stack.tplus.vouchers("otherDispatch")).toHaveLength(before);
  }, 120_000);
});
