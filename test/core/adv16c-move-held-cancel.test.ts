/**
 * Adversary 16c: a KIS bill moved into a closed period (placement.ts: reversed on the posted head, reposted on the
 * current one), then cancelled while the repost is held. Real engine, real clients, KIS emulator (period profile) over
 * loopback HTTP; explicit clocks; the signed invariant per (day, warehouse, sku).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals } from "../helpers/signed-invariant.ts";
import { firstPostedKisDocument, settleKis as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const dayBefore = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) - n * DAY).toISOString().slice(0, 10);

describe("adversary 16c: a bill moved into a closed period, then cancelled while its repost is held", () => {
  // FINDING adv16c-move-held-cancel (KIS, closedPeriod hold). Bill D posted on day X (open) has its io_date edited to
  // X−3, a closed period. placement.ts says "moved": D-R1 on the posted head (X) is written and settles D's image to
  // {no lines, n 0}; D-B1 on X−3 is refused and held (period_closed, its letter holds B1 and the image after it).
  // D is then cancelled. The run reads it: changes.ts reviewDropped finds an image without lines → "new" (nothing
  // posted), and held-letters.ts dropped withdraws only letters rebuilt from a document row (isDocumentLetter), not
  // the held correction letter of D-B1. 4 days later 反结账: the held replay books D-B1 on X−3; nothing reads D again
  // (its cancel is outside the lookback and the re-sweep's 3 days).
  // Expected: D counts 0 (B1's letter withdrawn when D was read cancelled, or a D-R2 after the replay).
  // Actual: X−3 holds D's lines while D is cancelled (observed 2024-06-12|10818: BB600-32 +28, MZ500-13 +7,
  // NZK30-32 +27, NZK30-44 +23), no letter open.
  // Fault: change-writer.ts reviewBuilt → held-letters.ts dropped: a document whose held event already wrote its
  // first step (image emptied by R1) is taken for "never posted" and its held correction letters are left to replay.
  it("FINDING adv16c-move-held-cancel: the cancelled bill counts 0 after 反结账", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, kis: { periods } });
    await e2e.runToCompletion(KIS);
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const day = String(doc.io_date).slice(0, 10);
    setPeriods(periods, { closedBefore: day }); // the posted day stays open, every earlier day is closed
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, io_date: `${dayBefore(day, 3)}${String(doc.io_date).slice(10)}` });
    await settle(e2e);
    const store = new FlowStateStore(e2e.kv);
    expect(e2e.stack.kis.bills().map((b) => String(b.FBillNo))).toContain(`${id}-R1`);
    expect((await store.listDeadLetters(KIS)).map((l) => [l.externalKey, l.error?.code])).toEqual([[`${id}-B1`, "period_closed"]]);
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
    await settle(e2e);
    for (let i = 0; i < 4; i++) await settle(e2e, DAY);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e, DAY);
    await settle(e2e, DAY);
    const mine = e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    assertSignedInvariant(new Map(), kisTotals(mine), "the cancelled bill after 反结账");
    expect((await store.listDeadLetters(KIS)).filter((l) => !l.resolved)).toEqual([]);
  });
});
