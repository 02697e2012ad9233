/**
 * FINDING (adv19, write intents 1fe1973): a redated bill committed by a killed invocation is imaged on the built date,
 * re-opening adv7-redate-lost-answer for the intent path. Flow closedPeriod "redate", May closed: D dated 2024-05-31
 * is refused, sent again redated to 2024-06-01 (原日期 in the memo), committed, and the invocation is killed before
 * the answer (no error, so no `pending:` unit — only the page's intent, stored with the payload as BUILT, Fdate
 * 05-31). The next run meets D: write-intents.ts adoptIfOurs finds D by its number with the intent's lines and
 * records it with `documentImage` of the intent's payload (head 05-31), where the answered path images the redated
 * send (document-writer.ts recordWritten `writtenPayload`; pending-writes.ts notePendingOriginal `redatedSendOf`).
 * After 反结账 the user cancels D: D-R1 is dated 2024-05-31 (May open again, KIS takes it): +q on 06-01, −q on
 * 05-31, the per-day signed invariant broken, no letter. Control: the same with the answer arriving.
 */
import { describe, expect, it } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { type PeriodOptions, setPeriods } from "../emulators/periods.ts";
import type { E2E } from "../helpers/e2e.ts";
import { kisSignedLines } from "../helpers/signed-invariant.ts";
import { KIS, killAtCreate, waitFor, e2ePerTest } from "./adv19-intents-shared.ts";

const MIN = 60_000;
const start = e2ePerTest();

async function runs(env: E2E, n: number) {
  for (let run = 0; run < n; run++) {
    env.clock.advance(30 * MIN);
    await env.runToCompletion(KIS);
  }
}

function outcome(env: E2E, id: string) {
  const byDay: Record<string, number> = {};
  const bills = env.stack.kis.bills().filter((b) => b.FBillNo === id || b.FBillNo.startsWith(`${id}-`));
  for (const bill of bills) for (const l of kisSignedLines(bill as never)) byDay[`${l.day}|${l.sku}`] = (byDay[`${l.day}|${l.sku}`] ?? 0) + l.qty;
  const nonZero = Object.entries(byDay).filter(([, q]) => Math.abs(q) > 1e-9);
  return { bills: bills.map((b) => [b.FBillNo, String(b.Head.Fdate).slice(0, 10)]), nonZero };
}

async function scenario(killed: boolean) {
  const periods: PeriodOptions = { closedBefore: "2024-06-01", profile: "jiezhang" };
  const env = await start({ salesOut: 0, otherInOut: 40, kis: { periods } });
  env.flows[KIS]!.target.closedPeriod = "redate";
  expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
  env.clock.advance(30 * MIN);
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  const doc = jst.upsertDocument(JST_PATHS.otherInOut, { ...rest, io_date: "2024-05-31 23:00:00" });
  const id = String(doc.io_id);
  env.clock.advance(30 * MIN);
  // Create 1: refused (May closed); create 2: redated, committed; killed: its answer never arrives.
  if (killed) {
    void env.run(KIS, {}, { fetch: killAtCreate(true, () => true, 2) });
    await waitFor(() => env.stack.kis.bills().some((b) => b.FBillNo === id));
  } else await env.run(KIS);
  expect(outcome(env, id).bills).toEqual([[id, "2024-06-01"]]);
  env.clock.advance(60 * MIN); // the dead run's lease expires
  await runs(env, 2);
  setPeriods(periods, {});
  jst.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
  await runs(env, 2);
  return { id, after: outcome(env, id) };
}

/** The bill and its reversal, both on the booked day (June 1st), and nothing left per day and SKU. */
const reversedOnBookedDay = (id: string) => ({
  bills: [
    [id, "2024-06-01"],
    [`${id}-R1`, "2024-06-01"],
  ],
  nonZero: [],
});

describe("adv19 write intents: a redated bill committed by a killed invocation", () => {
  it("held (control): answered, then cancelled after 反结账: reversed on the booked day", async () => {
    const { id, after } = await scenario(false);
    expect(after).toEqual(reversedOnBookedDay(id));
  }, 120_000);

  it("fixed (was FINDING): killed before the answer, then cancelled after 反结账: reversed on the booked day", async () => {
    const { id, after } = await scenario(true);
    expect(after).toEqual(reversedOnBookedDay(id));
  }, 120_000);
});
