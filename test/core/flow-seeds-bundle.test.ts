import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

// shared/flows/index.ts imports its JSON with import attributes; wrangler bundles with esbuild, so the
// module must survive an esbuild bundle for a neutral (workerd-like) platform and still run.
describe("seed flows module bundles with esbuild", () => {
  it("bundles shared/flows/index.ts and the bundle loads and validates the flows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jst-flows-"));
    try {
      const result = await build({
        entryPoints: [join(import.meta.dirname, "../../shared/flows/index.ts")],
        bundle: true,
        format: "esm",
        platform: "neutral",
        mainFields: ["module", "main"],
        write: false,
        logLevel: "silent",
      });
      expect(result.errors).toEqual([]);
      const code = result.outputFiles[0]!.text;
      expect(code).toContain("jst-sales-out-to-tplus");
      expect(code).not.toMatch(/from\s+["']node:/);
      const file = join(dir, "flows.mjs");
      writeFileSync(file, code);
      const mod = await import(pathToFileURL(file).href);
      expect(mod.seedFlows().map((f: { id: string }) => f.id)).toEqual(["jst-other-in-to-kis", "jst-sales-out-to-tplus"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
