/**
 * Read side of the engine against the Jushuitan emulator over HTTP (issue 11): rows exactly on a window
 * edge, edits during a scan, lost checkpoints. The emulator's end bound is inclusive, as Jushuitan's may be.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { parseInZone } from "../../shared/util/time.ts";

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
    const row = addSalesOut(e2e, "2024-06-17 00:00:00");
    const runs = await e2e.runToCompletion(TPLUS);
    const last = runs.at(-1)!;
    expect(last.outcome).toBe("success");
    // Windows end at 06-20 00:00 (the unfinished day is left out): the watermark reaches it.
    expect(last.watermarkAfter).toBe(parseInZone("2024-06-20 00:00:00"));
    const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.some((c) => c.startsWith(`SO-2024-06-17-${String(row.wms_co_id)}`))).toBe(true);
    expect(codes.some((c) => c.startsWith("SO-2024-06-19"))).toBe(true);
  });

  it("a merge group still open after its window ended fails the run (an alert), never a silent success", async () => {
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
    expect(last.outcome).toBe("failed");
    expect(last.error?.code).toBe("merge_group_held");
  });
});
