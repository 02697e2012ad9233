// The vitest configuration Stryker uses (`npm run mutation`, stryker.config.mjs): the `core` project only (Node).
// The `worker` project runs in workerd through @cloudflare/vitest-plugin, whose pool Stryker's vitest runner cannot
// instrument per test; the core tests drive the same engine, state and merge code over loopback HTTP.
// MUTATION_TESTS=a.test.ts,b.test.ts narrows the run to those test files (a quick per-module score on a small machine;
// the score is then a lower bound: other tests may kill more).
import { defineConfig } from "vitest/config";

const only = process.env.MUTATION_TESTS?.split(",")
  .map((f) => f.trim())
  .filter(Boolean);

export default defineConfig({
  test: {
    testTimeout: 120_000,
    include: only?.length ? only : ["test/core/**/*.test.ts"],
    // Slow, and they cover no mutated module: built bundles, Chromium, the linter.
    exclude: ["test/core/action-dist*.test.ts", "test/core/dashboard-browser.test.ts", "test/core/lint-rules.test.ts"],
    environment: "node",
  },
});
