/**
 * Drives the CLI in-process against the emulator stack (loopback HTTP, one manual clock): a temp working
 * directory holding the `.env` the user would write, captured stdout/stderr, and the exit code.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../action/cli/main.ts";
import type { CliIO } from "../../action/cli/io.ts";
import { startE2E, type E2EOptions } from "../helpers/e2e.ts";
import { warehouseReferenceRows } from "../emulators/stack.ts";
import { ManualClock } from "../emulators/manual-clock.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `cwd` with no environment and no network: the flow tools (validate, import-qeasy, preview). */
export async function runOfflineCli(argv: string[], cwd: string): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    env: {},
    cwd,
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    clock: new ManualClock(),
    fetch: () => Promise.reject(new Error("no network in these tests")),
  });
  return { code, stdout, stderr };
}

export function dotenvText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join("\n");
}

export function warehousesCsv(): string {
  const rows = warehouseReferenceRows();
  const cols = Object.keys(rows[0]!);
  return [cols.join(","), ...rows.map((r) => cols.map((c) => String(r[c])).join(","))].join("\n") + "\n";
}

export async function startCliHarness(options: E2EOptions = {}) {
  const e2e = await startE2E(options);
  const dir = await mkdtemp(join(tmpdir(), "jst-bridge-cli-"));
  await writeFile(join(dir, ".env"), `# written by the test harness\n${dotenvText(e2e.env)}\n`);
  await writeFile(join(dir, "warehouses.csv"), warehousesCsv());

  async function cli(argv: string[], io: Partial<CliIO> = {}): Promise<CliResult> {
    let stdout = "";
    let stderr = "";
    const code = await runCli(argv, {
      env: {},
      cwd: dir,
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      fetch: (input, init) => globalThis.fetch(input, init),
      clock: e2e.clock,
      wallNow: () => performance.now(),
      ...io,
    });
    return { code, stdout, stderr };
  }

  return {
    e2e,
    dir,
    cli,
    /** The reference tables the seed flows need, filled through the CLI itself. */
    async fillReferences(extra: string[] = []) {
      const up = await cli(["reference", "upload", "warehouses", "warehouses.csv", ...extra]);
      const refresh = await cli(["reference", "refresh", "kis_materials", "--flow", "jst-other-in-to-kis", ...extra]);
      return { up, refresh };
    },
    async close() {
      await e2e.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type CliHarness = Awaited<ReturnType<typeof startCliHarness>>;
