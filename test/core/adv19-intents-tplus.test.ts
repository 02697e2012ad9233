/**
 * adv19 (write intents 1fe1973) on T+: a per-document (not merged) T+ flow built from the seed sales-out flow
 * (ExternalCode = io_id, no merge operation). An invocation is killed after T+ committed its first voucher; the
 * source then edits that document. Real engine, real T+ client, emulators over loopback HTTP.
 *
 * FINDING (the last test): in a T+ account without GetVoucherDTO, "a document under the key whose lines are not what
 * we sent is never adopted" does not hold. pending-writes.ts lookUp answers `{ours: [], theirs: []}` for a voucher
 * FindVoucherList finds by its key when its lines cannot be read, and write-intents.ts adoptIfOurs takes an empty
 * compareLines as "exactly the lines sent": a voucher someone entered by hand under the key (1 of each line) is
 * recorded as the killed invocation's write, with the intent's image, and the edit is "corrected" against lines T+
 * never held (posts `<io>-C1`), with no letter. Expected: a `conflict` (or write_unknown) letter, nothing posted.
 * Note: the pre-intent path trusted an unreadable "already exists" the same way (verify-existing.ts), so this is the
 * intent inheriting that trust rather than a new hole; the promise's wording (and docs/changes.md) claims more.
 *
 * FINDING (the FindVoucherList test): in a T+ account without FindVoucherList the lookup cannot tell, and
 * write-intents.ts treats that as "says nothing": the part is marked asked and trimmed from the intent, no log, no
 * letter. A document the killed invocation committed and the source then cancelled is never reversed (T+ keeps the
 * voucher, the source has nothing) and nothing says so. pending-writes.ts, for the same "cannot tell" about a lost
 * answer, files a `write_unknown` letter ("never silent"); the intent path is silent (docs/changes.md calls it the
 * normal path, but for a cancellation the normal path does nothing).
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "../helpers/e2e.ts";
import {
  bumpFirstLine,
  e2ePerTest,
  firstTplusVoucher,
  perDocumentTplus,
  TPLUS,
  tplusDifferences as differences,
  tplusVouchers as vouchers,
} from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function killedThenEdited(e: E2E): Promise<string> {
  const io = await firstTplusVoucher(e);
  const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
  bumpFirstLine(e, JST_PATHS.salesOut, doc, 5);
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(TPLUS);
  return io;
}

describe("adv19 write intents on a per-document T+ flow", () => {
  it("held: the same in an account without GetVoucherDTO (found by FindVoucherList, lines unreadable)", async () => {
    const e = await perDocumentTplus(start, { tplus: { disabledApis: ["OtherDispatchOpenApi/GetVoucherDTO"] } });
    const io = await killedThenEdited(e);
    expect(vouchers(e).some((v) => String(v.ExternalCode).startsWith(`${io}-`))).toBe(true);
    expect(differences(e, io)).toEqual([]);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
    expect(letters.map((l) => [l.externalKey, l.error.code])).toEqual([]);
  });

  it("held: edited after the killed invocation committed it: corrected, no letter", async () => {
    const e = await perDocumentTplus(start);
    const io = await killedThenEdited(e);
    expect(vouchers(e).some((v) => String(v.ExternalCode).startsWith(`${io}-`))).toBe(true); // corrected, not untouched
    expect(differences(e, io)).toEqual([]);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
    expect(letters.map((l) => [l.externalKey, l.error.code])).toEqual([]);
    expect((await new OutboxStore(e.kv).list(TPLUS)).map((p) => p.unit)).toEqual([]);
  });

  // KNOWN LIMIT (docs/changes.md "Known limits"): without GetVoucherDTO the lines cannot be read, so a voucher found
  // by its key is taken as ours, as for every write in doubt (pending-writes.ts lookUp) and every unreadable "already
  // exists" (verify-existing.ts); the held test above is the same trust giving the right answer for our own write.
  it.fails("LIMIT: no GetVoucherDTO: a voucher under the key with other lines than the intent is adopted (not a conflict letter)", async () => {
    const e = await perDocumentTplus(start, { tplus: { disabledApis: ["OtherDispatchOpenApi/GetVoucherDTO"] } });
    const io = await firstTplusVoucher(e);
    // Someone replaces it by hand: the voucher under the key now holds 1 of each line (another flow id writes it).
    expect(e.stack.tplus.removeVoucher("otherDispatch", io)).toBe(true);
    const hand = structuredClone(e.flows[TPLUS]!) as unknown as Record<string, unknown> & {
      id: string;
      source: { condition: unknown };
      target: { fields: Array<Record<string, unknown> & { children?: Array<Record<string, unknown>> }> };
    };
    hand.id = "hand-entry-tplus";
    hand.source.condition = [[{ field: "io_id", logic: "eq", value: io }]];
    hand.target.fields.find((f) => f.field === "RDRecordDetails")!.children!.find((c) => c.field === "BaseQuantity")!.value = "1";
    const flows = e.flows as Record<string, unknown>;
    const ours = flows[TPLUS];
    delete flows[TPLUS]; // only one of the two flows exists at a time (the key spaces overlap on purpose)
    flows[hand.id] = hand;
    await e.runToCompletion(hand.id);
    delete flows[hand.id];
    flows[TPLUS] = ours;
    const theirs = vouchers(e).filter((v) => v.ExternalCode === io);
    expect(theirs).toHaveLength(1);
    const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
    bumpFirstLine(e, JST_PATHS.salesOut, doc, 5);
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(TPLUS);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
    const own = vouchers(e)
      .filter((v) => String(v.ExternalCode).startsWith(`${io}-`))
      .map((v) => v.ExternalCode);
    // Promise: never adopted; the key stays a conflict letter and nothing is posted against lines that are not ours.
    expect({ letter: letters.find((l) => l.externalKey === io)?.error.code, own, diff: differences(e, io).length > 0 }).toEqual({
      letter: "conflict",
      own: [],
      diff: true, // a conflict leaves the key as it was: the totals stay apart until an operator resolves the letter
    });
  });

  // T+ without FindVoucherList: the lookup cannot tell, so the intent says nothing (documented: "cannot tell → the
  // normal path"). Cancelled meanwhile, nothing reverses the voucher the killed invocation committed.
  it("fixed (was FINDING): no FindVoucherList: cancelled after the killed invocation committed it: reversed, or a letter says so", async () => {
    const e = await perDocumentTplus(start, { tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
    const io = await firstTplusVoucher(e);
    const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: doc.io_id, status: "Cancelled" });
    expect(
      e.stack.jushuitan
        .documents(JST_PATHS.salesOut)
        .filter((d) => String(d.io_id) === io)
        .map((d) => d.status),
    ).toEqual(["Cancelled"]);
    e.clock.advance(60 * 60_000);
    await e.runToCompletion(TPLUS);
    await e.runToCompletion(TPLUS);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
    const named = letters.some((l) => l.externalKey === io || String(l.sourceId) === io);
    expect({ balanced: differences(e, io).length === 0, orLetter: named }).not.toEqual({ balanced: false, orLetter: false });
  });
});
