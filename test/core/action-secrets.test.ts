/**
 * Issue 15 / security review #8 and #1 for the Action: every token it loads or refreshes is registered with
 * core.setSecret and redacted from annotations and the failure message; file state is 0600 in a 0700 directory.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { CREDENTIAL_ENV_NAMES, inputNameFor } from "../../action/inputs.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { echoedSecrets, echoingFetch } from "../helpers/echo-upstream.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

const core = vi.hoisted(() => ({
  state: {
    inputs: {} as Record<string, string>,
    secrets: [] as string[],
    failed: [] as string[],
    warnings: [] as string[],
    errors: [] as string[],
    logs: [] as string[],
    summary: [] as string[],
  },
}));

vi.mock("@actions/core", () => {
  const summary = {
    addHeading: (t: string) => (core.state.summary.push(t), summary),
    addRaw: (t: string) => (core.state.summary.push(t), summary),
    addTable: (rows: unknown) => (core.state.summary.push(JSON.stringify(rows)), summary),
    write: async () => summary,
  };
  return {
    getInput: (name: string) => core.state.inputs[name] ?? "",
    setOutput: () => undefined,
    setSecret: (v: string) => void core.state.secrets.push(v),
    setFailed: (m: string) => void core.state.failed.push(m),
    warning: (m: string) => void core.state.warnings.push(m),
    error: (m: string) => void core.state.errors.push(m),
    info: (m: string) => void core.state.logs.push(m),
    debug: (m: string) => void core.state.logs.push(m),
    group: async <T>(_name: string, fn: () => Promise<T>) => fn(),
    summary,
  };
});

const { run, escapeHtml } = await import("../../action/main.ts");

const KIS = "jst-other-in-to-kis";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let h: CliHarness | undefined;
beforeEach(() => {
  core.state = { inputs: {}, secrets: [], failed: [], warnings: [], errors: [], logs: [], summary: [] };
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function inputs(harness: CliHarness): Record<string, string> {
  const env = harness.e2e.env as Record<string, string>;
  const out: Record<string, string> = { flow: KIS, from: day(E2E_START - 3 * DAY_MS), to: day(E2E_START - DAY_MS), state: "file", "state-dir": ".jst-bridge" };
  for (const name of CREDENTIAL_ENV_NAMES) if (env[name]) out[inputNameFor(name)] = env[name];
  return out;
}

describe("Action: tokens loaded or refreshed are masked; state files are private", () => {
  it("a refreshed Jushuitan token is passed to core.setSecret; state files are 0600 in a 0700 directory", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    h.e2e.stack.jushuitan.addFaults([{ kind: "tokenExpired", skip: 1 }]);
    core.state.inputs = inputs(h);
    await run({ clock: h.e2e.clock, cwd: h.dir, env: { REQUEST_TIMEOUT_MS: "400" } });
    expect(core.state.failed).toEqual([]);
    const live = h.e2e.stack.jushuitan.liveTokens() as Array<{ accessToken: string; refreshToken: string }>;
    const rotated = live.map((t) => t.accessToken).filter((t) => t !== h!.e2e.env.JST_ACCESS_TOKEN);
    expect(rotated.length).toBeGreaterThan(0);
    for (const t of rotated) expect(core.state.secrets).toContain(t);

    const dir = join(h.dir, ".jst-bridge");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect((await stat(join(dir, f))).mode & 0o777, f).toBe(0o600);
  });

  it("an upstream echoing its credentials: nothing reaches annotations, the failure message, logs or the summary", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const upstream = echoingFetch((input, init) => globalThis.fetch(input, init), [{ path: "/open/other/inout/query", shape: "jst", skip: 1 }]);
    h.e2e.stack.jushuitan.addFaults([{ kind: "tokenExpired", skip: 0 }]);
    core.state.inputs = inputs(h);
    await run({ clock: h.e2e.clock, cwd: h.dir, fetch: upstream.fetch, env: { REQUEST_TIMEOUT_MS: "400" } });
    expect(upstream.echoed.length).toBeGreaterThan(0);
    expect(core.state.failed.length).toBeGreaterThan(0);
    const outputs = [...core.state.failed, ...core.state.errors, ...core.state.warnings, ...core.state.logs, ...core.state.summary].join("\n");
    expect(outputs).toContain("Jushuitan");
    const leaks = echoedSecrets(upstream.echoed).filter((s) => outputs.includes(s));
    expect(leaks.map((s) => s.slice(0, 8))).toEqual([]);
  });

  it("job summary cells are HTML-escaped: an upstream warehouse code cannot add markup (review #13)", () => {
    expect(escapeHtml(`WH<img src=x onerror=alert(1)>&"'`)).toBe("WH&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;");
  });

  it("the CLI refuses plain http to a remote upstream before sending anything (review #12)", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const res = await h.cli(["sync", KIS, "--from", day(E2E_START - 2 * DAY_MS), "--to", day(E2E_START - DAY_MS)], {
      env: { JST_BASE_URL: "http://openapi.jushuitan.example" },
    });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("plain http to openapi.jushuitan.example");
    expect(res.stderr).toContain("ALLOW_INSECURE_HTTP");
  });
});
