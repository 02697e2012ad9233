/**
 * The lint rules in biome.jsonc that guard the architecture actually fire (issue 18): the core (shared/) may not
 * import node:*, cloudflare:* or @actions/*, and no new production function may exceed 80 lines. Each case lints a
 * throw-away tree that carries the project's own biome.jsonc, so the test reads the real configuration.
 */
import { describe, expect, it } from "vitest";
import { lintErrors as lint } from "../helpers/lint-tree.ts";

const longFunction = (lines: number) => `export function long(): number {\n  let n = 0;\n${"  n += 1;\n".repeat(lines)}  return n;\n}\n`;

describe("biome.jsonc architecture rules", () => {
  it("refuses node:*, cloudflare:* and @actions/* imports in shared/, static or dynamic", () => {
    const errors = lint({
      "shared/bad-node.ts": 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
      "shared/deep/bad-hosts.ts": 'import * as core from "@actions/core";\nimport { env } from "cloudflare:workers";\nexport const x = [core, env];\n',
      "shared/bad-dynamic.ts": 'export const load = () => import("node:crypto");\n',
    });
    const restricted = errors.filter((d) => d.category === "lint/style/noRestrictedImports").map((d) => `${d.location.path}:${d.location.start.line}`);
    expect(restricted.sort()).toEqual(["shared/bad-dynamic.ts:1", "shared/bad-node.ts:1", "shared/deep/bad-hosts.ts:1", "shared/deep/bad-hosts.ts:2"]);
  });

  it("allows those imports in the hosts (worker/, action/) and web-standard imports in shared/", () => {
    const errors = lint({
      "worker/host.ts": 'import { env } from "cloudflare:workers";\nexport const x = env;\n',
      "action/host.ts": 'import { readFileSync } from "node:fs";\nimport * as core from "@actions/core";\nexport const x = [readFileSync, core];\n',
      "shared/ok.ts": 'import { z } from "zod";\nexport const s = z.string();\n',
    });
    expect(errors).toEqual([]);
  });

  it("refuses a new production function over 80 lines, but not in tests", () => {
    const errors = lint({ "shared/long.ts": longFunction(85), "shared/short.ts": longFunction(70), "test/core/long.test.ts": longFunction(120) });
    expect(errors.map((d) => `${d.category} ${d.location.path}`)).toEqual(["lint/complexity/noExcessiveLinesPerFunction shared/long.ts"]);
  });

  it("caps an allow-listed file at the length of its existing offender", () => {
    const errors = lint({ "shared/engine/runner.ts": longFunction(120) });
    expect(errors.map((d) => d.category)).toEqual(["lint/complexity/noExcessiveLinesPerFunction"]);
  });
});
