import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
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
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
        },
      },
    ],
  },
});
