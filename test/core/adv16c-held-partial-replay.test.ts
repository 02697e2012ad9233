/**
 * Adversary 16c: a held two-step event (KIS reverse_repost of a moved bill: R1 on the posted day, B1 on the new day)
 * whose replay writes R1 and is refused at B1 (periods reopen from the latest back), then the bill moves back.
 * Real engine, real clients, KIS emulator (period profile) over loopback HTTP; explicit clocks; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";
import { firstPostedKisDocument, settleKis as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const shift = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

describe("adversary 16c: a held event replayed in part, then the bill moves back", () => {
  // Held up (adversary 16c): the partial replay's R1 is settled (the next event reposts B1 on the day the bill is back on).
  it("the bill counts once where it is", async () => {
    const periods: { closedBefore?: string } = {};
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, kis: { periods } });
    await e2e.runToCompletion(KIS);
    const doc = firstPostedKisDocument(e2e);
    const id = String(doc.io_id);
    const home = String(doc.io_date);
    const day = home.slice(0, 10);
    setPeriods(periods, { closedBefore: shift(day, 1) }); // the posted day and every earlier one closed
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, io_date: `${shift(day, -3)}${home.slice(10)}` });
    await settle(e2e);
    const store = new FlowStateStore(e2e.kv);
    const open = async () => (await store.listDeadLetters(KIS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error?.code]);
    setPeriods(periods, { closedBefore: shift(day, -2) }); // 反结账 of the posted day; the new day stays closed
    await settle(e2e);
    const mine = () => e2e!.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`));
    e2e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, io_date: home });
    await settle(e2e);
    setPeriods(periods, {});
    await settle(e2e);
    await settle(e2e, DAY);
    const source = sourceTotals([e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.io_id === doc.io_id)!]);
    assertSignedInvariant(source, kisTotals(mine()), "the bill moved back");
    expect(await open()).toEqual([]);
  });
});
