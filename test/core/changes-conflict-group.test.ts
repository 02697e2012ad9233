/**
 * A merged T+ group whose write meets a voucher entered by hand under its ExternalCode with other lines: the plan is
 * a `conflict` dead letter and the group registry settles its members (outbox-writer.ts). Members edited or
 * cancelled afterwards must be corrected against what the letter holds (the plan), so that once the operator voids
 * the hand-entered voucher and replays the letter, letter + corrections equal the source (docs/changes.md).
 * Found by the long chaos suite late in the Shanghai day (seeds 9042, 9182: tplus.duplicate + edits): without
 * images, a cancelled member was "new" (nothing written) and a re-read member adopted its current lines.
 * Real engine, real clients, emulators over loopback HTTP; explicit clock (E2E_START), no wall-clock dependence.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { WAREHOUSES } from "../emulators/catalog.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, tplusTotals } from "../helpers/signed-invariant.ts";
import { startOfToday, tplusSource } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 90_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** The closed day's offline group with the most members (at least 3), before any run. */
function pickGroup(e: E2E) {
  const end = startOfToday(e);
  const groups = new Map<string, Row[]>();
  for (const d of e.stack.jushuitan.documents(JST_PATHS.salesOut)) {
    if (Number(d.shop_id) !== 0 || d.status !== "Confirmed" || !String(d.io_date).startsWith("2024-06-19") || parseInZone(String(d.modified))! >= end) continue;
    const key = `SO-2024-06-19-${String(d.wms_co_id)}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const [key, members] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  expect(members.length).toBeGreaterThanOrEqual(3);
  return { key, members };
}

/** Books at T+ (as a user would) the group's voucher with one quantity off by one: the bridge's write meets a conflict. */
async function bookByHand(e: E2E, key: string, members: Row[]) {
  const qty: Record<string, number> = {};
  for (const m of members) for (const i of m.items as Row[]) qty[String(i.sku_id)] = (qty[String(i.sku_id)] ?? 0) + Number(i.qty);
  const first = Object.keys(qty)[0]!;
  qty[first] = qty[first]! + 1;
  const tplusCode = WAREHOUSES.find((w) => String(w.jstWmsCoId) === key.slice(-5))!.tplusCode;
  const dto = {
    ExternalCode: key,
    VoucherDate: "2024-06-19",
    VoucherType: { Code: "ST1024" },
    BusiType: { Code: "13" },
    Warehouse: { Code: tplusCode },
    Memo: "entered by hand before the bridge ran",
    RDRecordDetails: Object.entries(qty).map(([sku, q]) => ({ Inventory: { Code: sku }, BaseQuantity: q, Price: 0, Amount: 0 })),
  };
  const res = await e.stack.tplus.app.request(`/tplus/api/v2/otherDispatch/Create`, {
    method: "POST",
    headers: { "Content-Type": "application/json", appKey: e.env.TPLUS_APP_KEY!, appSecret: e.env.TPLUS_APP_SECRET!, openToken: e.env.TPLUS_OPEN_TOKEN! },
    body: JSON.stringify({ dto }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("a merged group dead-lettered as a conflict, its members edited afterwards", () => {
  it("members cancelled or edited after the conflict are corrected against the letter: replaying it gives the source", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    const { key, members } = pickGroup(e2e);
    await bookByHand(e2e, key, members);
    await e2e.runToCompletion(TPLUS);
    const store = new FlowStateStore(e2e.kv);
    const letter = (await store.listDeadLetters(TPLUS)).find((l) => l.externalKey === key);
    expect(letter?.error.code).toBe("conflict");

    // Before any run reads them again, one member is edited and another cancelled (on old code the group had no
    // before-images: the edited member was adopted with its new lines, the cancelled one was "new").
    const [edited, cancelled] = [members[0]!, members[1]!];
    const items = structuredClone(edited.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: edited.io_id, items });
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: cancelled.io_id, status: "Cancelled" });
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);

    // The operator voids the hand-entered voucher and replays the letter.
    expect(e2e.stack.tplus.removeVoucher("otherDispatch", key)).toBe(true);
    const replayed = await replayDeadLetter(e2e.ports, letter!.id, { by: "test", budget: { maxSubrequests: 100 } });
    expect(replayed.replayed, JSON.stringify(replayed)).toBe(true);
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    assertSignedInvariant(tplusSource(e2e), tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the letter was replayed");
  });
});
