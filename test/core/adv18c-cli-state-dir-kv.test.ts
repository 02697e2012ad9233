/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): `jst-bridge sync … --state kv --state-dir d`
 * ran against the Worker's KV and ignored the directory without a word (CommandContext.state read it only for file).
 * Expected: the CLI refuses before any call, naming --state-dir and the fix. Actual (old code): the run went on to KV
 * (here: the network, which this offline harness refuses).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dotenvText, runOfflineCli } from "./cli-harness.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function workdir(): Promise<string> {
  const cwd = await mkdtemp(join(tmpdir(), "jst-bridge-cli-kv-"));
  dirs.push(cwd);
  await writeFile(join(cwd, ".env"), dotenvText({ CF_ACCOUNT_ID: "acc", CF_API_TOKEN: "cf-token-value-1234", CF_KV_NAMESPACE_ID: "ns" }));
  return cwd;
}

describe("CLI --state-dir with --state kv", () => {
  it("is refused before any call, naming the option and the fix", async () => {
    const r = await runOfflineCli(["sync", "jst-other-in-to-kis", "--state", "kv", "--state-dir", "elsewhere", "--dry-run"], await workdir());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--state-dir");
    expect(r.stderr).toContain("no effect");
    expect(r.stderr).not.toContain("no network");
  });

  it("--state-dir with the file state is still read", async () => {
    const r = await runOfflineCli(["sync", "jst-other-in-to-kis", "--state", "file", "--state-dir", "elsewhere", "--dry-run"], await workdir());
    expect(r.stderr).not.toContain("--state-dir");
  });
});
