/**
 * Lints a throw-away tree that carries the project's own biome.jsonc, so tests of the architecture rules read the
 * real configuration (test/core/lint-rules.test.ts and the issue 18 adversaries).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const BIOME = join(ROOT, "node_modules", ".bin", "biome");

export interface Diagnostic {
  severity: string;
  category: string;
  location: { path: string; start: { line: number } };
}

/** The error diagnostics biome reports for `files` (relative path → source) under the project's biome.jsonc. */
export function lintErrors(files: Record<string, string>): Diagnostic[] {
  const dir = mkdtempSync(join(tmpdir(), "jst-bridge-lint-"));
  try {
    copyFileSync(join(ROOT, "biome.jsonc"), join(dir, "biome.jsonc"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    let out: string;
    try {
      out = execFileSync(BIOME, ["lint", "--vcs-enabled=false", "--reporter=json", "."], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch (error) {
      // biome exits non-zero when it finds errors; the report is still on stdout.
      out = String((error as { stdout?: string }).stdout ?? "");
    }
    const line = out
      .trim()
      .split("\n")
      .find((l) => l.startsWith("{"))!;
    const report = JSON.parse(line) as { diagnostics: Diagnostic[] };
    return report.diagnostics.filter((d) => d.severity === "error");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `path:line` of a diagnostic. */
export const at = (d: Diagnostic): string => `${d.location.path}:${d.location.start.line}`;
