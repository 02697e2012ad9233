// The measured process of bench/backfill.ts: plain JavaScript (no TypeScript loader), importing the CLI bundle
// and running `jst-bridge` commands with a clock that skips sleeps. Prints one JSON line with the results.
//   node bench/backfill-driver.mjs <cli bundle> <working dir> <from yyyy-MM-dd> <to yyyy-MM-dd>
import { pathToFileURL } from "node:url";

const [bundle, cwd, from, to] = process.argv.slice(2);
const { runCli, tuneHeapForStreaming } = await import(pathToFileURL(bundle).href);
tuneHeapForStreaming(); // as action/cli.ts does

/** Real time plus every sleep skipped so far: waits cost nothing, order and timestamps stay consistent. */
const clock = {
  skipped: 0,
  now() {
    return Date.now() + this.skipped;
  },
  sleep(ms, signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.skipped += Math.max(0, ms);
    return Promise.resolve();
  },
};

let stdout = "";
const io = { env: {}, cwd, clock, stdout: { write: (t) => (stdout += t) }, stderr: process.stderr, wallNow: () => performance.now() };
async function cli(argv) {
  stdout = "";
  const code = await runCli(argv, io);
  if (code !== 0) throw new Error(`jst-bridge ${argv.join(" ")} exited ${code}: ${stdout}`);
  return stdout;
}

await cli(["reference", "upload", "warehouses", "warehouses.json"]);
await cli(["reference", "refresh", "kis_materials", "--flow", "flow.json"]);
const rssBeforeSync = process.memoryUsage().rss;
const heapBeforeSync = process.memoryUsage().heapUsed;
// Where the peak RSS is: the process's memory sampled every BENCH_SAMPLE_MS (default 100) during the sync; the sample
// with the highest RSS is reported (V8 heap used/total, external, array buffers; the rest is code, stacks and malloc).
const samples = { peak: { rss: 0 }, maxHeapUsed: 0, count: 0 };
const sampler = setInterval(
  () => {
    const m = process.memoryUsage();
    samples.count++;
    if (m.heapUsed > samples.maxHeapUsed) samples.maxHeapUsed = m.heapUsed;
    if (m.rss > samples.peak.rss) samples.peak = m;
  },
  Number(process.env.BENCH_SAMPLE_MS ?? 100),
);
sampler.unref();
// A heap snapshot mid-sync: BENCH_NODE_FLAGS="--heapsnapshot-signal=SIGUSR2", then `kill -USR2 <driver pid>`.
const started = performance.now();
const report = JSON.parse(await cli(["sync", "flow.json", "--from", from, "--to", to, "--json"]));
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
process.stdout.write(
  `${JSON.stringify({ report: { ...report, windows: report.windows.length, windowBounds: report.windows.map((w) => ({ from: w.from, to: w.to })) }, seconds, rssBeforeSync, heapBeforeSync, peakRss: process.resourceUsage().maxRSS * 1024, skippedMs: clock.skipped, samples })}\n`,
);
