/**
 * The long chaos suite: `npm run chaos -- --runs 200 --seed S [--parallel N] [--profile long|quick]`.
 * Runs the seeded chaos scenarios of test/worker/chaos.test.ts inside workerd (through vitest), split into
 * N vitest processes over consecutive seed ranges, each with its own emulator hub; collects one result line
 * per run, then prints per fault class how many runs had it and how many of those failed, the seeds of the
 * failures, and the totals. Exits non-zero when any run failed (or a shard did not report every seed).
 * `--failures FILE` appends each failed run's whole result (its notes: invocations, edits, letters) as one JSON line,
 * so a failure seen only inside a batch can be studied afterwards.
 */
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";

interface RunResult {
  seed: number;
  faults: string[];
  drawn?: string[];
  ticks: number;
  lost: number;
  duplicated: number;
  unexpectedDeadLetters: number;
  missingDeadLetters: number;
  /** Correction documents the targets held at the end (issue 16). */
  corrections?: { reversals: number; rebooked: number; deltas: number; groupCorrections: number; supplements: number };
  edits?: number;
  ok: boolean;
  details: string[];
  notes?: string[];
  durationMs: number;
}

const MARKER = "CHAOS_RESULT ";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "200" },
    seed: { type: "string", default: String(Date.now() % 1_000_000_000) },
    parallel: { type: "string" },
    profile: { type: "string", default: "long" },
    verbose: { type: "boolean", default: false },
    failures: { type: "string" },
  },
});

const runs = positiveInt(values.runs, "--runs");
const seed = nonNegativeInt(values.seed, "--seed");
const profile = values.profile === "quick" ? "quick" : "long";
// Runs mostly wait (backoffs, lease expiry, KV's one write per second per key), so more shards than cores pay off.
const parallel = Math.min(runs, values.parallel ? positiveInt(values.parallel, "--parallel") : Math.max(2, availableParallelism() * 2));

function positiveInt(text: string | undefined, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} must be a whole number ≥ 1 (got "${text}")`);
    process.exit(2);
  }
  return n;
}

function nonNegativeInt(text: string | undefined, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} must be a whole number ≥ 0 (got "${text}")`);
    process.exit(2);
  }
  return n;
}

/** One vitest process over seeds [from, from + count). */
function runShard(from: number, count: number, onResult: (r: RunResult) => void): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "--project", "worker", "test/worker/chaos.test.ts"], {
      env: { ...process.env, CHAOS_RUNS: String(count), CHAOS_SEED: String(from), CHAOS_PROFILE: profile, CHAOS_REPORT: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffer = "";
    let tail = "";
    const consume = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-4000);
      buffer += text;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const at = line.indexOf(MARKER);
        if (at < 0) continue;
        try {
          onResult(JSON.parse(line.slice(at + MARKER.length)) as RunResult);
        } catch {
          // a line cut by the reporter: the seed shows up as missing
        }
      }
    };
    child.stdout.on("data", consume);
    child.stderr.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-4000);
    });
    child.on("close", (code) => resolve({ code, tail }));
  });
}

const started = Date.now();
const results = new Map<number, RunResult>();
console.log(`chaos: ${runs} runs from seed ${seed} (${profile} profile) in ${parallel} vitest processes`);

const shards: Array<{ from: number; count: number }> = [];
for (let i = 0, from = seed; i < parallel; i++) {
  const count = Math.floor(runs / parallel) + (i < runs % parallel ? 1 : 0);
  if (count > 0) shards.push({ from, count });
  from += count;
}
const exits = await Promise.all(
  shards.map((s) =>
    runShard(s.from, s.count, (r) => {
      results.set(r.seed, r);
      const fixed = r.corrections ? r.corrections.reversals + r.corrections.rebooked + r.corrections.deltas + r.corrections.groupCorrections : 0;
      const line = `${String(results.size).padStart(4)}/${runs}  seed ${r.seed}  ${r.ok ? "ok  " : "FAIL"}  ${(r.durationMs / 1000).toFixed(1)} s  ${r.ticks} ticks  ${r.edits ?? 0} edits  ${fixed} corrections  ${r.faults.join(" ")}`;
      console.log(line);
      if (!r.ok || values.verbose) for (const d of r.details) console.log(`        ${d}`);
      if (!r.ok && values.failures) appendFileSync(values.failures, `${JSON.stringify({ ...r, at: new Date().toISOString() })}\n`);
    }),
  ),
);
const elapsed = Date.now() - started;

