/**
 * adv19 (write intents 1fe1973), HELD: a dry run between the killed invocation and the next real run. The dry run
 * keeps no intents (write-intents.ts keepsIntents) and saves nothing: the killed page's intent stays as it was, and
 * the next real run still recognises the bill and corrects the edit. (Its preview plans the edited document as
 * "new": it does not ask the target about intents — a preview difference, nothing written.)
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { addLine, differences, docOf, KIS, e2ePerTest, firstKisBill } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 90_000 });
const start = e2ePerTest();

describe("adv19 write intents: a dry run after the killed invocation", () => {
  it("held: the dry run leaves the intent; the next run corrects the edit", async () => {
    const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
    const billNo = await firstKisBill(e);
    addLine(e, docOf(e, billNo));
    e.clock.advance(60 * 60_000);
    const units = async () => (await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit);
    const before = await units();
    const bills = e.stack.kis.bills().length;
    const dry = await e.run(KIS, { dryRun: true });
    expect(dry.summary.outcome).not.toBe("failed");
    // The preview plans the edited bill as "new" (the real run corrects it: -R1/-B1): it does not ask about intents.
    expect(dry.planned?.filter((p) => p.externalKey.startsWith(billNo)).map((p) => [p.externalKey, p.status])).toEqual([[billNo, "new"]]);
    expect(await units()).toEqual(before);
    expect(e.stack.kis.bills()).toHaveLength(bills);
    await e.runToCompletion(KIS);
    expect(differences(e, billNo)).toEqual([]);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    expect(letters).toEqual([]);
    expect(await units()).toEqual([]);
  });
});
