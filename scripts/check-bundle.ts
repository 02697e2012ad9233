// Bundles the Worker exactly as `wrangler deploy` would (without uploading) and reports its size.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const outdir = mkdtempSync(join(tmpdir(), "jst-bridge-bundle-"));
try {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const files = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  if (files.length === 0) throw new Error(`wrangler produced no .js bundle in ${outdir}`);
  for (const f of files) {
    const path = join(outdir, f);
    const gz = gzipSync(readFileSync(path)).length;
    console.log(`bundle ${f}: ${(statSync(path).size / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip`);
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
