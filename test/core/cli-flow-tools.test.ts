import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOfflineCli } from "./cli-harness.ts";
import { loadFlow } from "../../shared/flow/schema.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jst-bridge-flow-tools-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (argv: string[]) => runOfflineCli(argv, dir);

describe("jst-bridge preview / validate / import-qeasy", () => {
  it("preview maps a Jushuitan response through the seed flow exactly like the fixture expects", async () => {
    const plain = join(FIXTURES, "flows/jst-other-in-to-kis/plain");
    const r = await cli(["preview", "jst-other-in-to-kis", "--input", join(plain, "input.json"), "--tables", join(plain, "tables.json"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const expected = JSON.parse(await readFile(join(plain, "expected.json"), "utf8"));
    const got = JSON.parse(r.stdout);
    expect(got.documents.map((d: { externalKey: string; payload: unknown }) => ({ externalKey: d.externalKey, payload: d.payload }))).toEqual(
      expected.documents.map((d: { externalKey: string; payload: unknown }) => ({ externalKey: d.externalKey, payload: d.payload })),
    );
  });

  it("preview reports documents that fail to map (exit 2) with their id and hint", async () => {
    const miss = join(FIXTURES, "flows/jst-other-in-to-kis/lookup-miss");
    const r = await cli(["preview", "jst-other-in-to-kis", "--input", join(miss, "input.json"), "--tables", join(miss, "tables.json")]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^! \d+: .+/m);
    expect(r.stdout).toMatch(/\d+ source documents → \d+ target documents, [1-9]\d* failed/);
  });

  it("validate: a seed flow is valid; a broken one lists each problem with its JSON path and fix; exit codes 0 / 1", async () => {
    const ok = await cli(["validate", resolve(import.meta.dirname, "../../shared/flows/jst-sales-out-to-tplus.json")]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("valid flow jst-sales-out-to-tplus");
    const broken = JSON.parse(await readFile(resolve(import.meta.dirname, "../../shared/flows/jst-other-in-to-kis.json"), "utf8"));
    broken.incremental.windowDays = 30;
    broken.target.type = "sap";
    await writeFile(join(dir, "broken.json"), JSON.stringify(broken));
    const bad = await cli(["validate", "broken.json"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("at target.type:");
    expect(bad.stdout).toContain("fix:");
  });

  it("validate recognises QEasy metadata; import-qeasy writes a flow that loads", async () => {
    const scheme = join(FIXTURES, "qeasy/seed-003-sales-out-to-tplus.json");
    const v = await cli(["validate", scheme]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain("valid QEasy scheme");
    const imp = await cli(["import-qeasy", scheme, "--out", "imported.json", "--id", "imported-sales-out"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toContain("wrote flow imported-sales-out to imported.json");
    const flow = loadFlow(JSON.parse(await readFile(join(dir, "imported.json"), "utf8")));
    expect(flow.id).toBe("imported-sales-out");
    expect(flow.target.type).toBe("tplus");
    // And the imported file is usable wherever a flow is: validate it as a native flow.
    const again = await cli(["validate", "imported.json"]);
    expect(again.stdout).toContain("valid flow imported-sales-out");
  });

  it("usage errors say what, where and how to fix", async () => {
    const unknown = await cli(["sink"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: unknown command "sink"');
    const option = await cli(["sync", "jst-other-in-to-kis", "--form", "2024-01-01"]);
    expect(option.code).toBe(1);
    expect(option.stderr).toMatch(/error: sync: Unknown option '--form'/);
    expect(option.stderr).toContain("fix:   run `jst-bridge sync --help`");
    const half = await cli(["sync", "jst-other-in-to-kis", "--from", "2024-01-01"]);
    expect(half.stderr).toContain("error: --to is missing");
    const help = await cli(["reconcile", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 no drift · 3 drift found · 1 failure.");
  });
});
