/**
 * adv20 (write intents a37c3c4): pending-writes.ts holdInDoubt under small budgets. A per-document T+ flow (as
 * adv19-intents-tplus) in an account without FindVoucherList: the killed invocation commits voucher A, the source then
 * cancels A. The next runs cannot ask T+ about A, so A becomes a write in doubt (a `pending:` entry resolved at once:
 * a `write_unknown` letter without a write probe). Budgets of 3 to 8 put the budget stop inside the intent lookup,
 * inside holdInDoubt's resolveOne (the pending entry kept for the next invocation, the intent part not marked asked),
 * and after. Expected for each: the flow completes, exactly one open letter for A, no intent or pending entry left.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";
import { killAtCreate, waitFor } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 240_000 });
const TPLUS = "jst-sales-out-to-tplus";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function scenario(budget: number) {
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
  const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
  return {
    letters: letters.filter((l) => l.externalKey === io || String(l.sourceId) === io).map((l) => l.error.code),
    others: letters.filter((l) => !(l.externalKey === io || String(l.sourceId) === io)).map((l) => [l.externalKey, l.error.code]),
    outbox: (await new OutboxStore(e.kv).list(TPLUS)).map((p) => p.unit),
    vouchers: vouchers().filter((v) => v.ExternalCode === io).length,
  };
}

describe("adv20 write intents: a cancelled document held in doubt under small budgets (T+ without FindVoucherList)", () => {
  for (const budget of [3, 4, 5, 6, 7, 8, 1000]) {
    it(`budget ${budget}: one write_unknown letter, nothing left in the outbox`, async () => {
      const r = await scenario(budget);
      expect(r).toEqual({ letters: ["write_unknown"], others: [], outbox: [], vouchers: 1 });
    });
  }
});
