/**
 * Adversary 7 (unvouched-retry.ts): a create-only KIS outage long enough to letter two corrections of one posted bill.
 * Real engine, real KIS client, KIS and Jushuitan emulators over loopback HTTP, a manual clock (runs 30 min apart).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisRunsEvery30Min as runs, arriveReturnDocument as arrive, kisQtyBySku as inKis, sourceQtyBySku as inSource } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: two corrections of one posted bill lettered unvouched during a long create-only outage", () => {
  // FINDING adv7-unvouched-two-corrections. Bill D is posted (v1). The user corrects a quantity (v2) and KIS starts
  // refusing creates (500; reads answer): three runs count the correction D-R1/D-B1 (reverse_repost) and file an
  // unvouched letter holding both steps and the image v2 to settle after them. The user corrects again (v3): the
  // image is still v1, so the new event reuses D-R1/D-B1 (other payloads) and three more runs letter it too.
  // KIS comes back. Expected: KIS ends with D's current content (v3), no letter open.
  // Actual: retryUnvouched replays the letters oldest first: the v2 event is written (D-R1, D-B1 = v2) and its image
  // settled; the v3 event's replay finds D-B1 in KIS with v2's lines: a conflict, its letter stays open (retried for
  // a day, then left). The watermark is past D: KIS keeps v2 while the source says v3.
  // Fixed (superseded-letters.ts): a correction letter with a newer open one of the same document planned from the
  // same before-image is resolved as superseded, not retried; the newer event (-v1, +v3) is written.
  it("FINDING adv7-unvouched-two-corrections: KIS ends with the bill's current content, no letter open", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    const id = String(doc.io_id);
    await runs(e2e, 2);
    expect(e2e.stack.kis.bills().filter((b) => b.FBillNo === id).length).toBe(1);
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved);
    const edit = (plus: number) => {
      const items = structuredClone(
        e2e!.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === id)!.items as Array<Record<string, unknown>>,
      );
      items[0]!.qty = Number(items[0]!.qty) + plus;
      e2e!.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    };
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    edit(5);
    await runs(e2e, 3);
    expect((await open()).length).toBe(1);
    edit(3);
    await runs(e2e, 3);
    // Filed, open or already superseded (the retry after the run that filed the newer letter resolves the older one).
    const lettered = (await store.listDeadLetters(KIS, { status: "all" })).length;
    await runs(e2e, 4);
    e2e.stack.kis.clearFaults();
    await runs(e2e, 3);
    const after = (await open()).map((l) => [l.externalKey, l.error.code]);
    expect({ lettered, kis: inKis(e2e, id), open: after }).toEqual({ lettered: 2, kis: inSource(e2e, id), open: [] });
  }, 120_000);
});
