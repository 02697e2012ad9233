/**
 * `node bench/backfill.ts [documents=100000] [days=60]`: a backfill of N Jushuitan other-in/out documents into
 * KIS through the CLI code path (`jst-bridge sync`, file state, windows of one day) against the emulators over
 * loopback HTTP. Reported: documents written/second (and read/second), API calls against the minimum (source pages + target writes),
 * peak RSS (goal ≤ 120 MB, issue 18: pages stream, each window's state is dropped when it is done).
 *
 * The CLI runs as a child process (bench/backfill-driver.mjs) from an esbuild bundle built exactly like
 * action/dist/cli.js, so its peak RSS is the CLI's own (not the emulators', not the TypeScript loader's).
 * Its clock skips sleeps: the Jushuitan client's proactive limiter (100 requests/minute, the real API's
 * limit) would otherwise hold 100,000 documents for ~35 minutes; the wait a real run would have had is
 * printed. The emulators' own limits are off. The flow is the seed jst-other-in-to-kis without its
 * status/type filters (so every generated document is read and written), mapping and page size (30) unchanged.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { DAY_MS } from "../shared/engine/window.ts";
import { SEED_FLOW_DOCUMENTS } from "../shared/flows/index.ts";
import { formatInZone, startOfDayInZone } from "../shared/util/time.ts";
import { JST_PATHS } from "../test/emulators/jushuitan/index.ts";
import { serveOnLoopback } from "../test/emulators/node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows } from "../test/emulators/stack.ts";
import { backfillThroughput, syncFigures } from "./honesty.ts";

const DOCUMENTS = Number(process.argv[2] ?? 100_000);
const DAYS = Number(process.argv[3] ?? 60);
const ROOT = join(import.meta.dirname, "..");
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
const mb = (bytes: number | undefined) => Math.round((bytes ?? 0) / 1048576);
const parseShanghai = (s: unknown) => Date.parse(`${String(s).replace(" ", "T")}+08:00`);

const today = startOfDayInZone(Date.now());
const from = today - DAYS * DAY_MS;
const stack = createEmulatorStack({
  jushuitan: {
    seed: 2024,
    documents: { [JST_PATHS.otherInOut]: DOCUMENTS, [JST_PATHS.salesOut]: 0, [JST_PATHS.purchaseIn]: 0, [JST_PATHS.aftersaleReceived]: 0 },
    range: { from, to: today - 60_000 },
    limits: { perSecond: null, perMinute: null },
    // The CLI's clock skips the limiter's waits, so its timestamps run ahead of real time.
    timestampSkewSeconds: 365 * 86_400,
  },
});
const jst = await serveOnLoopback(stack.jushuitan.app);
const kis = await serveOnLoopback(stack.kis.app);
const dir = await mkdtemp(join(tmpdir(), "jst-bridge-bench-"));

try {
  await build({
    absWorkingDir: ROOT,
    entryPoints: ["action/cli/main.ts"],
    outfile: join(dir, "cli-main.mjs"),
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    minify: true,
    banner: { js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);" },
    logLevel: "warning",
  });
  const flow = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as {
    id: string;
    source: { params: Record<string, unknown>; paging: { pageSize: number } };
  };
  flow.id = "bench-other-in-to-kis";
  delete flow.source.params.status;
  delete flow.source.params.types;
  await writeFile(join(dir, "flow.json"), JSON.stringify(flow));
  const env: Record<string, string> = { ...stack.env({ jushuitan: jst.url, tplus: "http://127.0.0.1:9", kis: kis.url }) };
  // e.g. BENCH_ENV="TRACE_INDEX=off KIS_PRECHECK=after_unknown_outcome" to measure what a setting costs.
  for (const pair of (process.env.BENCH_ENV ?? "").split(" ").filter(Boolean)) env[pair.split("=")[0]!] = pair.slice(pair.indexOf("=") + 1);
  await writeFile(
    join(dir, ".env"),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  await writeFile(join(dir, "warehouses.json"), JSON.stringify(warehouseReferenceRows()));

  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(" ") : []),
      join(import.meta.dirname, "backfill-driver.mjs"),
      join(dir, "cli-main.mjs"),
      dir,
      day(from),
      day(today - DAY_MS),
    ],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const { report, seconds, rssBeforeSync, heapBeforeSync, peakRss, skippedMs, samples } = JSON.parse(stdout.trim().split("\n").at(-1)!);
  const c = report.counts;
  // KIS_PRECHECK=always (the default) looks every bill up before creating it: one list call per write is part of the minimum.
  const prechecks = (report.api as Array<{ endpoint: string; calls: number }>).filter((a) => a.endpoint.endsWith("/list")).reduce((n, a) => n + a.calls, 0);
  // The minimum from the source's own numbers (bench/honesty.ts), not from the run judged: per window the CLI read, the
  // pages its rows need; one write and (KIS_PRECHECK=always, the default) one precheck per document passing the
  // flow's condition (the seed's status = Confirmed; its status/type params are removed above).
  const rows = stack.jushuitan.documents(JST_PATHS.otherInOut).map((r) => ({ at: parseShanghai(r.modified), confirmed: r.status === "Confirmed" }));
  const source = {
    rowsPerWindow: (report.windowBounds as Array<{ from: number; to: number }>).map((w) => rows.filter((r) => r.at >= w.from && r.at < w.to).length),
    pageSize: flow.source.paging.pageSize,
    documentsToWrite: rows.filter((r) => r.confirmed).length,
    prechecksPerWrite: (env.KIS_PRECHECK ?? "always") === "always" ? (1 as const) : (0 as const),
  };
  const { minimum, minimumPages } = syncFigures(source, { calls: report.subrequests, pagesRead: report.pages, written: c.written, kvWrites: 0 });
  const figures = {
    documents: DOCUMENTS,
    windows: report.windows,
    outcome: report.outcome,
    read: c.read,
    written: c.written,
    // Documents the flow's condition leaves out (the seed flow's other-in filter): read, never written.
    dropped: c.dropped,
    prechecks,
    deadLettered: c.deadLettered,
    seconds: Number(seconds.toFixed(1)),
    // Written per second is the budget figure (bench/honesty.ts); read per second includes the dropped documents.
    ...backfillThroughput(c, seconds),
    apiCalls: report.subrequests,
    minimumApiCalls: minimum,
    sourcePages: report.pages,
    rssBeforeSyncMb: Math.round(rssBeforeSync / 1048576),
    peakRssMb: Math.round(peakRss / 1048576),
    // The sampled memory at the highest RSS seen (bench/backfill-driver.mjs): V8 heap, buffers outside it, the rest.
    heapBeforeSyncMb: mb(heapBeforeSync),
    atPeak: {
      rssMb: mb(samples.peak.rss),
      heapUsedMb: mb(samples.peak.heapUsed),
      heapTotalMb: mb(samples.peak.heapTotal),
      externalMb: mb(samples.peak.external),
      arrayBuffersMb: mb(samples.peak.arrayBuffers),
    },
    maxHeapUsedMb: mb(samples.maxHeapUsed),
    rateLimitWaitSkippedMinutes: Number((skippedMs / 60_000).toFixed(1)),
  };
  console.log(JSON.stringify(figures, null, 2));
  console.log(
    `\n${(c.written + c.dropped).toLocaleString("en-US")} documents (${c.written} written, ${c.dropped} left out by the flow's condition) in ${figures.seconds} s = ${figures.writtenPerSecond} documents written/s (${figures.readPerSecond} read/s); ` +
      `${figures.apiCalls.toLocaleString("en-US")} API calls (minimum ${minimum.toLocaleString("en-US")}: ${minimumPages} source pages + ${source.documentsToWrite} target writes × ${1 + source.prechecksPerWrite} with the KIS precheck; read ${report.pages} pages, ${prechecks} prechecks); ` +
      `peak RSS ${figures.peakRssMb} MB (goal ≤ 120 MB); a real run would also wait ${figures.rateLimitWaitSkippedMinutes} min for Jushuitan's 100 requests/minute.`,
  );
  if (report.outcome !== "success" || c.written + c.dropped !== DOCUMENTS) process.exitCode = 1;
} finally {
  await Promise.all([jst.close(), kis.close()]);
  await rm(dir, { recursive: true, force: true });
}
