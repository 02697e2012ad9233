/**
 * Issue 11 item 3: visibility lag and clock skew are measured per run and kept in the run record. Lag is measured
 * from the data: a row written now that an earlier run read past without seeing was visible at least
 * (that run's read end − the row's instant) late. Real client, emulators over HTTP, real engine and state.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { actualTargets, startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 60_000 });

const KIS = "jst-other-in-to-kis";
const MINUTE = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("visibility lag and clock skew in the run record", () => {
  it("a row the lookback catches after an earlier run read past it is reported late, with the lag it proves", async () => {
    // Rows show up 8 minutes after their modified, Jushuitan's clock runs 3 minutes behind the host's.
    e2e = await startE2E({ otherInOut: 200, salesOut: 0, jushuitan: { visibilityLagMs: 8 * MINUTE, clockOffsetMs: -3 * MINUTE } });
    const jst = e2e.stack.jushuitan;
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
    // Saved 10 minutes ago: inside the first run's window (it ends at Jushuitan's clock − 5 min end lag, 8 minutes
    // ago), but visible only from Jushuitan's clock − 8 min lag, 11 minutes ago: the first run cannot see it.
    const late = jst.upsertDocument(JST_PATHS.otherInOut, rest);
    jst.stampModified(JST_PATHS.otherInOut, late.io_id as number, e2e.clock.now() - 10 * MINUTE);
    const first = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(first.outcome).toBe("success");
    expect(actualTargets(e2e).kis.has(String(late.io_id))).toBe(false);
    expect(first.source?.late).toBeUndefined();
    expect(first.source?.clockSkewMs).toBeLessThan(-2 * MINUTE);
    expect(first.source?.clockSkewMs).toBeGreaterThan(-4 * MINUTE);

    e2e.clock.advance(10 * MINUTE);
    const second = (await e2e.runToCompletion(KIS)).at(-1)!;
    expect(actualTargets(e2e).kis.has(String(late.io_id))).toBe(true);
    // The first run read up to 8 minutes ago and missed a row saved 10 minutes ago: it was at least 2 minutes + the
    // 5 min end lag late (7 minutes), never more than its real lag (8 minutes).
    expect(second.source?.late?.rows).toBe(1);
    expect(second.source!.late!.minLagMs).toBeGreaterThan(4 * MINUTE);
    expect(second.source!.late!.minLagMs).toBeLessThanOrEqual(8 * MINUTE);
  });
});
