/**
 * `npm run mutation` (issue 18): StrykerJS (stryker.config.mjs, vitest runner, per-test coverage) one module at a
 * time, each with the `core` test files that target it (PLAN below), then a table module → killed / timeout /
 * survived / no coverage / errors / score. A module's score is a lower bound: test files outside its list may kill
 * more. Each module's report is kept in reports/mutation/modules/, so a run of some modules still prints the rest.
 *
 *   npm run mutation                                    every module of PLAN (one to two hours at concurrency 1)
 *   npm run mutation -- shared/engine/run-ledger.ts     only these modules
 *   npm run mutation -- --table                         print the table of the stored reports, run nothing
 *   npm run mutation -- --all                           Stryker over stryker.config.mjs with every core test (hours)
 *
 * MUTATION_CONCURRENCY (default 1) is passed to Stryker: the test processes it runs side by side.
 * Score = (killed + timeout) / (killed + timeout + survived + no coverage), Stryker's "total" score.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

/** Module → the test files that target it (engine modules: the engine tests that drive their paths end to end). */
const ENGINE_WRITES = [
  "test/core/engine-e2e.test.ts",
  "test/core/engine-resilience.test.ts",
  "test/core/engine-write-once.test.ts",
  "test/core/engine-verify-existing.test.ts",
  "test/core/engine-account-errors.test.ts",
];
export const PLAN: Record<string, string[]> = {
  "shared/transform/merge-policy.ts": ["test/core/flow-merge.test.ts", "test/core/merge-policy-edges.test.ts", "test/core/flow-fixtures.test.ts"],
  "shared/connectors/target.ts": ["test/core/engine-account-errors.test.ts", "test/core/kis-target.test.ts"],
  // changes-resumed-plan: writePlan reads back the parts it wrote this run (the in-run shadow); adv18: a failed letter save.
  "shared/engine/run-ledger.ts": [
    ...ENGINE_WRITES,
    "test/core/engine-ledger-edges.test.ts",
    "test/core/changes-resumed-plan.test.ts",
    "test/core/adv18-dead-letter-marker.test.ts",
  ],
  // merge-open-period-watermark: a held group's watermark (advancePast); poison-tiny-budget, state-continuation-carry: the cursor.
  "shared/engine/checkpoint-writer.ts": [
    ...ENGINE_WRITES,
    "test/core/engine-window.test.ts",
    "test/core/held-watermark-stale-cursor.test.ts",
    "test/core/merge-open-period-watermark.test.ts",
    "test/core/poison-tiny-budget.test.ts",
    "test/core/state-continuation-carry.test.ts",
    "test/core/checkpoint-writer-edges.test.ts",
  ],
  "shared/engine/window.ts": ["test/core/engine-window.test.ts", "test/core/window-edges.test.ts"],
  // visibility-lag: late rows (noteLateRows); poison-tiny-budget: the budget spent mid-retry; engine-ledger-edges: supplements.
  "shared/engine/document-writer.ts": [
    ...ENGINE_WRITES,
    "test/core/recovery-takeover.test.ts",
    "test/core/visibility-lag.test.ts",
    "test/core/poison-tiny-budget.test.ts",
    "test/core/engine-ledger-edges.test.ts",
    "test/core/checkpoint-writer-edges.test.ts",
    "test/core/document-writer-edges.test.ts",
    "test/core/document-writer-mutants.test.ts",
    "test/core/document-writer-survivors.test.ts",
  ],
  // adv12-index-reset: a plan lost with its parts in the ledger (lostPlan); adv12-poison-part-replay: a part dead-lettered
  // as poison; changes-resumed-plan, adv16c-resumed-plan-move: a started plan finished; changes-conflict-group: a refused part;
  // outbox-writer-units: settleThroughOutbox at unit level (every path above, and those no engine test reaches).
  "shared/engine/outbox-writer.ts": [
    ...ENGINE_WRITES,
    "test/core/adv12-outbox-list-lag.test.ts",
    "test/core/merge-numbers.test.ts",
    "test/core/adv12-index-reset.test.ts",
    "test/core/adv12-poison-part-replay.test.ts",
    "test/core/changes-resumed-plan.test.ts",
    "test/core/adv16c-resumed-plan-move.test.ts",
    "test/core/changes-conflict-group.test.ts",
    "test/core/adv12-merge-registry-lost.test.ts",
    "test/core/outbox-writer-mutants.test.ts",
    "test/core/outbox-writer-units.test.ts",
    // Adversary 16d: a plan lost between parts (newPlan, strayPart, lostPlan's images).
    "test/core/adv16d-lost-plan-images.test.ts",
    "test/core/adv16d-lost-plan-letter.test.ts",
    "test/core/adv16d-lost-plan-stops.test.ts",
    "test/core/adv16d-lost-plan-orphan.test.ts",
    "test/core/adv16d-lost-plan-supplement-split.test.ts",
  ],
  "shared/state/state-store.ts": [
    "test/core/state-store.test.ts",
    "test/core/state-write-budget.test.ts",
    "test/core/state-registry-union.test.ts",
    "test/core/state-store-mutants.test.ts",
  ],
  // The ledger's in-memory index and compaction (through the real FlowStateStore on memory KV).
  "shared/state/ledger-index.ts": [
    "test/core/ledger-index-memory.test.ts",
    "test/core/ledger-index-mutants.test.ts",
    "test/core/state-store.test.ts",
    "test/core/state-write-budget.test.ts",
    "test/core/state-registry-union.test.ts",
    "test/core/state-ledger-cache.test.ts",
  ],
  // The engine's state over the flow index (MemoryFlowCoordinator: the Durable Object's rules in memory), tested directly.
  // The engine tests over the index (adv12-*, adv18-carry-*, state-continuation-carry) drive it too, but every mutant
  // reaches them all: ~30 s a mutant on a shared 2-core machine, 2 h for the module. Listed here: the direct tests.
  "shared/state/indexed-state.ts": ["test/core/state-flow-index.test.ts", "test/core/indexed-state-mutants.test.ts"],
  // Reading one window: paging, halving over the request cap, the source clock's cut (small data, a second or two a test).
  // engine-read-boundaries, adv11-read-once, merge-day-over-cap and engine-resilience reach it too, at ~85 s a surviving
  // mutant on a shared 2-core machine (hours for the module); add them for a slower, fuller score.
  "shared/engine/window-scan.ts": ["test/core/engine-e2e.test.ts", "test/core/window-scan-mutants.test.ts"],
  "shared/transform/merge.ts": [
    "test/core/flow-merge.test.ts",
    "test/core/merge-numbers.test.ts",
    "test/core/flow-fixtures.test.ts",
    "test/core/merge-mutants.test.ts",
  ],
};

