// `npm run mutation` (issue 18): StrykerJS over the engine, state, merge and write/idempotency paths, run by the
// `core` vitest tests (vitest.mutation.config.ts). Not part of `npm test`: a full run takes long on a small machine.
// One file at a time: `npx stryker run --mutate shared/engine/poison.ts` (the report lists the score per file).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  plugins: ["@stryker-mutator/vitest-runner"],
  coverageAnalysis: "perTest",
  mutate: [
    "shared/engine/*.ts",
    "!shared/engine/types.ts",
    "shared/state/*.ts",
    "!shared/state/memory-kv.ts",
    "shared/transform/merge.ts",
    "shared/transform/merge-policy.ts",
    "shared/connectors/target.ts",
  ],
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 30_000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
