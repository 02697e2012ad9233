/**
 * Figures that bench/index.ts reads from child processes. A child that failed must not yield a figure: a start-up
 * probe whose import threw printed nothing (Number("") = 0 ms, "met"), and a backfill that ended early or lost
 * documents (exit code 1) still printed a throughput and a peak RSS that the budget rows then judged.
 */
export interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** One start-up sample (ms) printed by the probe. */
export function startupSampleMs(r: ChildRun): number {
  const ms = r.stdout.trim() === "" ? Number.NaN : Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`start-up probe failed (exit ${r.status}): ${r.stderr.trim().split("\n")[0] ?? ""}`);
  return ms;
}

/** Throughput and peak RSS from bench/backfill.ts's text. */
export function backfillFiguresFrom(r: ChildRun, documents: number) {
  const text = `${r.stdout}\n${r.stderr}`;
  // backfill.ts exits 1 when the run did not succeed or documents are missing: its figures describe a failed run.
  if (r.status !== 0) throw new Error(`backfill failed (exit ${r.status}): ${text.trim().split("\n").slice(-3).join(" ")}`);
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]!.replace(/,/g, "")) : NaN;
  };
  return {
    documents,
    // Documents written per second (the budget figure); documents the flow's condition drops are read, never written.
    docsPerSec: num(/([\d,.]+)\s*documents written\/s/i),
    peakRssMb: num(/peak RSS[^\d]*([\d,.]+)\s*MB/i),
    calls: num(/([\d,]+)\s*API calls/i),
    minimum: num(/minimum[^\d]*([\d,]+)/i),
    raw: text.trim().split("\n").slice(-12).join("\n"),
  };
}