const REPORT = "reports/mutation/mutation.json";
const MODULES_DIR = "reports/mutation/modules";

interface Counts {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
}

const slug = (module: string) => module.replace(/[/\\]/g, "__");

function countsByFile(report: string): Map<string, Counts> {
  const json = JSON.parse(readFileSync(report, "utf8")) as { files: Record<string, { mutants: { status: string }[] }> };
  const out = new Map<string, Counts>();
  for (const [file, { mutants }] of Object.entries(json.files)) {
    const c: Counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
    for (const { status } of mutants) {
      if (status === "Killed") c.killed++;
      else if (status === "Timeout") c.timeout++;
      else if (status === "Survived") c.survived++;
      else if (status === "NoCoverage") c.noCoverage++;
      else if (status === "CompileError" || status === "RuntimeError") c.errors++;
    }
    out.set(file, c);
  }
  return out;
}

function score(c: Counts): string {
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived + c.noCoverage;
  return valid === 0 ? "n/a" : `${((100 * detected) / valid).toFixed(1)} %`;
}

function runStryker(module: string | undefined, tests: string[] | undefined): number {
  const args = ["run", "--concurrency", process.env.MUTATION_CONCURRENCY ?? "1", ...(module ? ["--mutate", module] : [])];
  const env = { ...process.env, ...(tests ? { MUTATION_TESTS: tests.join(",") } : {}) };
  console.log(`\n== stryker ${args.join(" ")}${tests ? `  (tests: ${tests.join(", ")})` : ""}`);
  const result = spawnSync(join("node_modules", ".bin", "stryker"), args, { stdio: "inherit", env });
  return result.status ?? 1;
}

/** The stored per-module reports (or, after --all, its one report) as table rows: module, counts, when measured. */
function printTable(all = false): void {
  const rows: { module: string; c: Counts; when: string }[] = [];
  const add = (path: string) => {
    const when = statSync(path).mtime.toISOString().slice(0, 16).replace("T", " ");
    for (const [module, c] of countsByFile(path)) rows.push({ module, c, when });
  };
  if (all) {
    if (existsSync(REPORT)) add(REPORT);
  } else if (existsSync(MODULES_DIR)) {
    for (const name of readdirSync(MODULES_DIR).filter((n) => n.endsWith(".json"))) add(join(MODULES_DIR, name));
  }
  rows.sort((a, b) => a.module.localeCompare(b.module));
  const head = ["module", "killed", "timeout", "survived", "no cov", "errors", "score", "measured (UTC)"];
  const body = rows.map(({ module, c, when }) => [module, c.killed, c.timeout, c.survived, c.noCoverage, c.errors, score(c), when].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ")} |`;
  console.log(`\n${line(head)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of body) console.log(line(r));
  const notScored = Object.keys(PLAN).filter((m) => !rows.some((r) => r.module === m));
  if (notScored.length) console.log(`\nnot scored yet: ${notScored.join(", ")}`);
}

function main(): number {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { table: { type: "boolean" }, all: { type: "boolean" } } });
  if (values.table) {
    printTable();
    return 0;
  }
  if (values.all) {
    const status = runStryker(undefined, undefined);
    printTable(true);
    return status;
  }
  const modules = positionals.length ? positionals : Object.keys(PLAN);
  const unknown = modules.filter((m) => !PLAN[m]);
  if (unknown.length) {
    console.error(`not in scripts/mutation.ts PLAN: ${unknown.join(", ")} (add the module with the test files that target it)`);
    return 2;
  }
  mkdirSync(MODULES_DIR, { recursive: true });
  let failed = 0;
  for (const module of modules) {
    if (runStryker(module, PLAN[module]) !== 0) {
      failed++;
      continue;
    }
    copyFileSync(REPORT, join(MODULES_DIR, `${slug(module)}.json`));
  }
  printTable();
  return failed ? 1 : 0;
}

process.exit(main());
