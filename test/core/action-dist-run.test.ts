/**
 * The committed artifacts, run the way GitHub and a user run them: `node action/dist/index.js` with INPUT_*
 * variables (hyphens kept: INPUT_DRY-RUN) and `node action/dist/cli.js`, as child processes against the
 * emulators on loopback. Child processes use the real clock, so the emulators do too.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refreshReferenceTable } from "../../shared/engine/references.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { silentLogger, systemClock } from "../../shared/ports.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { CREDENTIAL_ENV_NAMES, inputNameFor } from "../../action/inputs.ts";
import { ROOT } from "../../scripts/build-action.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows, type EmulatorStack } from "../emulators/stack.ts";
import { dotenvText } from "./cli-harness.ts";

const run = promisify(execFile);
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let stack: EmulatorStack;
let servers: RunningServer[] = [];
let env: Record<string, string>;
let work: string;
const now = Date.now();
const FROM = day(now - 4 * DAY_MS);
const TO = day(now - DAY_MS);

beforeAll(async () => {
  stack = createEmulatorStack({
    jushuitan: {
      seed: 11,
      documents: { [JST_PATHS.otherInOut]: 90, [JST_PATHS.salesOut]: 60, [JST_PATHS.purchaseIn]: 0, [JST_PATHS.aftersaleReceived]: 0 },
      range: { from: now - 5 * DAY_MS, to: now - 2 * 3_600_000 },
    },
  });
  for (const e of [stack.jushuitan, stack.tplus, stack.kis]) servers.push(await serveOnLoopback(e.app));
  env = stack.env({ jushuitan: servers[0]!.url, tplus: servers[1]!.url, kis: servers[2]!.url });
  work = await mkdtemp(join(tmpdir(), "jst-bridge-dist-run-"));
  // The state directory a workflow would restore from its cache: reference tables already filled.
  const kv = new FileKeyValueStore({ dir: join(work, ".jst-bridge") });
  const references = new KvReferenceStore(kv);
  await references.put({ name: "warehouses", rows: warehouseReferenceRows(), updatedAt: now, source: "upload" });
  const materials = seedFlow("jst-other-in-to-kis").references.find((r) => r.name === "kis_materials")!;
  await refreshReferenceTable(materials, { env, fetch, tokenStore: new KvTokenStore(kv), references, clock: systemClock, logger: silentLogger });
  await writeFile(join(work, ".env"), dotenvText(env));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await rm(work, { recursive: true, force: true });
});

/** `name<<delimiter\nvalue\ndelimiter` records of $GITHUB_OUTPUT. */
function parseGithubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

describe("committed bundles as child processes", () => {
  it("node action/dist/index.js: INPUT_* in, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY out, secrets masked", async () => {
    const outputFile = join(work, "github-output");
    const summaryFile = join(work, "step-summary.md");
    await writeFile(outputFile, "");
    await writeFile(summaryFile, "");
    const inputs: Record<string, string> = {};
    for (const name of CREDENTIAL_ENV_NAMES) if (env[name]) inputs[`INPUT_${inputNameFor(name).toUpperCase()}`] = env[name];
    const { stdout } = await run(process.execPath, [join(ROOT, "action", "dist", "index.js")], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? "",
        ...inputs,
        INPUT_FLOW: "jst-other-in-to-kis",
        INPUT_FROM: FROM,
        INPUT_TO: TO,
        "INPUT_DRY-RUN": "false",
        INPUT_STATE: "file",
        "INPUT_STATE-DIR": ".jst-bridge",
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_WORKSPACE: work,
      },
      timeout: 60_000,
    });
    const outputs = parseGithubOutput(await readFile(outputFile, "utf8"));
    const bills = stack.kis.bills();
    expect(bills.length).toBeGreaterThan(3);
    expect(outputs["documents-written"]).toBe(String(bills.length));
    expect(outputs["documents-dead-lettered"]).toBe("0");
    expect(outputs.outcome).toBe("success");
    const summary = await readFile(summaryFile, "utf8");
    expect(summary).toContain("<h2>jst-bridge jst-other-in-to-kis</h2>");
    expect(summary.match(/<tr>/g)?.length).toBe(1 + 4 + 1); // header, 4 windows, total
    expect(stdout).toContain(`::add-mask::${env.KIS_CLIENT_SECRET}`);
    expect(stdout).toMatch(/::group::Window 1\/4: \d{4}-\d{2}-\d{2}/);
    expect(stdout).not.toContain("::error");
  });

  it("node action/dist/cli.js sync … --json reads .env from the working directory and backfills T+", async () => {
    const { stdout } = await run(
      process.execPath,
      [join(ROOT, "action", "dist", "cli.js"), "sync", "jst-sales-out-to-tplus", "--from", FROM, "--to", TO, "--json"],
      {
        cwd: work,
        env: { PATH: process.env.PATH ?? "" },
        timeout: 60_000,
      },
    );
    const report = JSON.parse(stdout);
    expect(report.exitCode).toBe(0);
    expect(report.windows).toHaveLength(4);
    const vouchers = stack.tplus.vouchers("otherDispatch");
    expect(vouchers.length).toBeGreaterThan(2);
    expect(report.counts.written).toBe(vouchers.length);
  });

  it("node action/dist/cli.js exits 1 with what/where/fix on bad input, and never prints a secret", async () => {
    const failed = await run(process.execPath, [join(ROOT, "action", "dist", "cli.js"), "sync", "jst-other-in-to-kis", "--from", "2024-13-01", "--to", TO], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "" },
    }).then(
      () => null,
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('error: --from "2024-13-01" is not a date');
    expect(failed?.stderr).toContain("fix:   write it as yyyy-MM-dd");
    expect(failed?.stderr).not.toContain(env.JST_APP_SECRET);
  });
});
