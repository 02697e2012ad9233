/**
 * Read side of the engine against the Jushuitan emulator over HTTP (issue 11): rows exactly on a window
 * edge, edits during a scan, lost checkpoints. The emulator's end bound is inclusive, as Jushuitan's may be.
 */
import { assertSignedInvariant, kisTotals, sourceTotals } from "../helpers/signed-invariant.ts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { parseInZone } from "../../shared/util/time.ts";

// Thousands of documents over loopback HTTP: seconds each, more on a loaded machine.
vi.setConfig({ testTimeout: 60_000 });

const TPLUS = "jst-sales-out-to-tplus";
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** An offline-shop sales-out cloned from an existing one, with the given io_date text. */
function addSalesOut(env: E2E, ioDate: string) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed")!;
  const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: ioDate });
}

describe("windows own their rows: [from, to) on the window's field", () => {
  it("a sales-out stamped exactly 00:00:00 on a window end does not hold the merge flow; every day is written once", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    // The io_date window option (the seed reads by modified since issue 11 item 4; io_date stays available).
    const flow = e2e.flows[TPLUS]!;
    flow.source.params.date_type = 2;
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback
    const row = addSalesOut(e2e, "2024-06-17 00:00:00");
    const runs = await e2e.runToCompletion(TPLUS);
    const last = runs.at(-1)!;
    expect(last.outcome).toBe("success");
    // Windows end at 06-20 00:00 (the unfinished day is left out): the watermark reaches it.
    expect(last.watermarkAfter).toBe(parseInZone("2024-06-20 00:00:00"));
    // Sales-out rows carry ts and the endpoint takes start_ts with its filters: read by rowversion (in the run record).
    expect(new Set(runs.flatMap((r) => r.windows.map((w) => w.paging)))).toEqual(new Set(["rowversion"]));
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.some((c) => c.startsWith(`SO-2024-06-17-${String(row.wms_co_id)}`))).toBe(true);
    expect(codes.some((c) => c.startsWith("SO-2024-06-19"))).toBe(true);
  });

  it("windows on modified, groups by io_date: a group open at its window's end but whose day is over by the run is written, never a silent stop", async () => {
    // (adv11 finding 5: the group's day, not the window's end, decides; a day over by the run's clock is closed.)
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    // Windows by modified, groups by io_date: a document modified on 06-16 for io_date 06-18 is open at the 06-17 end.
    const flow = e2e.flows[TPLUS]!;
    flow.source.params.date_type = 0;
    flow.source.timeField = "modified";
    e2e.clock.set(parseInZone("2024-06-16 12:00:00")!);
    addSalesOut(e2e, "2024-06-18 09:00:00");
    e2e.clock.set(parseInZone("2024-06-20 10:00:00")!);
    const runs = await e2e.runToCompletion(TPLUS);
    const last = runs.at(-1)!;
    expect(last.outcome, JSON.stringify(last.error)).toBe("success");
    expect([...actualTargets(e2e).tplus.keys()].some((k) => k.startsWith("SO-2024-06-18-"))).toBe(true);
  });
});

/** KIS holds exactly the other-inout documents modified before now − lag, one bill each. */
function expectKisExact(env: E2E, allowCancelled = false) {
  const expected = expectedTargets(env, { kis: env.clock.now() - 5 * 60_000, tplusDayEnd: 0 }).kis;
  const actual = actualTargets(env);
  expect(expected.size).toBeGreaterThan(10);
  const missing = [...expected.keys()].filter((k) => !actual.kis.has(k));
  expect(missing).toEqual([]);
  if (allowCancelled) {
    // A cancelled document already written is reversed by a red bill <io_id>-R1 (issue 16): the signed totals match.
    const until = env.clock.now() - 5 * 60_000;
    const source = sourceTotals(env.stack.jushuitan.documents(JST_PATHS.otherInOut), (d) => d.type === "其它退货" && parseInZone(String(d.modified))! < until);
    assertSignedInvariant(source, kisTotals(env.stack.kis.bills()));
    return;
  }
  expect(Object.fromEntries(actual.kis)).toEqual(Object.fromEntries(expected));
  expect(actual.kisCount).toBe(expected.size);
}

