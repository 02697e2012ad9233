/**
 * Adversary 7 (closedPeriod "redate" × documents followed after posting): a redated bill saved again, or whose answer
 * was lost, then cancelled after the period reopened.
 * Real engine, real KIS client, KIS and Jushuitan emulators over loopback HTTP, a manual clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FetchLike } from "../../shared/ports.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { setPeriods, type PeriodOptions } from "../emulators/periods.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisSignedLines } from "../helpers/signed-invariant.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function runs(env: E2E, n: number) {
  for (let run = 0; run < n; run++) {
    env.clock.advance(30 * MIN);
    await env.runToCompletion(KIS);
  }
}

/** A network whose `n`-th KIS create commits but loses its answer; nothing answers after it (the invocation dies). */
function lossyCreate(n: number): FetchLike {
  let creates = 0;
  let down = false;
  return async (input, init) => {
    if (down) throw new TypeError("network down");
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (/\/create$/i.test(url.pathname) && ++creates === n) {
      await fetch(input, init);
      down = true;
      throw new TypeError("connection reset");
    }
    return fetch(input, init);
  };
}

/** Per (day, sku) signed KIS quantities of D and its corrections that do not net to zero, and the bills. */
function outcome(env: E2E, id: string) {
  const byDay: Record<string, number> = {};
  const bills = env.stack.kis.bills().filter((b) => b.FBillNo === id || b.FBillNo.startsWith(`${id}-`));
  for (const bill of bills) for (const l of kisSignedLines(bill as never)) byDay[`${l.day}|${l.sku}`] = (byDay[`${l.day}|${l.sku}`] ?? 0) + l.qty;
  const nonZero = Object.entries(byDay).filter(([, q]) => Math.abs(q) > 1e-9);
  return { bills: bills.map((b) => [b.FBillNo, String(b.Head.Fdate).slice(0, 10)]), nonZero };
}

/**
 * Bill D dated 2024-05-31 arrives while May is closed (flow closedPeriod "redate"): posted on 2024-06-01. `lost`: that
 * redated create commits and its answer is lost; `resaved`: the user saves D again unchanged. Then May reopens and
 * D is cancelled. Returns the bills before the cancellation and the outcome after it.
 */
async function scenario(options: { lost: boolean; resaved: boolean }) {
  const periods: PeriodOptions = { closedBefore: "2024-06-01", profile: "jiezhang" };
  const env = (e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { periods } }));
  env.flows[KIS]!.target.closedPeriod = "redate";
  // The history is dated in June (days: 5), so nothing else is refused.
  expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
  env.clock.advance(30 * MIN);
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  const doc = jst.upsertDocument(JST_PATHS.otherInOut, { ...rest, io_date: "2024-05-31 23:00:00" });
  const id = String(doc.io_id);
  env.clock.advance(30 * MIN);
  // Create 1: refused (May closed); create 2: redated, committed, answer lost when `lost`.
  await env.run(KIS, {}, options.lost ? { fetch: lossyCreate(2) } : {});
  expect(
    env.stack.kis
      .bills()
      .filter((b) => b.FBillNo === id)
      .map((b) => String(b.Head.Fdate).slice(0, 10)),
  ).toEqual(["2024-06-01"]);
  if (options.resaved) jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id });
  await runs(env, 2);
  const before = outcome(env, id).bills;
  setPeriods(periods, {});
  jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
  await runs(env, 2);
  return { id, before, after: outcome(env, id) };
}

describe("adv7: a redated bill followed after posting", () => {
  // FINDING adv7-redate-reread. Flow closedPeriod "redate": D dated 2024-05-31 is booked on 2024-06-01 (原日期 in the
  // memo) and imaged as booked (adv16-redate-correction-other-day). The user saves D again unchanged.
  // Expected: nothing is written (D did not change); after 反结账 and a cancellation, D-R1 reverses it on 2024-06-01.
  // Actual: the re-read compares the image's head (2024-06-01) with the built one (2024-05-31): a "move"
  // (changes.ts samePlacement), so D-R1 (06-01) and D-B1 (05-31, refused, redated to 06-01) are written for an
  // unchanged document, and D-B1's image keeps the built head (05-31): the cancellation after 反结账 reverses on
  // 2024-05-31 (D-R2): +q on 06-01, −q on 05-31 (the signed invariant per day broken).
  // Fixed (placement.ts redatedFrom): a posted head that is the current one redated (its memo names the current date
  // as 原日期) is not a move.
  it("FINDING adv7-redate-reread: a redated bill saved again unchanged is not corrected; its reversal stands on the booked day", async () => {
    const { id, before, after } = await scenario({ lost: false, resaved: true });
    expect({ before, after }).toEqual({
      before: [[id, "2024-06-01"]],
      after: {
        bills: [
          [id, "2024-06-01"],
          [`${id}-R1`, "2024-06-01"],
        ],
        nonZero: [],
      },
    });
  }, 120_000);

  // FINDING adv7-redate-lost-answer. As above, but the redated create commits and its answer is lost (the invocation
  // dies). The next run finds D in KIS (pending-writes.ts) and records it.
  // Expected: the same: D-R1 on 2024-06-01 after the cancellation, per-day sums 0.
  // Actual: the write in doubt is kept (notePendingOriginal) with the before-image of the payload as built (Fdate
  // 2024-05-31): D-R1 is dated 2024-05-31 (May open again, KIS takes it): +q on 06-01, −q on 05-31.
  // Fixed (periods.ts redatedSendOf, pending-writes.ts): the write in doubt is the redated send, imaged as such.
  it("FINDING adv7-redate-lost-answer: a redated bill recorded after a lost answer is reversed on the booked day", async () => {
    const { id, before, after } = await scenario({ lost: true, resaved: false });
    expect({ before, after }).toEqual({
      before: [[id, "2024-06-01"]],
      after: {
        bills: [
          [id, "2024-06-01"],
          [`${id}-R1`, "2024-06-01"],
        ],
        nonZero: [],
      },
    });
  }, 120_000);
});
