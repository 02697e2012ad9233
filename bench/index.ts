/**
 * `npm run bench`: every headline figure measured in one run, printed as one table with its goal.
 * Each row comes from its own script (run as a child process so measurements don't disturb each other):
 *   bench/mapping.ts  — mapping throughput: core vs JSONata vs hand-written; CPU per 50-document page
 *   bench/mapping-kis.ts — per-document mapping, KIS seed flow (no merge): core vs JSONata vs hand-written
 *   bench/sync.ts     — API calls vs the minimum; KV writes per 1,000 documents; wall time under real rate limits
 *   bench/backfill.ts — 100,000-document CLI backfill: documents written/second and peak RSS
 *   bench/freshness.ts — lag from 聚水潭 modified to the posted document, 1-min cron (Paid) and 5-min cron (Free)
 *   (here)            — Worker bundle size from `wrangler deploy --dry-run`, and start-up (module evaluation) time
 * Options: --quick (a 20,000-document backfill instead of 100,000; its rows are not the budget rows and carry no verdict).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { backfillFiguresFrom, startupSampleMs } from "./child-figures.ts";
import { BUDGET_DOCUMENTS, backfillRows, type Row } from "./honesty.ts";

const ROOT = join(import.meta.dirname, "..");
const quick = process.argv.includes("--quick");
const node = process.execPath;

function runJson(script: string, args: string[] = []): Record<string, any> {
  const out = execFileSync(node, [join(ROOT, script), ...args, "--json"], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const line = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1);
  if (!line) throw new Error(`${script} printed no JSON result`);
  return JSON.parse(line);
}

function bundleFigures() {
  const dir = mkdtempSync(join(tmpdir(), "jst-bridge-bench-bundle-"));
  try {
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", dir], {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    const file = readdirSync(dir).find((f) => f.endsWith(".js"))!;
    const bytes = readFileSync(join(dir, file));
    return { rawKiB: statSync(join(dir, file)).size / 1024, gzipKiB: gzipSync(bytes).length / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Start-up: parse + evaluate the Worker's code (as Workers do at start-up), median of fresh processes. */
