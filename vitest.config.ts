import { availableParallelism } from "node:os";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // vitest's default in run mode is one worker fewer than the cores: a single worker on the 2-core CI machine, where
    // `npm test` took 13 minutes of mostly waiting (emulators over loopback, backoffs, the 160-s chaos file holding the
    // one worker). The tests wait far more than they compute, so one worker per core.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      {
        test: {
          name: "core",
          // No test passes or fails on time: a loaded 2-core machine may be slow (tests assert outcomes, not speed).
          testTimeout: 120_000,
          include: ["test/core/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        plugins: [
          cloudflareTest((ctx) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                EMULATOR_HUB: ctx.inject("emulatorHub"),
                SYNC_API_TOKEN: "test-sync-api-token-0123456789abcdef",
              },
            },
          })),
        ],
        test: {
          name: "worker",
          testTimeout: 120_000,
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
        },
      },
    ],
  },
});