// ---- report ---------------------------------------------------------------------------------------------
const all = [...results.values()].sort((a, b) => a.seed - b.seed);
const missing: number[] = [];
for (let s = seed; s < seed + runs; s++) if (!results.has(s)) missing.push(s);
const failures = all.filter((r) => !r.ok);

const byClass = new Map<string, { runs: number; failures: number }>();
for (const r of all) {
  for (const f of r.faults) {
    const c = byClass.get(f) ?? { runs: 0, failures: 0 };
    c.runs++;
    if (!r.ok) c.failures++;
    byClass.set(f, c);
  }
}
console.log("\nper fault class (runs where it took effect):");
console.log(`  ${"class".padEnd(28)} ${"runs".padStart(5)} ${"failed".padStart(7)}`);
for (const [name, c] of [...byClass].sort((a, b) => a[0].localeCompare(b[0]))) {
  console.log(`  ${name.padEnd(28)} ${String(c.runs).padStart(5)} ${String(c.failures).padStart(7)}`);
}

const sum = (f: (r: RunResult) => number) => all.reduce((n, r) => n + f(r), 0);
const durations = all.map((r) => r.durationMs).sort((a, b) => a - b);
console.log("\ntotals:");
console.log(
  `  runs               ${all.length} of ${runs}${missing.length ? ` (no result for ${missing.length}: ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? " …" : ""})` : ""}`,
);
console.log(`  failed             ${failures.length}${failures.length ? `  seeds: ${failures.map((r) => r.seed).join(", ")}` : ""}`);
console.log(`  lost               ${sum((r) => r.lost)}`);
console.log(`  duplicated         ${sum((r) => r.duplicated)}`);
console.log(`  dead letters       ${sum((r) => r.unexpectedDeadLetters)} unexpected, ${sum((r) => r.missingDeadLetters)} missing`);
console.log(`  invocations        ${sum((r) => r.ticks)}`);
// Issue 16: the edits and cancellations made, and the corrections they caused (the figures show they happen).
const fixes = (k: keyof NonNullable<RunResult["corrections"]>) => sum((r) => r.corrections?.[k] ?? 0);
console.log(`  source edits       ${sum((r) => r.edits ?? 0)} (between and during runs)`);
console.log(
  `  corrections        ${fixes("reversals") + fixes("rebooked") + fixes("deltas") + fixes("groupCorrections")}: KIS ${fixes("reversals")} reversals (-R), ${fixes("rebooked")} re-booked (-B), ${fixes("deltas")} deltas (-C); T+ ${fixes("groupCorrections")} group corrections (-C); ${fixes("supplements")} supplements (-S)`,
);
if (durations.length) {
  console.log(
    `  run time           median ${(durations[Math.floor(durations.length / 2)]! / 1000).toFixed(1)} s, max ${(durations.at(-1)! / 1000).toFixed(1)} s`,
  );
}
console.log(`  wall time          ${(elapsed / 1000).toFixed(0)} s`);

const crashed = exits.filter((x, i) => x.code !== 0 && shards[i] && [...Array(shards[i]!.count).keys()].some((k) => !results.has(shards[i]!.from + k)));
for (const x of crashed) console.log(`\na vitest process ended with code ${x.code} before reporting every seed; its last output:\n${x.tail}`);

process.exit(failures.length > 0 || missing.length > 0 ? 1 : 0);
