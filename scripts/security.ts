/**
 * `npm run security`: the long security checks that do not fit the quick suite.
 *   1. the canary matrix: for each connector an upstream echoing every credential it was sent, then every
 *      output searched for every secret (secrets × outputs; must be 0 leaks) — test/helpers/canary-matrix.ts;
 *   2. the expression-interpreter fuzz with many more cases than `npm test` (default 100,000; --cases N --seed S);
 *   3. `npm audit --omit=dev` (production dependencies), summarised by severity.
 * The canary-secret, authentication, body-limit and template-isolation checks run in `npm test`
 * (test/core/security-secrets.test.ts, test/worker/security.test.ts, test/worker/api.test.ts).
 */
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { CANARY_SCENARIOS, OUTPUTS, runCanaryScenario } from "../test/helpers/canary-matrix.ts";
import { runFuzz } from "../test/helpers/template-fuzz.ts";

const { values: options } = parseArgs({ options: { cases: { type: "string", default: "100000" }, seed: { type: "string", default: "20261123" } } });
const cases = Number(options.cases);
const seed = Number(options.seed);
let failed = false;

console.log(
  "canary matrix: secrets × outputs (leaks per cell; every secret the deployment knows, incl. echoed and rotated tokens, each echoed and searched in every encoded form: \\uXXXX, \\/, %xx, HTML, base64)",
);
console.log(`  ${"scenario".padEnd(72)}${"secrets".padStart(8)}  ${OUTPUTS.map((o) => o.padStart(13)).join("")}`);
let totalLeaks = 0;
let cells = 0;
for (const scenario of CANARY_SCENARIOS) {
  const result = await runCanaryScenario(scenario);
  const row = OUTPUTS.map((o) => {
    if (result.checked[o] > 0) cells += result.secrets;
    const n = result.leaks.filter((l) => l.output === o).length;
    totalLeaks += n;
    return String(result.checked[o] > 0 ? n : "–").padStart(13);
  });
  console.log(`  ${result.scenario.slice(0, 70).padEnd(72)}${String(result.secrets).padStart(8)}  ${row.join("")}`);
  for (const l of result.leaks) console.log(`    LEAK ${l.output}: ${l.secret.slice(0, 6)}…`);
}
console.log(`  ${cells} secret × output checks, ${totalLeaks} leaks ("–": the output was empty in that scenario)`);
console.log("  also in npm test: the Worker (responses, dashboard, Worker logs, stored state, alert body: test/worker/security-canary.test.ts)");
console.log("  and the Action (annotations, failure, logs, summary, core.setSecret: test/core/action-secrets.test.ts)");
if (totalLeaks > 0) failed = true;

const started = performance.now();
const report = runFuzz(cases, seed);
const seconds = (performance.now() - started) / 1000;
console.log(`template fuzz: ${report.cases} cases (seed ${seed}) in ${seconds.toFixed(1)} s`);
console.log(
  `  compiled ${report.compiled}, syntax errors ${report.syntaxErrors}, eval errors ${report.evalErrors}, lookup misses ${report.lookupMisses}, values ${report.values}`,
);
console.log(`  generated valid expressions compiled: ${report.validCompiled}/${report.validGenerated}; slowest case ${report.slowest.ms.toFixed(1)} ms`);
console.log(`  prototypes intact: ${report.prototypesIntact}; failures: ${report.failures.length}`);
for (const f of report.failures.slice(0, 10)) console.log(`  FAIL [${f.phase}] ${f.problem}: ${JSON.stringify(f.source).slice(0, 200)}`);
if (report.failures.length > 0 || !report.prototypesIntact || report.validCompiled !== report.validGenerated) failed = true;

try {
  const out = execFileSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  summariseAudit(out);
} catch (error) {
  // npm audit exits non-zero when it finds anything; its JSON is still on stdout.
  const out = (error as { stdout?: string }).stdout;
  if (out) summariseAudit(out);
  else {
    console.log(`npm audit could not run (${String((error as Error).message).split("\n")[0]}): no registry access?`);
  }
}

function summariseAudit(json: string) {
  const parsed = JSON.parse(json) as { message?: string; statusCode?: number };
  if (parsed.message && parsed.statusCode) {
    // Some registries (mirrors, proxies) refuse the advisory endpoint; say so instead of reporting "clean".
    console.log(
      `npm audit unavailable: the registry answered ${parsed.statusCode} (${parsed.message.split(" - ")[0]}); run it where the public registry's advisory API is reachable`,
    );
    return;
  }
  const audit = parsed as { metadata?: { vulnerabilities?: Record<string, number> }; vulnerabilities?: Record<string, { severity: string; via: unknown[] }> };
  const counts = audit.metadata?.vulnerabilities ?? {};
  console.log(
    `npm audit --omit=dev: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  for (const [name, v] of Object.entries(audit.vulnerabilities ?? {})) {
    console.log(`  ${v.severity.padEnd(8)} ${name}`);
  }
  if ((counts.high ?? 0) + (counts.critical ?? 0) > 0) failed = true;
}

process.exit(failed ? 1 : 0);
