/**
 * adv19 (write intents 1fe1973): a document whose key changes between builds. A KIS flow keyed
 * `{io_id}-{wms_co_id}` (the bill number follows the key): the killed invocation commits A under K1; the user then
 * moves A to another warehouse, so the next build keys it K2. The intent is found by A's source id and names K1.
 * Expected: K1 recognised (the intent's lines) and reversed, A booked once under the new warehouse; nothing doubled.
 * HELD: K1 is adopted, then the review sees a head move: K1-R1 and K1-B1 (the new warehouse), balanced, no letter.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { kisTotals, signedDifferences, sourceTotals } from "../helpers/signed-invariant.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { KIS, type Row, e2ePerTest, firstKisBill } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function scenario(killed: boolean) {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const flow = e.flows[KIS]! as unknown as { target: { externalKey: string; fields: Array<{ field: string; children?: Array<Record<string, unknown>> }> } };
  flow.target.externalKey = "{io_id}-{wms_co_id}";
  flow.target.fields.find((f) => f.field === "Head")!.children!.find((c) => c.field === "FBillNo")!.value = "{io_id}-{wms_co_id}";
  const first = await firstKisBill(e, killed);
  const io = first.split("-")[0]!;
  const docs = e.stack.jushuitan.documents(JST_PATHS.otherInOut);
  const doc = docs.find((d) => String(d.io_id) === io)!;
  const other = docs.find((d) => d.wms_co_id !== doc.wms_co_id)!.wms_co_id;
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, wms_co_id: other });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  await e.runToCompletion(KIS);
  const until = e.clock.now() - 5 * 60_000;
  const source = sourceTotals(e.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => String(d.io_id) === io && parseInZone(String(d.modified))! < until);
  const bills = e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(`${io}-`));
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return {
    diff: signedDifferences(source, kisTotals(bills as Array<{ Head: Row; Entry: Row[] }>)),
    letters: letters.map((l) => [l.externalKey, l.error.code]),
    bills: bills.map((b) => String(b.FBillNo)),
  };
}

describe("adv19 write intents: the key changes between builds", () => {
  it("control: answered, then moved to another warehouse: balanced", async () => {
    const r = await scenario(false);
    expect({ diff: r.diff, letters: r.letters }).toEqual({ diff: [], letters: [] });
  });

  it("killed, then moved to another warehouse: balanced, nothing doubled", async () => {
    const r = await scenario(true);
    expect({ diff: r.diff, letters: r.letters }).toEqual({ diff: [], letters: [] });
  });
});
