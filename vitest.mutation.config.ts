// The vitest configuration Stryker uses (`npm run mutation`, stryker.config.mjs): the `core` project only (Node).
// The `worker` project runs in workerd through @cloudflare/vitest-plugin, whose pool Stryker's vitest runner cannot
// instrument per test; the core tests drive the same engine, state and merge code over loopback HTTP.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    include: ["test/core/**/*.test.ts"],
    // Slow, and they cover no mutated module: built bundles, Chromium, the linter.
    exclude: ["test/core/action-dist*.test.ts", "test/core/dashboard-browser.test.ts", "test/core/lint-rules.test.ts"],
    environment: "node",
  },
});
