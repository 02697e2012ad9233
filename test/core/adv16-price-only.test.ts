/**
 * Adversary of issue 16 (session 4): a merged T+ member whose amount (price) is edited after posting, quantities
 * unchanged. Real engine, real clients, T+ emulator over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { DATE_FORMAT, formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 90_000 });
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16: an amount-only edit of a merged member", () => {
  // FINDING adv16-amount-only-zero-qty-line: a merged member's amount is edited (改价), its quantities not. The member's
  // image keeps amounts, so the group correction <group>-C1 is due with a line of quantity 0 and the amount
  // difference (differenceSteps counts qty 0 with amount > 0 as an increase; compose keeps BaseQuantity 0). T+
  // refuses it ("RDRecordDetails[0] 数量不能为0"): a dead letter whose planned payload can never be accepted, and an
  // alert — every price correction upstream becomes a permanent letter (KIS_CHANGE_MODE=difference would send FQty 0 too;
  // not run here). Either
  // carry amount-only differences in a form the target takes, or leave them out (docs/changes.md: corrections are
  // about quantities) with a note, but never a letter that replays into the same refusal.
  it("FINDING adv16-amount-only-zero-qty-line: T+: a member's sale_amount changed, quantities not: settled without a dead letter", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    await e2e.runToCompletion(TPLUS);
    const today = parseInZone(`${formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
      )!;
    const items = structuredClone(m.items as Row[]);
    items[0]!.sale_amount = Number(items[0]!.sale_amount ?? 0) + 12.34;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    const open = await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS, { status: "open" });
    expect(open.map((l) => `${l.externalKey}: ${l.error.message}`)).toEqual([]);
  });
});
