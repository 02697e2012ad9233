/**
 * Issue 16, closed periods `hold`: letters held as period_closed replay by themselves once the period reopens
 * (反结账): the next run tries the oldest held letter through the normal replay path; while the period is closed
 * that one refusal is all it costs, and once it is accepted the rest follow. Exactly once: each held document is
 * in the target once, and later runs write nothing more. Real engine, real clients, the emulators' period profile
 * (test/emulators/periods.ts) over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { DATE_FORMAT, formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { kisSource } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const letters = (e: E2E, status: "open" | "all" = "open", flow = KIS) => new FlowStateStore(e.kv).listDeadLetters(flow, { status });
const creates = (e: E2E) => e.stack.kis.requests().filter((r) => /\/create$/i.test(r.path)).length;

describe("closed periods: held letters replay when the period reopens", () => {
  it("KIS: held while closed (one try per run), replayed once by the next run after 反结账, nothing doubled", async () => {
    const periods = { closedBefore: "2024-06-01", profile: "yuejie" as const };
    e2e = await startE2E({ days: 25, otherInOut: 30, salesOut: 0, kis: { periods } });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("partial");
    const held = await letters(e2e);
    expect(held.length).toBeGreaterThan(1);
    expect(new Set(held.map((l) => l.error.code))).toEqual(new Set(["period_closed"]));

    // Still closed: the next run tries the oldest held letter once, and it stays held with the others.
    e2e.stack.kis.clearRequests();
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    expect(creates(e2e)).toBe(1);
    expect((await letters(e2e)).map((l) => l.id).sort()).toEqual(held.map((l) => l.id).sort());

    // 反结账: the next run replays every held letter.
    setPeriods(periods, {});
    e2e.clock.advance(15 * 60_000);
    await e2e.runToCompletion(KIS);
    expect(await letters(e2e)).toEqual([]);
    const resolved = (await letters(e2e, "all")).filter((l) => held.some((h) => h.id === l.id));
    expect(resolved.map((l) => l.resolved?.by)).toEqual(held.map(() => "auto: period reopened"));
    const billNos = e2e.stack.kis.bills().map((b) => b.FBillNo);
    expect(billNos.length).toBe(new Set(billNos).size);
    for (const l of held) expect(billNos).toContain(l.externalKey);
    assertSignedInvariant(kisSource(e2e), kisTotals(e2e.stack.kis.bills()), "after the period reopened");

    // Later runs: nothing more to write.
    e2e.clock.advance(15 * 60_000);
    const quiet = await e2e.runToCompletion(KIS);
    expect(quiet.reduce((n, r) => n + r.counts.written, 0)).toBe(0);
    expect(e2e.stack.kis.bills().length).toBe(billNos.length);
  });

  it("T+ merged: a member's group correction held as period_closed is replayed as planned once the period reopens", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const today = parseInZone(`${formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;
    const m = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .find(
        (d) =>
          Number(d.shop_id) === 0 &&
          d.status === "Confirmed" &&
          String(d.io_date).startsWith("2024-06-19") &&
          (d.items as Row[]).length >= 2 &&
          parseInZone(String(d.modified))! < today,
      )!;
    setPeriods(periods, { closedBefore: "2024-06-20" });
    const items = structuredClone(m.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 2;
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, items });
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    const held = (await letters(e2e, "open", TPLUS)).filter((l) => l.error.code === "period_closed");
    const correction = held.find((l) => /-C\d+(-B)?$/.test(String(l.externalKey)));
    expect(correction).toBeDefined();

    setPeriods(periods, {});
    e2e.clock.advance(DAY);
    await e2e.runToCompletion(TPLUS);
    expect((await letters(e2e, "open", TPLUS)).filter((l) => l.error.code === "period_closed")).toEqual([]);
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    expect(codes.filter((c) => c === correction!.externalKey)).toHaveLength(1);
    expect(codes.length).toBe(new Set(codes).size);
    const end = parseInZone(`${formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;
    const source = sourceTotals(
      e2e.stack.jushuitan.documents(JST_PATHS.salesOut),
      (d) => Number(d.shop_id) === 0 && parseInZone(String(d.io_date))! < end && parseInZone(String(d.modified))! < end,
    );
    assertSignedInvariant(source, tplusTotals(e2e.stack.tplus.vouchers("otherDispatch")), "after the period reopened");
  });
});
