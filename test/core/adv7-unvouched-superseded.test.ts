/**
 * Adversary 7 (unvouched-retry.ts): a create-only KIS outage long enough to letter two versions of one document.
 * Real engine, real KIS client, KIS and Jushuitan emulators over loopback HTTP, a manual clock (runs 30 min apart).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { arriveReturnDocument as arrive, kisQtyBySku as inKis, sourceQtyBySku as inSource } from "../helpers/kis-outage.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv7: two versions of one document lettered unvouched during a long create-only outage", () => {
  // FINDING adv7-unvouched-superseded. A create-only KIS outage (creates answer 500, reads answer) lasting 3 h.
  // Bill D arrives: three runs count it (the read answers, it fails alone) and file an unvouched
  // write_failed_repeatedly letter with content v1. The user then corrects a quantity (v2) while KIS still refuses
  // creates: the changed content starts afresh, and three more runs file a second unvouched letter (v2).
  // KIS comes back. Expected: KIS ends with D's current content (v2) — the newer letter supersedes the older one
  // (as supersedeHeld does for held letters), or a correction brings v1 up to v2 — and no letter stays open.
  // Actual: retryUnvouched replays the letters oldest first: v1 (stale content) is written and its letter resolved
  // "by auto: the target took the write"; v2's replay finds D in the ledger with other content and fails
  // changed_after_write, so its letter stays open (retried for 24 h, then left to the operator with "correct it in
  // the target by hand"). The watermark is past D, no run reads it again: KIS keeps v1 (NZK30-44: 23, source 28).
  // Fixed (superseded-letters.ts newerLetter): an unvouched letter with a newer open letter of the same document and key
  // is resolved as superseded, not retried; the newer one is retried and writes v2.
  // (With KIS back right after the second letter, a run still re-reads D and corrects it by R1/B1; the v2 letter
  // stays open all the same.)
  it("FINDING adv7-unvouched-superseded: KIS ends with the document's current content, no letter open", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const doc = arrive(e2e);
    const id = String(doc.io_id);
    e2e.stack.kis.addFaults([{ kind: "http5xx", path: "/create", times: 1_000_000 }]);
    for (let run = 0; run < 3; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved);
    expect((await open()).map((l) => [l.externalKey, l.error.code])).toEqual([[id, "write_failed_repeatedly"]]);
    // The user corrects the first line's quantity (v2) while creates still fail.
    const items = structuredClone(doc.items as Array<Record<string, unknown>>);
    items[0]!.qty = Number(items[0]!.qty) + 5;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    for (let run = 0; run < 3; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    // Filed, open or already superseded (the retry after the run that filed the newer letter resolves the older one).
    const lettered = (await store.listDeadLetters(KIS, { status: "all" })).map((l) => l.externalKey);
    // Two more hours of the outage: the watermark moves on past D (its letters stand for it).
    for (let run = 0; run < 4; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    e2e.stack.kis.clearFaults();
    for (let run = 0; run < 3; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    const after = (await open()).map((l) => [l.externalKey, l.error.code]);
    expect({ lettered, kis: inKis(e2e, id), open: after }).toEqual({ lettered: [id, id], kis: inSource(e2e, id), open: [] });
  }, 120_000);
});
