/**
 * Adversary 16c: a pending write (engine/pending-writes.ts) resolved by a run whose subrequest budget runs out during
 * the lookup. Real engine, real clients, emulators over loopback HTTP; explicit clocks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";
import { lossyFirstCreate } from "../helpers/lossy-fetch.ts";
import { firstPostedKisDocument } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16c: the budget runs out while a pending write is looked up", () => {
  // FINDING adv16c-pending-budget-letter (KIS). A posted bill D is cancelled; the run writes D-R1, KIS commits it, the
  // answer is lost (`pending:D-R1` stays). D is confirmed again. The next invocation's subrequest budget runs out in
  // the middle of the lookup of D-R1 (a Worker invocation's 50/1000 subrequests, or a small CLI --max-subrequests):
  // the meter refuses the request with BudgetExhaustedError, which is a BridgeError with retryable=false, so
  // pending-writes.ts lookUp takes it for "KIS cannot tell" (the branch meant for kis_lookup_failed), files a
  // write_unknown letter and drops the pending entry. Every later run finds D equal to its image ("unchanged").
  // Expected: the budget stop ends the run and the next invocation resolves D-R1 (found → recorded → D-B1): D counts
  // once, no letter. Actual: D counts 0 in KIS while Confirmed; a write_unknown letter whose hint ("if it is there,
  // resolve this dead letter") leaves it at 0 when followed (observed 2100019: BB600-32 28→0, MZ500-13 7→0,
  // NZK30-32 27→0, NZK30-44 23→0; letter [2100019-R1, write_unknown]).
  // Fault: pending-writes.ts lookUp (catch: `!error.retryable && !isAccountError(error)` also matches budget_exhausted).
  it("FINDING adv16c-pending-budget-letter: a budget stop during the lookup keeps the pending write for the next run", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    await e2e.run(KIS, {}, { fetch: lossyFirstCreate() });
    expect(e2e.stack.kis.bills().map((b) => String(b.FBillNo))).toContain(`${id}-R1`);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Confirmed" });
    const store = new FlowStateStore(e2e.kv);
    // Invocations with a budget of 1, 2, 3 … subrequests until the pending entry is gone (one of them stops mid-lookup).
    for (let budget = 1; budget < 12; budget++) {
      e2e.clock.advance(60_000);
      await e2e.run(KIS, { budget: { maxSubrequests: budget } });
      const pending = (await new OutboxStore(e2e.kv).list(KIS)).filter((p) => p.unit.startsWith("pending:"));
      if (pending.length === 0) break;
    }
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(15 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    const letters = (await store.listDeadLetters(KIS)).map((l) => [l.externalKey, l.error?.code]);
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, kisTotals(mine), "the bill after a budget stop during the pending lookup");
    expect(letters).toEqual([]);
  });
});
