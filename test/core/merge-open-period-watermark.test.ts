/**
 * An open merge group holds the watermark, through the engine (tests-audit F6 / mutant M6: `held > 0` flipped in
 * shared/engine/run.ts survived every test, because the seed flow merges by day on day-aligned windows, where no
 * group is ever open at a window's end).
 *
 * The T+ seed flow with a `month` period: every document of the harness is in June 2024 and the clock stands on
 * 2024-06-20, so every group is still open. Whatever the engine does with that (hold the watermark, or fail the run
 * so it is seen), it must not write a group of an open month and must not move the watermark past a document it did
 * not write: that document would never be read again. (Must fail first: with `held > 0` → `held < 0` on the
 * window-field branch, the watermark moves past every document and nothing is written.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseInZone } from "../../shared/util/time.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("merge groups of a period that is not over", () => {
  it("a month period: nothing of the open month is written and the watermark stays before its documents", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge" || !flow.operation.period) throw new Error("the T+ seed flow merges by period");
    flow.operation.period.unit = "month";
    // The io_date option (the seed's former windows): this case is about the window-field branch of the hold, where
    // a group still open at a past window's end fails the run (groups on the window field). The seed's default
    // (windows on modified, groups by io_date) holds through heldFrom, which the next case covers.
    flow.source.params = { ...flow.source.params, date_type: 2 };
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback

    const summaries = await e2e.runToCompletion(TPLUS);
    expect(summaries.length).toBeGreaterThan(0);
    expect(e2e.stack.tplus.vouchers("otherDispatch")).toEqual([]);

    const relevant = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .filter((d) => d.status === "Confirmed" && Number(d.shop_id) === 0)
      .map((d) => parseInZone(String(d.io_date), flow.timezone)!);
    expect(relevant.length).toBeGreaterThan(5);
    const saved = await new FlowStateStore(e2e.kv).getWatermark(TPLUS);
    const watermark = Number(saved?.watermark ?? Number.NEGATIVE_INFINITY);
    const passed = relevant.filter((at) => at < watermark);
    expect(passed, `watermark ${new Date(watermark).toISOString()} passed unwritten documents`).toEqual([]);
  });

  it("a month period on the seed's windows by modified: nothing written, the watermark stays before the earliest member's modified", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const flow = e2e.flows[TPLUS]!;
    if (flow.operation?.type !== "merge" || !flow.operation.period) throw new Error("the T+ seed flow merges by period");
    flow.operation.period.unit = "month";

    const summaries = await e2e.runToCompletion(TPLUS);
    expect(summaries.map((s) => s.outcome)).not.toContain("failed");
    expect(e2e.stack.tplus.vouchers("otherDispatch")).toEqual([]);
    // The watermark is on the window field (modified) here: heldFrom keeps it before every held member's save.
    const relevant = e2e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .filter((d) => d.status === "Confirmed" && Number(d.shop_id) === 0)
      .map((d) => parseInZone(String(d.modified), flow.timezone)!);
    expect(relevant.length).toBeGreaterThan(5);
    const saved = await new FlowStateStore(e2e.kv).getWatermark(TPLUS);
    const watermark = Number(saved?.watermark ?? Number.NEGATIVE_INFINITY);
    expect(relevant.filter((at) => at < watermark)).toEqual([]);
  });

  it("groups by io_date on windows by modified: today's open day holds the watermark without failing the run, and is written once it is over", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const flow = e2e.flows[TPLUS]!;
    flow.source.timeField = "modified";
    flow.source.params = { ...flow.source.params, date_type: 0 };
    const today = (d: Record<string, unknown>) => String(d.io_date).startsWith("2024-06-20");
    const relevant = () => e2e!.stack.jushuitan.documents(JST_PATHS.salesOut).filter((d) => d.status === "Confirmed" && Number(d.shop_id) === 0);
    // A sale dated today (2024-06-20, Asia/Shanghai) but saved yesterday evening (dated ahead of its save): the
    // windows on `modified` read it in yesterday's window, while its group's day is not over.
    const sample = relevant()[0]!;
    const ahead = e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, {
      ...structuredClone(sample),
      io_id: undefined,
      o_id: Number(sample.o_id) + 900_000,
      io_date: "2024-06-20 09:00:00",
    });
    e2e.stack.jushuitan.stampModified(JST_PATHS.salesOut, String(ahead.io_id), parseInZone("2024-06-19 20:00:00", flow.timezone)!, false);
    expect(relevant().filter(today).length).toBe(1);

    const summaries = await e2e.runToCompletion(TPLUS);
    expect(summaries.map((s) => s.outcome)).not.toContain("failed");
    const written = () => e2e!.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode));
    expect(written().length).toBeGreaterThan(0);
    expect(written().filter((code) => code.includes("2024-06-20"))).toEqual([]);
    const saved = await new FlowStateStore(e2e.kv).getWatermark(TPLUS);
    const watermark = Number(saved?.watermark ?? Number.NEGATIVE_INFINITY);
    const passed = relevant().filter((d) => today(d) && parseInZone(String(d.modified), flow.timezone)! < watermark);
    expect(passed.map((d) => d.io_id)).toEqual([]);

    e2e.clock.advance(24 * 3_600_000); // the day is over
    const later = await e2e.runToCompletion(TPLUS);
    expect(later.map((s) => s.outcome)).not.toContain("failed");
    expect(written().filter((code) => code.includes("2024-06-20")).length).toBeGreaterThan(0);
  });
});
