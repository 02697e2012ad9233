import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildAction, DIST_FILES, ROOT } from "../../scripts/build-action.ts";

describe("action/dist is the bundle of the current sources", () => {
  it("rebuilding into a temp dir gives byte-identical action/dist/index.js and cli.js (run `npm run build:action` when this fails)", async () => {
    const out = await mkdtemp(join(tmpdir(), "jst-bridge-dist-"));
    try {
      await buildAction(out);
      for (const file of DIST_FILES) {
        const fresh = await readFile(join(out, file));
        const committed = await readFile(join(ROOT, "action", "dist", file)).catch(() => Buffer.alloc(0));
        expect(fresh.length, `${file} was rebuilt`).toBeGreaterThan(10_000);
        // Compare as a boolean first: a multi-megabyte diff helps nobody.
        expect(committed.equals(fresh), `action/dist/${file} is stale: run \`npm run build:action\` and commit action/dist`).toBe(true);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
