// `npm run mutation` (issue 18): StrykerJS over the engine, state, merge and write/idempotency paths, run by the
// `core` vitest tests (vitest.mutation.config.ts). Not part of `npm test`: a full run takes hours on a small machine.
// One module at a time, with the tests that target it (a lower bound of its score):
//   MUTATION_TESTS=test/core/flow-merge.test.ts npx stryker run --mutate shared/transform/merge-policy.ts
//
// Test runner: Stryker's "command" runner (one `vitest run` per mutant; the instrumented code reads the active mutant
// from the environment, which vitest's workers inherit). @stryker-mutator/vitest-runner 9.6.1 does not work with
// vitest 5 here: with coverageAnalysis "perTest" its per-test name filter matches nothing, so every covered mutant is
// reported Survived (stryker-mutator/stryker-js#6210); with "off" the mutant is not activated in vitest's workers
// either. Measured on merge-policy.ts: 0 of 63 killed by the vitest runner, while the hand-applied mutant
// `if (true) return undefined` in lookup() fails 3 tests of flow-merge/flow-fixtures.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "command",
  commandRunner: { command: "npx vitest run --config vitest.mutation.config.ts --bail 1 --reporter dot" },
  coverageAnalysis: "off",
  mutate: [
    "shared/engine/*.ts",
    "!shared/engine/types.ts",
    "shared/state/*.ts",
    "!shared/state/memory-kv.ts",
    "shared/transform/merge.ts",
    "shared/transform/merge-policy.ts",
    "shared/connectors/target.ts",
  ],
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
