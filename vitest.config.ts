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
          globalSetup: ["test/helpers/global-setup.ts"],
        },
      },
      {
        plugins: [
          cloudflareTest((ctx) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                EMULATOR_BASE: `http://127.0.0.1:${ctx.inject("emulatorPort")}`,
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
