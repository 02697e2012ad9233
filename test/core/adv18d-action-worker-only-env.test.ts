/**
 * Adversary (issue 18 item 3): the Action builds its env contract from the step's env and its inputs
 * (action/inputs.ts contractEnv) and silently ignored names only the Worker reads (shared/compose/env-hosts.ts), e.g.
 * `env: { MAX_SUBREQUESTS: 50, FLOW_SCHEDULES: … }` copied from wrangler.toml. Expected: the Action's input reading
 * (actionEnvWarnings, called by action/main.ts run() and shown as core.warning annotations) names each such name set,
 * that it has no effect in the Action, and what to use instead, never its value. Actual (old code): nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as inputs from "../../action/inputs.ts";
import { KNOWN_ENV_NAMES } from "../../shared/compose/env-names.ts";
import { envHosts, WORKER_ONLY_ENV } from "../../shared/compose/env-hosts.ts";

describe("Worker-only names in the Action's step env", () => {
  it("warns for each one set, naming it, the Action and the alternative; never the value", () => {
    const warnings = (inputs as unknown as { actionEnvWarnings?: (env: Record<string, string | undefined>) => string[] }).actionEnvWarnings;
    expect(warnings, "action/inputs.ts has no actionEnvWarnings").toBeTypeOf("function");
    const out = warnings!({
      JST_APP_KEY: "k",
      MAX_SUBREQUESTS: "50",
      FLOW_SCHEDULES: '{"jst-other-in-to-kis":"*/5"}',
      ALERT_SECRET: "s3cr3t-alert",
      FLOWS: "",
      FLOW_APPROVAL: "jst-other-in-to-kis",
    });
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^ALERT_SECRET is set but only the Cloudflare Worker reads it: it has no effect in the Action/);
    expect(out[1]).toMatch(/^FLOW_SCHEDULES [^\n]*on\.schedule/);
    expect(out[2]).toMatch(/^MAX_SUBREQUESTS [^\n]*from, to, window/);
    expect(out.join("\n")).not.toMatch(/s3cr3t|\*\/5|50/);
  });

  it("every known env name is classified; Worker-only names are known names", () => {
    for (const name of Object.keys(WORKER_ONLY_ENV)) expect(KNOWN_ENV_NAMES).toContain(name);
    expect(envHosts("FLOW_APPROVAL")).toBe("all");
    expect(envHosts("CF_API_TOKEN")).toBe("cli");
    expect(envHosts("CONTINUE_WITH")).toBe("worker");
  });

  it("the classification matches the code: no CLI/Action code and no shared code but the Worker's alerts reads a Worker-only name", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? (e.name === "dist" ? [] : sources(join(dir, e.name))) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const files = [...sources("action"), ...sources("shared")].filter((f) => !/^shared[\\/](alerts[\\/]|observe[\\/]alerts\.ts)/.test(f));
    expect(files.length).toBeGreaterThan(50);
    const reads: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const name of Object.keys(WORKER_ONLY_ENV))
        if (new RegExp(`\\benv(\\??\\.${name}\\b|\\[["']${name}["']\\])`).test(text)) reads.push(`${file}: ${name}`);
    }
    expect(reads).toEqual([]);
  });
});
