// `npm run mutation` (issue 18): StrykerJS over the engine, state, merge and write/idempotency paths, run by the
// `core` vitest tests (vitest.mutation.config.ts). Not part of `npm test`. scripts/mutation.ts runs Stryker one module
// at a time with the tests that target it and prints the per-module table (docs/testing.md); by hand:
//   MUTATION_TESTS=test/core/flow-merge.test.ts npx stryker run --mutate shared/transform/merge-policy.ts
//
// Test runner: @stryker-mutator/vitest-runner 10.1.1 with per-test coverage (only the tests that reach a mutant run
// for it). 9.6.1 did not work with vitest 5 (stryker-mutator/stryker-js#6210: its per-test filter matched nothing, so
// every covered mutant was reported Survived). Checked on 10.1.1 (2026-12-05): merge-policy.ts 61 of 68 killed, and
// the mutant `if (true) return undefined` in lookup() is reported Killed, as the hand-applied change fails 2 tests
// of flow-merge.test.ts. Concurrency 1: the machine it is developed on has 2 cores shared with other work.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
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
  concurrency: 1,
  timeoutMS: 60_000,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
