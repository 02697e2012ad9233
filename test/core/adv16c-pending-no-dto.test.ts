/**
 * Adversary 16c: a pending write (engine/pending-writes.ts) looked up in a T+ account whose FindVoucherList works but
 * whose GetVoucherDTO is not enabled. Real engine, real clients, T+ emulator over loopback HTTP; explicit clocks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { lossyFirstCreate } from "../helpers/lossy-fetch.ts";
import { assertTplusGroupInvariant, startOfToday } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16c: a pending group correction in a T+ account without GetVoucherDTO", () => {
  // FINDING adv16c-pending-no-dto (T+ account whose OtherDispatchOpenApi/FindVoucherList works but GetVoucherDTO is
  // not enabled — tplus/operations.ts readBack handles exactly that case by answering null). Member m of written group
  // G is cancelled; G-C1 (−m) commits in T+ and its answer is lost. m is confirmed again before the next run, which
  // resolves `pending:G-C1`: readBack finds the voucher with FindVoucherList, GetVoucherDTO is refused as unsupported,
  // so readBack answers null; pending-writes.ts lookUp then asks probe(), which only checks FindVoucherList (true), and
  // takes null for "the target certainly does not hold it": the entry is dropped and m is "unchanged".
  // Expected: G counts m (G-C1 found and recorded, then G-C2 +m), or a write_unknown letter naming G-C1.
  // Actual: G counts m's lines 0 while m is Confirmed (observed 2024-06-19|10818: BXW40-22 4→0, BXW40-43 2→0,
  // BXW40-44 4→0, NZK30-21 10→5), no letter.
  // Fault: tplus/operations.ts readBack returns null (not "cannot tell") when GetVoucherDTO is unsupported after
  // FindVoucherList found the key; pending-writes.ts lookUp trusts null once probe() says FindVoucherList works.
  it("FINDING adv16c-pending-no-dto: G-C1 committed, its answer lost, the member re-confirmed: counted once (or a letter names G-C1)", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { disabledApis: ["OtherDispatchOpenApi/GetVoucherDTO"] } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = startOfToday(e2e);
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
      )!;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    e2e.clock.advance(DAY);
    await e2e.run(TPLUS, {}, { fetch: lossyFirstCreate() });
    const c1 = e2e.stack.tplus
      .vouchers("otherDispatch")
      .map((v) => String(v.ExternalCode))
      .find((c) => /-C1$/.test(c));
    expect(c1).toBeDefined();
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Confirmed" });
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(DAY);
      await e2e.runToCompletion(TPLUS);
    }
    const letters = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error?.code]);
    if (letters.length === 0) {
      const group = `2024-06-19|${String(m.wms_co_id)}|`;
      assertTplusGroupInvariant(e2e, group, `the group after ${c1}'s lost answer`);
    } else expect(letters).toEqual([[c1, "write_unknown"]]);
  });
});