async function startupMs(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "jst-bridge-bench-startup-"));
  try {
    const stub = join(dir, "cloudflare-workers-stub.js");
    writeFileSync(stub, "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }\nexport const env = {};\n");
    await build({
      entryPoints: [join(ROOT, "worker/index.ts")],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "browser"],
      alias: { "cloudflare:workers": stub },
      outfile: join(dir, "worker.mjs"),
      logLevel: "silent",
    });
    const probe = join(dir, "probe.mjs");
    writeFileSync(probe, `const t = performance.now(); await import("./worker.mjs"); console.log(performance.now() - t);\n`);
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      times.push(startupSampleMs(spawnSync(node, [probe], { encoding: "utf8" })));
    }
    return times.sort((a, b) => a - b)[3]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function backfillFigures() {
  const docs = quick ? 20_000 : BUDGET_DOCUMENTS;
  const r = spawnSync(node, [join(ROOT, "bench/backfill.ts"), String(docs)], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  try {
    return backfillFiguresFrom(r, docs);
  } catch (error) {
    console.error(String(error)); // the rows below then read NaN: missed, never met
    return { documents: docs, docsPerSec: Number.NaN, peakRssMb: Number.NaN, calls: Number.NaN, minimum: Number.NaN, raw: String(error) };
  }
}

const rows: Row[] = [];
const started = Date.now();
console.log("measuring… (mapping, sync, bundle, start-up, backfill — a few minutes)");

const mapping = runJson("bench/mapping.ts");
rows.push([
  "Mapping: core vs JSONata (docs/s)",
  `${mapping.speedupVsJsonata.toFixed(1)}× (${Math.round(mapping.coreDocsPerSec).toLocaleString()} vs ${Math.round(mapping.jsonataDocsPerSec).toLocaleString()})`,
  "≥ 30×",
  mapping.speedupVsJsonata >= 30,
]);
rows.push([
  "Mapping: core vs hand-written (time; median of per-round ratios)",
  `${mapping.overHand.toFixed(2)}× (${mapping.overHandMin.toFixed(2)}–${mapping.overHandMax.toFixed(2)})`,
  "≤ 1.3×",
  mapping.overHand <= 1.3,
]);
rows.push([
  "CPU per 50-document page (incl. JSON.parse)",
  `${mapping.corePageMs.toFixed(3)} ms (JSON.parse alone ${mapping.parsePageMs.toFixed(3)} ms of a ${mapping.pageKiB.toFixed(0)} KiB page)`,
  "≤ 0.5 ms",
  mapping.corePageMs <= 0.5,
]);

const kis = runJson("bench/mapping-kis.ts");
rows.push([
  "Mapping per document, KIS seed flow (no merge)",
  `core ${kis.coreUsPerDoc.toFixed(1)} µs (incl. hash ${kis.hashUsPerDoc.toFixed(1)} µs), hand-written ${kis.handUsPerDoc.toFixed(1)} µs, JSONata ${kis.jsonataUsPerDoc.toFixed(1)} µs`,
  "—",
  null,
]);
rows.push([
  "Mapping alone, KIS seed flow: core vs hand-written (median of per-round ratios)",
  `${kis.overHand.toFixed(2)}× (${kis.overHandMin.toFixed(2)}–${kis.overHandMax.toFixed(2)}); ${kis.speedupVsJsonata.toFixed(1)}× faster than JSONata`,
  "≤ 1.3×",
  kis.overHand <= 1.3,
]);
rows.push([
  "Mapping + content hash, KIS seed flow: core vs hand-written (informational)",
  `${kis.withHashOverHand.toFixed(2)}× (${kis.withHashOverHandMin.toFixed(2)}–${kis.withHashOverHandMax.toFixed(2)})`,
  "—",
  null,
]);
const fresh = runJson("bench/freshness.ts") as unknown as { rows: Array<{ label: string; p95: string; p95Ms: number }> };
for (const r of fresh.rows)
  rows.push([
    `Freshness: ${r.label}, p95 (posted − modified)`,
    r.p95,
    r.label.startsWith("Paid, 1-min cron, end lag 1") ? "≤ 2 min" : "—",
    r.label.startsWith("Paid, 1-min cron, end lag 1") ? r.p95Ms <= 120_000 : null,
  ]);

const sync = runJson("bench/sync.ts");
rows.push([
  "API calls per sync vs minimum (one invocation)",
  `${sync["unlimited.calls"]} / ${sync["unlimited.minimum"]}`,
  "equal",
  sync["unlimited.calls"] === sync["unlimited.minimum"],
]);
rows.push([
  "API calls vs minimum, Free budget (50/invocation)",
  `${sync["free.calls"]} / ${sync["free.minimum"]} over ${sync["free.invocations"]} invocations`,
  "equal",
  sync["free.calls"] === sync["free.minimum"],
]);
rows.push([
  "Wall time, real rate limits (5/s, 100/min)",
  `${(sync.wall.wallMs / 1000).toFixed(2)} s vs floor ${(sync.wall.floorMs / 1000).toFixed(2)} s = ${sync.wall.ratio.toFixed(2)}× (${sync.wall.throttles} throttled answers)`,
  "≤ 1.15×",
  sync.wall.ratio <= 1.15,
]);
rows.push(["KV writes per 1,000 documents (one invocation)", sync["unlimited.kvWritesPer1000"].toFixed(1), "≤ 25", sync["unlimited.kvWritesPer1000"] <= 25]);
rows.push([
  "KV writes per 1,000 documents, Free budget (continuation state in the Durable Object)",
  `${sync["free.kvWritesPer1000"].toFixed(1)} (${sync["free.invocations"]} invocations)`,
  "≤ 25",
  sync["free.kvWritesPer1000"] <= 25,
]);

const bundle = bundleFigures();
rows.push([
  "Worker bundle (wrangler deploy --dry-run), gzip",
  `${bundle.gzipKiB.toFixed(1)} KiB (${bundle.rawKiB.toFixed(0)} KiB raw)`,
  "≤ 110 KiB",
  bundle.gzipKiB <= 110,
]);
const startup = await startupMs();
rows.push(["Worker start-up (module parse + evaluate, Node)", `${startup.toFixed(1)} ms`, "< 1,000 ms (platform limit)", startup < 1000]);

const backfill = backfillFigures();
rows.push(...backfillRows(backfill, quick));

const width = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length)), Math.max(...rows.map((r) => r[2].length))];
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i] ?? 4)).join(" | ")} |`;
console.log(
  `\njst-bridge benchmarks — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
console.log(line(["measure", "measured", "goal", "met"]));
console.log(`|${width.map((w) => "-".repeat(w + 2)).join("|")}|------|`);
for (const r of rows) console.log(line([r[0], r[1], r[2], r[3] === null ? "—" : r[3] ? "yes" : "NO"]));
if (Number.isNaN(backfill.peakRssMb)) console.log(`\nbackfill output (could not read figures):\n${backfill.raw}`);
