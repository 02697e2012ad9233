/**
 * Adversary 16c: a merged member that does not map alone (member-lines.ts: imaged as its group share), cancelled while
 * its day's voucher plan is held for a closed period. Real engine, real clients, T+ emulator (period profile) over
 * loopback HTTP; explicit clocks; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { addShareImagedPair } from "../helpers/share-imaged.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertTplusGroupInvariant, settleTplusDay as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16c: a member that maps only in its group, cancelled while the group's plan is held", () => {
  // Held up (adversary 16c): the member's cancellation read while the day's plan is held becomes a held group
  // correction (…-C1) replayed after the plan; the group sums to the source.
  it("the cancelled member counts 0 after 反结账", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { periods } });
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const { day, m } = addShareImagedPair(e2e);
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
    setPeriods(periods, { closedBefore: next }); // the day of both documents is closed before its voucher is written
    await settle(e2e);
    const store = new FlowStateStore(e2e.kv);
    const open = async () => (await store.listDeadLetters(TPLUS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error?.code]);
    jst.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    await settle(e2e);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e);
    const group = `${day}|${String(m.wms_co_id)}|`;
    assertTplusGroupInvariant(e2e, group, "after 反结账");
    expect(await open()).toEqual([]);
  });
});
