/**
 * FINDING (adv19, write intents 1fe1973): a page killed twice in a row leaves an intent no run ever closes.
 * Invocation 1 stores intent I1 for its page and is killed at its first create before it leaves (nothing committed).
 * Invocation 2 looks every part of I1 up (all absent), queues I1's deletion for its next ledger save, stores I2 for
 * the same page and is killed at its first create after KIS committed it, before any save: I1 and I2 both stay,
 * naming the same source documents. Invocation 3 indexes intents by source id (write-intents.ts inheritWriteIntents,
 * `bySource.set` per plan), so each document points at I2 only; closeIfMet runs for the units touched, I2, and I1 is
 * never touched again. The promise "only a killed invocation leaves an intent; clean ones close theirs" breaks: after
 * clean runs to completion the outbox still holds I1, listed (and, on the Worker, loaded into every run's index
 * snapshot) until the 7-day expiry, which then logs a misleading "its documents left the source query" warning.
 * The bill itself is recorded once (asserted).
 */
import { describe, expect, it, vi } from "vitest";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { KIS, killAtCreate, waitFor, e2ePerTest } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 90_000 });
const start = e2ePerTest();

describe("adv19 write intents: a page killed twice", () => {
  it("fixed (was FINDING): every intent is closed once clean runs complete (the first killed page's intent lingers)", async () => {
    const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
    const units = async () => (await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit).sort();
    let creates = 0;
    void e.run(KIS, {}, { fetch: killAtCreate(false, () => ++creates > 0) });
    await waitFor(() => creates > 0);
    expect((await units()).length).toBe(1); // I1, nothing committed
    expect(e.stack.kis.bills()).toHaveLength(0);
    e.clock.advance(60 * 60_000); // the dead run's lease expires
    void e.run(KIS, {}, { fetch: killAtCreate(true) });
    await waitFor(() => e.stack.kis.bills().length > 0);
    expect(e.stack.kis.bills()).toHaveLength(1);
    expect((await units()).length).toBe(2); // I1 (its deletion never saved) and I2
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(KIS);
    await e.runToCompletion(KIS);
    const originals = e.stack.kis.bills().filter((b) => !/-[RB]\d+$/.test(String(b.FBillNo)));
    expect(new Set(originals.map((b) => b.FBillNo)).size).toBe(originals.length); // nothing booked twice
    expect(await units()).toEqual([]);
  });
});
