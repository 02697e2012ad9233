/**
 * A typed fake of @actions/core (as actions/typescript-action's __fixtures__/core.ts), recording what the Action's
 * run() does. A test file mocks the package with it and reads `core.state`:
 *   vi.mock("@actions/core", async () => (await import("../helpers/actions-core-fake.ts")).actionsCore);
 * (the factory imports this module, so the test's static import and the mock share one `core`).
 */
import { CREDENTIAL_ENV_NAMES, inputNameFor } from "../../action/inputs.ts";
import type { CliHarness } from "../core/cli-harness.ts";

function createCore() {
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
}

export const core = createCore();

/** Forget everything recorded (call in beforeEach). */
export function resetCore(): void {
  core.state.inputs = {};
  core.state.throwOnGetInput = undefined;
  core.state.outputs = {};
  core.state.secrets = [];
  core.state.failed = [];
  core.state.warnings = [];
  core.state.errors = [];
  core.state.groups = [];
  core.state.logs = [];
  core.state.summary = { headings: [], raw: [], tables: [], writes: 0 };
}

export const actionsCore = {
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
};

/** The emulator credentials as the Action's inputs (jst-app-secret: …), the way a workflow passes secrets. */
export function credentialInputs(harness: CliHarness): Record<string, string> {
  const env = harness.e2e.env as Record<string, string>;
  const out: Record<string, string> = {};
  for (const name of CREDENTIAL_ENV_NAMES) if (env[name]) out[inputNameFor(name)] = env[name];
  return out;
}
