/**
 * Bundles the Action and the CLI with esbuild: action/index.ts → action/dist/index.js and action/cli.ts →
 * action/dist/cli.js (ESM, platform node, target node24, every dependency inlined: GitHub runs the committed
 * file as-is, without npm install). The build is deterministic (fixed working directory, no timestamps or
 * absolute paths), so test/core/action-dist.test.ts can rebuild into a temp dir and compare bytes.
 *
 *   node scripts/build-action.ts [outdir]     (npm run build:action)
 */
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST_FILES = ["index.js", "cli.js"] as const;

export async function buildAction(outdir: string = join(ROOT, "action", "dist")): Promise<string[]> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: { index: "action/index.ts", cli: "action/cli.ts" },
    outdir,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // CommonJS dependencies that require() Node builtins need a real require inside an ES module.
    banner: { js: "import { createRequire as __jstBridgeCreateRequire } from 'node:module'; const require = __jstBridgeCreateRequire(import.meta.url);" },
    minify: true,
    legalComments: "none",
    charset: "utf8",
    logLevel: "warning",
  });
  return DIST_FILES.map((f) => join(outdir, f));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const files = await buildAction(process.argv[2] ? resolve(process.argv[2]) : undefined);
  for (const f of files) console.log(`built ${f}`);
}
