/**
 * Adversary (issue 18 item 7, the linter keeps shared/ free of node:*, cloudflare:*, @actions/*): the rule in
 * biome.jsonc matched only the `node:` spelling and the first path segment of @actions, so these passed `biome ci`:
 *   import { readFileSync } from "fs";              // a Node builtin without the node: prefix
 *   import * as core from "@actions/core/lib/core.js"; // a subpath of an @actions package
 * Expected: each is a lint error in shared/. Actual (old biome.jsonc): no diagnostic. (tsc -p tsconfig.json catches
 * the first two today only because that program has no Node types; the lint rule is meant to say so itself.)
 * Lints a throw-away tree carrying the project's own biome.jsonc, like test/core/lint-rules.test.ts.
 */
import { describe, expect, it } from "vitest";
import { at, lintErrors } from "../helpers/lint-tree.ts";

/** `path:line` of every error diagnostic biome reports for `files` under the project's biome.jsonc. */
const lintErrorsAt = (files: Record<string, string>): string[] => lintErrors(files).map(at);

describe("shared/ stays free of host modules however they are spelled", () => {
  it("a bare Node builtin and an @actions subpath are lint errors in shared/", () => {
    const errors = lintErrorsAt({
      "shared/bare.ts": 'import { readFileSync } from "fs";\nimport { createHash } from "crypto";\nexport const x = [readFileSync, createHash];\n',
      "shared/actions-subpath.ts": 'import * as core from "@actions/core/lib/core.js";\nexport const x = core;\n',
      "shared/reexport.ts": 'export { readFile } from "fs/promises";\n',
    });
    expect([...new Set(errors)].sort()).toEqual(["shared/actions-subpath.ts:1", "shared/bare.ts:1", "shared/bare.ts:2", "shared/reexport.ts:1"]);
  });

  it("the hosts may still use them", () => {
    const errors = lintErrorsAt({
      "action/host.ts": 'import { readFileSync } from "fs";\nimport * as core from "@actions/core/lib/core.js";\nexport const x = [readFileSync, core];\n',
    });
    expect(errors).toEqual([]);
  });
});
