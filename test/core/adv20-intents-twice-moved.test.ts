/**
 * adv20 (write intents a37c3c4): a page killed twice with the document MOVED to another warehouse in between (same
 * lines), then cancelled. Invocation 1 stores intent I1 (A in warehouse W1) and is killed at A's create before it
 * leaves. The source moves A to W2 (same items and quantities). Invocation 2 asks I1's part (absent), stores I2 (A in
 * W2) and is killed after KIS committed A (W2). The source then cancels A. Invocation 3 walks bySource[A] = [I1.A,
 * I2.A]: write-intents.ts adoptIfOurs compares lines only (item + quantity, connectors/content-lines.ts), so I1.A
 * "holds exactly the lines sent" and A is adopted with I1's payload: the before-image says W1 while KIS holds W2.
 * The cancellation is then reversed in W1 (A-R1): KIS ends +q in W2 and -q in W1 (per warehouse wrong, in total
 * even), no letter. Expected: A adopted from the intent whose document KIS holds (or a letter), reversed in W2.
 * Seen: KIS holds 2100019 (FDCStockID 303) and 2100019-R1 (FDCStockID 302): "2024-06-17|10818|BXW40-22: source 0,
 * target -20" and "…|10819|…: source 0, target 20".
 * (Distinct from adv20-intents-twice-edited: keying `asked` by unit would not help here, I1.A is adopted first.)
 * The control (killed once, then cancelled) ends even.
 */
import { describe, expect, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { docOf, e2ePerTest, killedThenCancelled } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function scenario(killedTwice: boolean) {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  return killedThenCancelled(e, killedTwice, (billNo) => {
    const docs = e.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const other = docs.find((d) => d.wms_co_id !== docOf(e, billNo).wms_co_id)!.wms_co_id;
    e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, wms_co_id: other }); // W2, same lines
  });
}

describe("adv20 write intents: killed twice with a warehouse move between, then cancelled", () => {
  it("held (control): killed once, then cancelled: reversed", async () => {
    expect(await scenario(false)).toEqual({ diff: [], letters: [] });
  });

  it("fixed (was FINDING): two intents with the same lines and different heads: the wrong one is adopted, the reversal books the other warehouse", async () => {
    const { diff, letters } = await scenario(true);
    expect({ balanced: diff.length === 0, orLetter: letters.length > 0 }).not.toEqual({ balanced: false, orLetter: false });
    expect(diff).toEqual([]);
  });
});
