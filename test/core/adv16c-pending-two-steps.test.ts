/**
 * Adversary 16c: both steps of one KIS reverse_repost event left pending (engine/pending-writes.ts): the invocation
 * is killed after B1 commits, before the ledger save that would have closed R1's entry.
 * Real engine, real clients, emulators over loopback HTTP; explicit clocks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";
import { until } from "../helpers/until.ts";
import { firstPostedKisDocument } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Answers the first `answered` creates; the next one commits and never answers (the invocation is killed). */
function hangAfterCommitOf(answered: number) {
  let creates = 0;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (!/\/create$/i.test(url.pathname)) return fetch(input, init);
    if (creates++ < answered) return fetch(input, init);
    await fetch(input, init);
    return new Promise<Response>(() => {});
  };
}

describe("adversary 16c: R1 and B1 of one event both pending", () => {
  // FINDING adv16c-pending-event-order (KIS, reverse_repost). Bill D is edited (+2): the run writes D-R1 (answered)
  // then D-B1, which commits; the invocation is killed before its ledger save, so both `pending:D-R1` and
  // `pending:D-B1` are left. D is edited again (+3) before the takeover run. resolvePendingWrites resolves the entries in
  // the outbox's list order (KV key order: `pending:D-B1` sorts before `pending:D-R1`): B1 settles the image
  // {lines after, n 1}, then R1 settles {no lines, n 0} with a later writtenAt, so the event's FIRST step's image wins.
  // The review then plans from "nothing posted": D-B1 (n 1) with the newest lines, finds D-B1 in the ledger with other
  // content and files change_unknown. Had the answers arrived, the second edit would have been D-R2 + D-B2.
  // Expected: D counts its current lines (R2/B2), no letter. Actual: KIS keeps D − R1 + B1 (NZK30-44 25 where the
  // source has 28) and a change_unknown letter [D-B1] asks for a hand correction.
  // Fault: pending-writes.ts resolveOne/resolvePendingWrites settle entries in list order, not in the event's order
  // (the image's n or the step order is not compared: `Math.max(now, previous + 1)` lets the last resolved win).
  it("FINDING adv16c-pending-event-order: killed after B1 committed, the bill edited again before the takeover: the bill counts its current lines", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const items = structuredClone(doc.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    e2e.clock.advance(15 * 60_000);
    void e2e.run(KIS, {}, { fetch: hangAfterCommitOf(1) });
    await until(() => e2e!.stack.kis.bills().some((b) => String(b.FBillNo) === `${id}-B1`), "B1 committed");
    const pending = (await new OutboxStore(e2e.kv).list(KIS)).map((p) => p.unit).filter((u) => u.startsWith("pending:"));
    expect(pending).toEqual([`pending:${id}-B1`, `pending:${id}-R1`]);
    const again = structuredClone(items);
    again[0]!.qty = Number(again[0]!.qty) + 3;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items: again });
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(16 * 60_000); // the killed run's lease expires
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    const letters = (await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).map((l) => [l.externalKey, l.error?.code]);
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, kisTotals(mine), "the bill after both steps were left pending");
    expect(letters).toEqual([]);
  });
});
