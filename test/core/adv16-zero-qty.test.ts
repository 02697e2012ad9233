/**
 * Adversary of issue 16 (session 4): a posted document whose line is edited to quantity 0 in 聚水潭.
 * Real engine, real clients, KIS emulator over loopback HTTP; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16: a line edited to quantity 0", () => {
  // FINDING adv16-zero-line-repost: KIS (reverse_repost, the default). A posted document's line is edited to quantity 0
  // in 聚水潭 (instead of being removed). The change review reverses the whole document (R1, accepted) and reposts
  // its current lines as B1 — built from shape.lines(payload), which keeps the 0 line (differenceSteps filters zero
  // lines through sumLines, reverse_repost does not). KIS refuses B1 ("数量FQty必须大于0"): the document's other
  // lines, still Confirmed, are gone from the target, and the B1 letter holds the same 0 line, so replaying it
  // fails again forever. Observed: 2100019 +[23,27,7,28], 2100019-R1 −[27,23,7,28], B1 dead ("第2行数量FQty必须大于0").
  it("FINDING adv16-zero-line-repost: KIS: one line of a posted document set to 0: the other lines stay booked", async () => {
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    await e2e.runToCompletion(KIS);
    const billNos = new Set(e2e.stack.kis.bills().map((b) => b.FBillNo));
    const doc = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => billNos.has(String(d.io_id)) && (d.items as Row[]).length >= 2)!;
    const items = structuredClone(doc.items as Row[]);
    items[0]!.qty = 0;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    const open = await new FlowStateStore(e2e.kv).listDeadLetters(KIS, { status: "open" });
    const until = e2e.clock.now() - 5 * 60_000;
    const source = sourceTotals(e2e.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => d.type === "其它退货" && parseInZone(String(d.modified))! < until);
    expect(open.map((l) => `${l.externalKey}: ${l.error.message}`)).toEqual([]);
    assertSignedInvariant(source, kisTotals(e2e.stack.kis.bills()), "after the zero edit");
  });
});
