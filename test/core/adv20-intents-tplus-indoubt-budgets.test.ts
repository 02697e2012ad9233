/**
 * adv20 (write intents a37c3c4): pending-writes.ts holdInDoubt under small budgets. A per-document T+ flow (as
 * adv19-intents-tplus) in an account without FindVoucherList: the killed invocation commits voucher A, the source then
 * cancels A. The next runs cannot ask T+ about A, so A becomes a write in doubt (a `pending:` entry resolved at once:
 * a `write_unknown` letter without a write probe). Budgets of 3 to 8 put the budget stop inside the intent lookup,
 * inside holdInDoubt's resolveOne (the pending entry kept for the next invocation, the intent part not marked asked),
 * and after. Expected for each: the flow completes, exactly one open letter for A, no intent or pending entry left.
 * Then (budget 1000) the letter's two ways out: A confirmed again, or left cancelled; the letter replayed as its hint
 * says and the window synced again: balanced, no letter. HELD, all of them (a second holdInDoubt of the same write in
 * the next invocation files the same letter, deduplicated by run-ledger.ts fileDeadLetter's marker hash).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { signedDifferences, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { killAtCreate, waitFor } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 240_000 });
const TPLUS = "jst-sales-out-to-tplus";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function scenario(budget: number, then?: (e: E2E, io: string) => Promise<void>) {
  const e = await startE2E({ days: 2, otherInOut: 0, salesOut: 12, tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
  e2e = e;
  const flow = e.flows[TPLUS]! as unknown as Record<string, unknown> & { target: { externalKey: string; fields: Array<Record<string, unknown>> } };
  delete flow.operation;
  flow.target.externalKey = "{io_id}";
  flow.target.fields.find((f) => f.field === "ExternalCode")!.value = "{io_id}";
  const vouchers = () => e.stack.tplus.vouchers("otherDispatch") as unknown as Array<{ ExternalCode: string }>;
  void e.run(TPLUS, {}, { fetch: killAtCreate(true) });
  await waitFor(() => vouchers().length > 0);
  const io = String(vouchers()[0]!.ExternalCode);
  const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
  e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: doc.io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(TPLUS, { budget: { maxSubrequests: budget } }, 300);
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(TPLUS, { budget: { maxSubrequests: budget } }, 300);
  if (then) await then(e, io);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
  return {
    letters: letters.filter((l) => l.externalKey === io || String(l.sourceId) === io).map((l) => l.error.code),
    others: letters.filter((l) => !(l.externalKey === io || String(l.sourceId) === io)).map((l) => [l.externalKey, l.error.code]),
    outbox: (await new OutboxStore(e.kv).list(TPLUS)).map((p) => p.unit),
    vouchers: vouchers().filter((v) => v.ExternalCode === io).length,
    diff: signedDifferences(
      sourceTotals(
        e.stack.jushuitan.documents(JST_PATHS.salesOut),
        (d) => String(d.io_id) === io && parseInZone(String(d.modified))! < e.clock.now() - 5 * 60_000,
      ),
      tplusTotals(
        (vouchers() as unknown as Array<{ ExternalCode: string; payload: Record<string, unknown> }>).filter((v) => String(v.ExternalCode).startsWith(io)),
      ),
    ),
  };
}

describe("adv20 write intents: a cancelled document held in doubt under small budgets (T+ without FindVoucherList)", () => {
  for (const budget of [3, 4, 5, 6, 7, 8, 1000]) {
    it(`budget ${budget}: one write_unknown letter, nothing left in the outbox`, async () => {
      const r = await scenario(budget);
      expect({ ...r, diff: undefined }).toEqual({ letters: ["write_unknown"], others: [], outbox: [], vouchers: 1, diff: undefined });
    });
  }

  it("then confirmed again, the letter replayed as its hint says, the window synced again: balanced, no letter", async () => {
    const r = await scenario(1000, async (e, io) => {
      e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: Number(io), status: "Confirmed" });
      e.clock.advance(60 * 60_000);
      await e.runToCompletion(TPLUS);
      const store = new FlowStateStore(e.kv);
      for (const l of await store.listDeadLetters(TPLUS, { status: "open" })) {
        const replayed = await replayDeadLetter(e.ports, l.id, { by: "operator", budget: { maxSubrequests: 100 } });
        expect(replayed.replayed).toBe(true);
      }
      e.clock.advance(60 * 60_000);
      await e.runToCompletion(TPLUS);
    });
    expect(r).toEqual({ letters: [], others: [], outbox: [], vouchers: 1, diff: [] });
  });

  it("left cancelled, the letter replayed as its hint says, the window synced again: reversed, no letter", async () => {
    const r = await scenario(1000, async (e) => {
      const store = new FlowStateStore(e.kv);
      for (const l of await store.listDeadLetters(TPLUS, { status: "open" })) {
        const replayed = await replayDeadLetter(e.ports, l.id, { by: "operator", budget: { maxSubrequests: 100 } });
        expect(replayed.replayed).toBe(true);
      }
      e.clock.advance(60 * 60_000);
      await e.runToCompletion(TPLUS, { range: { from: e.clock.now() - 4 * 86_400_000, to: e.clock.now() - 60_000 } });
      await e.runToCompletion(TPLUS);
    });
    expect(r).toEqual({ letters: [], others: [], outbox: [], vouchers: 1, diff: [] });
  });
});
