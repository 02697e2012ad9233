/**
 * Adversary (issue 18 item 5, the benchmarks' honesty): bench/index.ts judged figures printed by child processes
 * without looking at how the child ended.
 * - Start-up: a Worker whose module evaluation throws makes the probe print nothing; Number("") is 0, so the row
 *   "Worker start-up < 1,000 ms" read 0.0 ms and was met. Expected: no figure (an error). Actual: 0.
 * - Backfill: bench/backfill.ts exits 1 when the run did not succeed or documents went missing, but still prints
 *   its throughput and peak RSS; index.ts parsed them and judged the ≤ 120 MB / ≥ 500 documents/s rows (a run
 *   that stopped early peaks lower). Expected: no figure. Actual: the figures of the failed run.
 */
import { describe, expect, it } from "vitest";
import { backfillFiguresFrom, startupSampleMs } from "../../bench/child-figures.ts";

describe("bench figures from a failed child process", () => {
  it("a start-up probe that crashed gives no sample", () => {
    expect(startupSampleMs({ status: 0, stdout: "42.5\n", stderr: "" })).toBe(42.5);
    expect(() => startupSampleMs({ status: 1, stdout: "", stderr: "Error: boom at start-up" })).toThrow(/start-up probe failed/);
  });

  it("a backfill that exited 1 gives no throughput or peak RSS", () => {
    const printed =
      "2,000 documents (2000 written, 0 left out) in 1.0 s = 2000 documents written/s; 60 API calls (minimum 60: …); peak RSS 80 MB (goal ≤ 120 MB)";
    expect(backfillFiguresFrom({ status: 0, stdout: printed, stderr: "" }, 2000)).toMatchObject({ docsPerSec: 2000, peakRssMb: 80 });
    expect(() => backfillFiguresFrom({ status: 1, stdout: printed, stderr: "" }, 100_000)).toThrow(/backfill failed/);
  });
});
