/**
 * Adversary (issue 18 item 3, configuration with no effect is refused): a misspelled Action input was ignored. The
 * runner passes `with: { dry_run: true }` to the step as INPUT_DRY_RUN; core.getInput("dry-run") reads INPUT_DRY-RUN,
 * so the input has no effect and the step WRITES what the workflow asked only to preview (the runner's own
 * "Unexpected input(s)" is a warning annotation; the step still runs).
 * Expected: the step fails before anything is written, naming the input and the one it probably meant.
 * Actual (old code): a real backfill, bills created in KIS, the step green.
 * The @actions/core fake is the one test/core/action-run.test.ts uses; the emulators run over loopback HTTP.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";
import { createKvRestEmulator } from "../emulators/kv-rest/index.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { CREDENTIAL_ENV_NAMES, inputNameFor } from "../../action/inputs.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

// A typed fake of @actions/core (as actions/typescript-action's __fixtures__/core.ts), recording what run() does.
const core = vi.hoisted(() => {
  const state = {
    inputs: {} as Record<string, string>,
    throwOnGetInput: undefined as unknown,
    outputs: {} as Record<string, string>,
    secrets: [] as string[],
    failed: [] as string[],
    warnings: [] as Array<{ message: string; title?: string }>,
    errors: [] as Array<{ message: string; title?: string }>,
    groups: [] as string[],
    logs: [] as string[],
    summary: { headings: [] as string[], raw: [] as string[], tables: [] as unknown[][][], writes: 0 },
  };
  const summary = {
    addHeading(text: string) {
      state.summary.headings.push(text);
      return summary;
    },
    addRaw(text: string) {
      state.summary.raw.push(text);
      return summary;
    },
    addTable(rows: unknown[][]) {
      state.summary.tables.push(rows);
      return summary;
    },
    async write() {
      state.summary.writes++;
      return summary;
    },
  };
  return { state, summary };
});

vi.mock("@actions/core", () => ({
  getInput: (name: string) => {
    if (core.state.throwOnGetInput !== undefined) throw core.state.throwOnGetInput;
    return core.state.inputs[name] ?? "";
  },
  setOutput: (name: string, value: string) => {
    core.state.outputs[name] = value;
  },
  setSecret: (value: string) => {
    core.state.secrets.push(value);
  },
  setFailed: (message: string) => {
    core.state.failed.push(message);
  },
  warning: (message: string, props?: { title?: string }) => {
    core.state.warnings.push({ message, ...(props?.title ? { title: props.title } : {}) });
  },
  error: (message: string, props?: { title?: string }) => {
    core.state.errors.push({ message, ...(props?.title ? { title: props.title } : {}) });
  },
  info: (message: string) => {
    core.state.logs.push(message);
  },
  debug: (message: string) => {
    core.state.logs.push(`debug: ${message}`);
  },
  group: async <T>(name: string, fn: () => Promise<T>) => {
    core.state.groups.push(name);
    return fn();
  },
  summary: core.summary,
}));

const { run } = await import("../../action/main.ts");

const KIS = "jst-other-in-to-kis";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let h: CliHarness | undefined;
const servers: RunningServer[] = [];
beforeEach(() => {
  core.state.inputs = {};
  core.state.failed = [];
  core.state.outputs = {};
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("an Action input the action does not declare", () => {
  it("is refused before anything is written, with the input it probably meant", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const env = h.e2e.env as Record<string, string>;
    const credentials: Record<string, string> = {};
    for (const name of CREDENTIAL_ENV_NAMES) if (env[name]) credentials[inputNameFor(name)] = env[name];
    core.state.inputs = {
      ...credentials,
      flow: KIS,
      from: day(E2E_START - 3 * DAY_MS),
      to: day(E2E_START - DAY_MS),
      state: "file",
      "state-dir": ".jst-bridge",
    };
    // What the runner sets for `with: { dry_run: "true" }` (the declared input is dry-run → INPUT_DRY-RUN).
    await run({ clock: h.e2e.clock, cwd: h.dir, env: { REQUEST_TIMEOUT_MS: "400", INPUT_DRY_RUN: "true" } });
    expect(h.e2e.stack.kis.bills()).toEqual([]);
    expect(core.state.failed.join("\n")).toMatch(/dry_run.*dry-run/s);
  });
});