describe("paging that edits cannot shift", () => {
  for (const change of ["edit", "cancel"] as const) {
    it(`rows already served are ${change === "edit" ? "re-saved" : "cancelled"} mid-scan (before 30 requests): nothing is skipped`, async () => {
      e2e = await startE2E({ otherInOut: 3000, salesOut: 0, days: 3 });
      e2e.stack.jushuitan.addFaults({ kind: "editServed", path: "/open/other/inout/query", skip: 1, times: 30, count: 1, change });
      const runs = await e2e.runToCompletion(KIS);
      expect(runs.at(-1)!.outcome).toBe("success");
      // Other-inout rows carry no ts (the emulator's evidence profile): keyset on modified.
      expect(new Set(runs.flatMap((r) => r.windows.map((w) => w.paging)))).toEqual(new Set(["keyset"]));
      // The edited row now has a later `modified`: an hour on, every document is in range and written exactly once.
      e2e.stack.jushuitan.clearFaults();
      e2e.clock.advance(3_600_000);
      expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
      // A cancelled document already written is reversed (issue 16): its bill and red bill net to zero.
      expectKisExact(e2e, change === "cancel");
    });
  }

  it("budgeted runs: a row served by the previous invocation is edited before the next one resumes", async () => {
    e2e = await startE2E({ otherInOut: 3000, salesOut: 0, days: 3 });
    const jst = e2e.stack.jushuitan;
    const summaries = [];
    for (let i = 0; i < 200; i++) {
      // Between invocations (30 minutes apart in a Worker), a user re-saves a document this scan already read.
      if (i > 0) jst.addFaults({ kind: "editServed", path: "/open/other/inout/query", count: 1 });
      const { summary } = await e2e.run(KIS, { budget: { maxSubrequests: 4 } });
      summaries.push(summary);
      if (!summary.continues && summary.outcome === "success") break;
    }
    expect(summaries.at(-1)!.outcome).toBe("success");
    jst.clearFaults();
    e2e.clock.advance(3_600_000);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    expectKisExact(e2e);
  });
});

