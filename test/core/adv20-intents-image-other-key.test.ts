/**
 * adv20 (write intents a37c3c4): write-intents.ts knownToLedger skips a part when the ledger holds a before-image
 * of one of its documents. A KIS flow keyed `{io_id}-{wms_co_id}` (as adv19-intents-key-change): A is booked under K1,
 * cancelled and reversed (K1-R1: its image "nothing posted"), then confirmed again in another warehouse (now K2) and
 * the invocation that books it is killed after KIS committed it. The source then edits (or cancels) A again.
 * Would the guard skip a K2 original the killed invocation committed (image(A) present, K2 not in the ledger)?
 * HELD: the review books A again in K1's family (`K1-B2`, a correction kept as a `pending:` entry before it is sent),
 * never as a K2 original, so no intent part stands for it; edit → R3/B3, cancel → R3; balanced, no letter.
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { kisTotals, signedDifferences, sourceTotals } from "../helpers/signed-invariant.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { addLine, KIS, killAtCreate, type Row, waitFor, e2ePerTest } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function scenario(killed: boolean, then: "edit" | "cancel") {
  const e = await start({ days: 2, otherInOut: 12, salesOut: 0 });
  const flow = e.flows[KIS]! as unknown as { target: { externalKey: string; fields: Array<{ field: string; children?: Array<Record<string, unknown>> }> } };
  flow.target.externalKey = "{io_id}-{wms_co_id}";
  flow.target.fields.find((f) => f.field === "Head")!.children!.find((c) => c.field === "FBillNo")!.value = "{io_id}-{wms_co_id}";
  await e.runToCompletion(KIS);
  const first = String(e.stack.kis.bills()[0]!.FBillNo);
  const io = first.split("-")[0]!;
  const docOf = () => e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === io)!;
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf().io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  const other = e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.wms_co_id !== docOf().wms_co_id)!.wms_co_id;
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf().io_id, status: "Confirmed", wms_co_id: other });
  e.clock.advance(60 * 60_000);
  const before = e.stack.kis.bills().length;
  if (killed) {
    void e.run(KIS, {}, { fetch: killAtCreate(true, (body) => body.includes(`"${io}-`)) });
    await waitFor(() => e.stack.kis.bills().length > before);
  } else await e.runToCompletion(KIS);
  const booked = e.stack.kis
    .bills()
    .slice(before)
    .map((b) => String(b.FBillNo));
  if (then === "edit") addLine(e, docOf());
  else e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf().io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  await e.runToCompletion(KIS);
  const until = e.clock.now() - 5 * 60_000;
  const source = sourceTotals(
    e.stack.jushuitan.documents(JST_PATHS.otherInOut),
    (d) => String(d.io_id) === io && d.type === "其它退货" && parseInZone(String(d.modified))! < until,
  );
  const bills = e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(`${io}-`));
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return {
    booked,
    diff: signedDifferences(source, kisTotals(bills as Array<{ Head: Row; Entry: Row[] }>)),
    letters: letters.map((l) => [l.externalKey, l.error.code]),
    bills: bills.map((b) => String(b.FBillNo)),
    outbox: (await new OutboxStore(e.kv).list(KIS)).map((p) => p.unit),
  };
}

describe("adv20 write intents: an image of the document under another key", () => {
  for (const killed of [false, true])
    for (const then of ["edit", "cancel"] as const)
      it(`${killed ? "killed" : "control"}, then ${then}: balanced, no letter`, async () => {
        const r = await scenario(killed, then);
        expect(r.booked.every((b) => /-B\d+$/.test(b))).toBe(true);
        expect({ diff: r.diff, letters: r.letters, outbox: r.outbox }).toEqual({ diff: [], letters: [], outbox: [] });
      });
});
