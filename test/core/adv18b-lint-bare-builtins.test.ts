/**
 * Adversary (issue 18 item 7, the linter keeps shared/ free of node:*, cloudflare:*, @actions/*): the rule in
 * biome.jsonc matched only the `node:` spelling and the first path segment of @actions, so these passed `biome ci`:
 *   import { readFileSync } from "fs";              // a Node builtin without the node: prefix
 *   import * as core from "@actions/core/lib/core.js"; // a subpath of an @actions package
 * Expected: each is a lint error in shared/. Actual (old biome.jsonc): no diagnostic. (tsc -p tsconfig.json catches
 * the first two today only because that program has no Node types; the lint rule is meant to say so itself.)
 * Lints a throw-away tree carrying the project's own biome.jsonc, like test/core/lint-rules.test.ts.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const BIOME = join(ROOT, "node_modules", ".bin", "biome");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `path:line` of every error diagnostic biome reports for `files` under the project's biome.jsonc. */
function lintErrors(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), "jst-bridge-adv18b-lint-"));
  dirs.push(dir);
  copyFileSync(join(ROOT, "biome.jsonc"), join(dir, "biome.jsonc"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  let out: string;
  try {
    out = execFileSync(BIOME, ["lint", "--vcs-enabled=false", "--reporter=json", "."], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? "");
  }
  const line = out
    .trim()
    .split("\n")
    .find((l) => l.startsWith("{"))!;
  const report = JSON.parse(line) as { diagnostics: Array<{ severity: string; location: { path: string; start: { line: number } } }> };
  return report.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.location.path}:${d.location.start.line}`);
}

describe("shared/ stays free of host modules however they are spelled", () => {
  it("a bare Node builtin and an @actions subpath are lint errors in shared/", () => {
    const errors = lintErrors({
      "shared/bare.ts": 'import { readFileSync } from "fs";\nimport { createHash } from "crypto";\nexport const x = [readFileSync, createHash];\n',
      "shared/actions-subpath.ts": 'import * as core from "@actions/core/lib/core.js";\nexport const x = core;\n',
      "shared/reexport.ts": 'export { readFile } from "fs/promises";\n',
    });
    expect([...new Set(errors)].sort()).toEqual(["shared/actions-subpath.ts:1", "shared/bare.ts:1", "shared/bare.ts:2", "shared/reexport.ts:1"]);
  });

  it("the hosts may still use them", () => {
    const errors = lintErrors({
      "action/host.ts": 'import { readFileSync } from "fs";\nimport * as core from "@actions/core/lib/core.js";\nexport const x = [readFileSync, core];\n',
    });
    expect(errors).toEqual([]);
  });
});