describe("watermarks bounded by the source's clock", () => {
  it("a host clock 20 minutes ahead of Jushuitan's does not move the watermark past rows Jushuitan stamps later", async () => {
    e2e = await startE2E({ otherInOut: 400, salesOut: 0, jushuitan: { clockOffsetMs: -20 * 60_000 } });
    const first = await e2e.runToCompletion(KIS);
    expect(first.at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    e2e.clock.advance(60_000);
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
    // Stamped by Jushuitan's clock: host now − 19 min.
    const late = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    for (let i = 0; i < 8; i++) {
      e2e.clock.advance(10 * 60_000);
      expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    }
    expect(actualTargets(e2e).kis.has(String(late.io_id))).toBe(true);
    expectKisExact(e2e);
    // Measured from the Date header, recorded in the run record, with how far the windows were cut.
    expect(first.at(-1)!.source?.clockSkewMs).toBeLessThan(-19 * 60_000);
    expect(first.some((r) => (r.source?.windowEndCutMs ?? 0) > 10 * 60_000)).toBe(true);
  });
});

describe("a lost checkpoint", () => {
  it("with a ledger present fails with a clear error asking for startAt instead of restarting at now − 1 day", async () => {
    e2e = await startE2E({ otherInOut: 400, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    await e2e.kv.delete(`wm:${KIS}`);
    delete e2e.flows[KIS]!.incremental.startAt;
    e2e.clock.advance(3 * 86_400_000);
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).toBe("failed");
    expect(summary.error?.code).toBe("checkpoint_missing");
    expect(summary.error?.hint).toMatch(/startAt/);
    // With startAt set the flow resumes from there (the ledger skips what is already written).
    e2e.flows[KIS]!.incremental.startAt = "2024-06-19 00:00:00";
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
  });
});

describe("windows too big for the request cap", () => {
  it("are halved when the first answer's data_count exceeds cap × page size; every document is written once", async () => {
    // JST_MAX_PAGES_PER_WINDOW=2 with pages of 30: a window may hold 60 rows; a day here holds about 250.
    e2e = await startE2E({ otherInOut: 3000, salesOut: 0, days: 3, env: { JST_MAX_PAGES_PER_WINDOW: "2" } });
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("success");
    const windows = runs.flatMap((r) => r.windows);
    // Halved until each fits: half-day windows, none read with more rows than the cap allows.
    expect(windows.filter((w) => w.complete && w.to - w.from <= 12 * 3_600_000).length).toBeGreaterThan(2);
    expect(windows.every((w) => w.rows <= 60 || !w.complete)).toBe(true);
    e2e.clock.advance(3_600_000);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    expectKisExact(e2e);
  }, 60_000);
});

describe("the periodic wide re-sweep", () => {
  it("finds a document that became visible later than lookback + end lag, writes it once and reports it", async () => {
    // Rows show up in queries 30 minutes after their modified: more than lookback (10) + end lag (5).
    e2e = await startE2E({ otherInOut: 400, salesOut: 0, jushuitan: { visibilityLagMs: 30 * 60_000 } });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    e2e.clock.advance(60_000);
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
    const late = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    for (let i = 0; i < 12; i++) {
      e2e.clock.advance(10 * 60_000);
      expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    }
    // The incremental runs missed it (the lag is beyond their overlap) …
    expect(actualTargets(e2e).kis.has(String(late.io_id))).toBe(false);
    // … the nightly re-sweep over the last 3 days finds it.
    e2e.clock.advance(24 * 3_600_000);
    await e2e.runToCompletion(KIS);
    expect(actualTargets(e2e).kis.has(String(late.io_id))).toBe(true);
    const { FlowStateStore } = await import("../../shared/state/state-store.ts");
    const records = await new FlowStateStore(e2e.kv).listRuns(KIS, 50);
    const resweep = records.find((r) => (r as { resweep?: unknown }).resweep !== undefined) as unknown as
      | { resweep: { found: number; days: number } }
      | undefined;
    expect(resweep?.resweep).toMatchObject({ found: 1, days: 3 });
    expectKisExact(e2e);
  });
});

describe("io_date windows (the T+ seed's former setting, still an option) and late confirmations", () => {
  it("a sale confirmed two days after its io_date is missed by the io_date windows but found by the re-sweep", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    // The seed reads by modified now (adv11-late-confirm covers that); this is the io_date option and its risk.
    const flow = e2e.flows[TPLUS]!;
    flow.source.params.date_type = 2;
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    // Two days later, a sale dated two days back is confirmed (a 线下 order confirmed late).
    e2e.clock.advance(2 * 86_400_000);
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    addSalesOut(e2e, "2024-06-20 15:00:00");
    e2e.clock.advance(86_400_000);
    const runs = await e2e.runToCompletion(TPLUS);
    expect(runs.at(-1)!.outcome).toBe("success");
    const expected = expectedTargets(e2e, { kis: 0, tplusDayEnd: parseInZone("2024-06-23 00:00:00")! }).tplus;
    const actual = actualTargets(e2e);
    expect(Object.fromEntries(actual.tplus)).toEqual(Object.fromEntries(expected));
    // Written by the re-sweep (its run record says it found one document).
    const { FlowStateStore } = await import("../../shared/state/state-store.ts");
    const records = (await new FlowStateStore(e2e.kv).listRuns(TPLUS, 50)) as unknown as Array<{ resweep?: { found: number } }>;
    expect(records.filter((r) => r.resweep).map((r) => r.resweep!.found)).toContain(1);
  });
});
