/**
 * adv20 (write intents a37c3c4) on a per-document T+ flow (as adv19-intents-tplus) in an account without
 * FindVoucherList: the killed invocation commits voucher A; the source then EDITS A (adv19 covered the cancellation).
 * The intent's lookup cannot tell, so write-intents.ts adoptIfOurs leaves a built document to "the normal path".
 * The promise: later runs end with A written once and corrected to the source, or a letter says why not.
 *
 * FINDING: silently wrong. The next run writes the edited A under its key; T+ refuses the duplicate ExternalCode,
 * verify-existing.ts cannot read the voucher back ("'already exists' trusted", a warning only) and records A as
 * written with the EDITED lines, while T+ holds the killed invocation's lines: source 7, T+ 2 on the edited line, no
 * correction, no letter, the intent closed. The intent held the exact answer (the lines sent), but for a built
 * document write-intents.ts adoptIfOurs drops "cannot tell" (only a dropped one becomes a write in doubt via
 * holdInDoubt). Expected: the same as a dropped one (a write in doubt: settled where a duplicate answer is proof, then
 * corrected; else a `write_unknown` letter), never silent. Not the named GetVoucherDTO limit: here the key cannot even
 * be found, and docs/changes.md promises "never a silent drop" only for the cancellation. The control (no kill) is
 * corrected (A-C1...).
 */
import { describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { bumpFirstLine, e2ePerTest, firstTplusVoucher, perDocumentTplus, TPLUS, tplusDifferences as differences } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

async function scenario(killed: boolean) {
  const e = await perDocumentTplus(start, { tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] } });
  const io = await firstTplusVoucher(e, killed);
  const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
  bumpFirstLine(e, JST_PATHS.salesOut, doc, 5);
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(TPLUS);
  await e.runToCompletion(TPLUS);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
  return {
    diff: differences(e, io),
    letters: letters.filter((l) => l.externalKey === io || String(l.sourceId) === io).map((l) => l.error.code),
    intents: (await new OutboxStore(e.kv).list(TPLUS)).length,
  };
}

describe("adv20 write intents: T+ without FindVoucherList, killed then edited", () => {
  it("held (control, no kill): corrected", async () => {
    const r = await scenario(false);
    expect(r.diff).toEqual([]);
  });

  it("fixed (was FINDING): killed then edited: recorded with the edited lines over the killed write's, silently (no correction, no letter)", async () => {
    const r = await scenario(true);
    expect({ balanced: r.diff.length === 0, orLetter: r.letters.length > 0 }).not.toEqual({ balanced: false, orLetter: false });
    expect(r.intents).toBe(0);
  });
});
