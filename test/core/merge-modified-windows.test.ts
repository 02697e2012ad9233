/**
 * Issue 11 item 4 / adv11 finding 5, engine side: a merged flow that reads by `modified` and groups by io_date.
 * A range backfill must mean whole days (every group whose day lies in the range, none outside it), so such a
 * flow backfills by io_date (`source.rangeTimeField`). Real client, emulators over HTTP, real engine and state.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, expectedTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { parseInZone } from "../../shared/util/time.ts";

vi.setConfig({ testTimeout: 120_000 });

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("merged flow windowed on modified, grouped by io_date", () => {
  it("a range backfill produces every group whose day lies in the range and no group of a day outside it", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 200 });
    const flow = e2e.flows[TPLUS]!;
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    (flow.source as { rangeTimeField?: string }).rangeTimeField = "io_date";
    const jst = e2e.stack.jushuitan;
    // Some documents of the range's days were saved days later (late confirmations): they still belong to their day.
    const inRange = jst
      .documents(JST_PATHS.salesOut)
      .filter((d) => String(d.io_date).slice(0, 10) === "2024-06-17" && d.shop_id === 0 && d.status === "Confirmed");
    expect(inRange.length).toBeGreaterThan(0);
    e2e.clock.advance(2 * 86_400_000);
    jst.stampModified(JST_PATHS.salesOut, inRange[0]!.io_id as number, e2e.clock.now() - 3_600_000);
    const from = parseInZone("2024-06-16 00:00:00")!;
    const to = parseInZone("2024-06-18 00:00:00")!;
    const { summary } = await e2e.run(TPLUS, { range: { from, to } });
    expect(summary.outcome, JSON.stringify(summary.error)).toBe("success");
    const expected = expectedTargets(e2e, { kis: 0, tplusDayEnd: to }, from).tplus;
    expect(expected.size).toBeGreaterThan(0);
    expect(Object.fromEntries(actualTargets(e2e).tplus)).toEqual(Object.fromEntries(expected));
  });

  it("a group whose day is not over yet is held without failing the run, and written once its day is over", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const flow = e2e.flows[TPLUS]!;
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    // Saved today (06-20) with tomorrow's io_date: the window that reads it ends before its day does.
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed")!;
    const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
    const ahead = jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: "2024-06-21 09:00:00" });
    const outcomes = [];
    for (let i = 0; i < 2; i++) {
      e2e.clock.advance(86_400_000);
      const last = (await e2e.runToCompletion(TPLUS)).at(-1)!;
      outcomes.push(last.error?.code ?? last.outcome);
    }
    expect(outcomes).toEqual(["success", "success"]);
    const expected = expectedTargets(e2e, { kis: 0, tplusDayEnd: parseInZone("2024-06-22 00:00:00")! }).tplus;
    expect(expected.has(`SO-2024-06-21-${String(ahead.wms_co_id)}`)).toBe(true);
    expect(Object.fromEntries(actualTargets(e2e).tplus)).toEqual(Object.fromEntries(expected));
  });
});
