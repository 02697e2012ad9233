import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
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
