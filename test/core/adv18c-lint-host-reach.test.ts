/**
 * Adversary (issue 18 item 7: the linter keeps shared/ free of node:*, cloudflare:*, @actions/*): the rule in
 * biome.jsonc names the platform modules only, so a shared/ file reaches them through a relative import of a host
 * file and `biome ci` stays green:
 *   export { FlowLock } from "../worker/flow-lock.ts";     // worker/flow-lock.ts imports cloudflare:workers
 *   import { parseDotenv } from "../../action/cli/dotenv.ts"; // action/cli/dotenv.ts imports node:fs, node:util
 * Expected: each is a lint error in shared/ (the core may import only itself and packages). Actual (old biome.jsonc):
 * no diagnostic. Lints a throw-away tree carrying the project's own biome.jsonc, like test/core/lint-rules.test.ts.
 */
import { describe, expect, it } from "vitest";
import { at, lintErrors } from "../helpers/lint-tree.ts";

/** `path:line` of every noRestrictedImports error when `files` are linted with the project's biome.jsonc. */
const restrictedImports = (files: Record<string, string>): string[] =>
  lintErrors(files)
    .filter((d) => d.category === "lint/style/noRestrictedImports")
    .map(at)
    .sort();

describe("shared/ cannot reach the hosts through a relative import", () => {
  it("refuses imports and re-exports of worker/, action/, test/, scripts/ and bench/ files from shared/", () => {
    const found = restrictedImports({
      "shared/reexport-worker.ts": 'export { FlowLock } from "../worker/flow-lock.ts";\n',
      "shared/deep/import-action.ts": 'import { parseDotenv } from "../../action/cli/dotenv.ts";\nexport const p = parseDotenv;\n',
      "shared/deep/dynamic-worker.ts": 'export const load = () => import("../../worker/index.ts");\n',
      "shared/test-helper.ts":
        'import { x } from "../test/helpers/env.ts";\nimport { y } from "../scripts/start.ts";\nimport { z } from "../bench/index.ts";\nexport const all = [x, y, z];\n',
    });
    expect(found).toEqual([
      "shared/deep/dynamic-worker.ts:1",
      "shared/deep/import-action.ts:1",
      "shared/reexport-worker.ts:1",
      "shared/test-helper.ts:1",
      "shared/test-helper.ts:2",
      "shared/test-helper.ts:3",
    ]);
  });

  it("still allows shared/ to import itself and packages, and the hosts to import shared/", () => {
    const found = restrictedImports({
      "shared/engine/a.ts": 'import { b } from "../util/b.ts";\nimport { z } from "zod/mini";\nimport { Hono } from "hono";\nexport const a = [b, z, Hono];\n',
      "shared/util/b.ts": "export const b = 1;\n",
      "worker/index.ts": 'import { a } from "../shared/engine/a.ts";\nexport const w = a;\n',
      "action/main.ts": 'import { a } from "../shared/engine/a.ts";\nexport const m = a;\n',
    });
    expect(found).toEqual([]);
  });
});
