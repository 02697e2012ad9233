/**
 * Action inputs that the chosen command or state never reads are refused (issue 18 item 3, Benthos-style): a
 * workflow that gives the Cloudflare inputs but leaves `state` at its default (file) would otherwise run on a
 * throw-away directory in the runner instead of the Worker's KV, with a fresh ledger and watermark every run.
 * The runner fills in action.yml's defaults when the workflow leaves an input out, so a default value is never refused.
 */
import { ConfigError } from "../shared/errors.ts";

/** The inputs as readInputs parsed them (only the fields judged here). */
export interface InputsJudged {
  command: "sync" | "reconcile" | "doctor";
  state: "file" | "kv";
  from?: string | undefined;
  to?: string | undefined;
  window?: string | undefined;
  "dry-run": boolean;
  "fail-on-dead-letters": boolean;
  "state-dir": string;
  "cloudflare-account-id"?: string | undefined;
  "cloudflare-api-token"?: string | undefined;
  "kv-namespace-id"?: string | undefined;
}

/** action.yml's default of state-dir. */
const DEFAULT_STATE_DIR = ".jst-bridge";
const CLOUDFLARE_INPUTS = ["cloudflare-account-id", "cloudflare-api-token", "kv-namespace-id"] as const;

interface Ineffective {
  input: string;
  why: string;
  fix: string;
}

function commandProblems(inputs: InputsJudged): Ineffective[] {
  const out: Ineffective[] = [];
  const { command } = inputs;
  if (command === "doctor") {
    for (const name of ["from", "to", "window"] as const)
      if (inputs[name] !== undefined)
        out.push({ input: name, why: "command doctor samples its own recent days", fix: "remove it, or use command sync or reconcile for a range" });
  }
  if (command !== "sync") {
    if (inputs["dry-run"]) out.push({ input: "dry-run", why: `command ${command} writes nothing anyway`, fix: "remove it (dry-run applies to command sync)" });
    if (inputs["fail-on-dead-letters"])
      out.push({
        input: "fail-on-dead-letters",
        why: `command ${command} files no dead letters (it fails the step on its own verdict)`,
        fix: "remove it (it applies to command sync)",
      });
  }
  return out;
}

function stateProblems(inputs: InputsJudged): Ineffective[] {
  const out: Ineffective[] = [];
  if (inputs.state === "file") {
    for (const name of CLOUDFLARE_INPUTS)
      if (inputs[name] !== undefined)
        out.push({
          input: name,
          why: "state is file (the default), so the run uses a directory in the runner, not the Worker's KV",
          fix: "add state: kv to use the Worker's KV namespace, or remove the cloudflare-* inputs",
        });
  } else if (inputs["state-dir"] !== DEFAULT_STATE_DIR) {
    out.push({ input: "state-dir", why: "state is kv, which keeps no directory", fix: "remove state-dir, or use state: file" });
  }
  return out;
}

/** Throws a ConfigError naming every input (`with.<name>`, never its value) that would have no effect. */
export function refuseIneffectiveInputs(inputs: InputsJudged): void {
  const problems = [...commandProblems(inputs), ...stateProblems(inputs)];
  if (problems.length === 0) return;
  const lines = problems.map((p) => `  - at with.${p.input}: has no effect: ${p.why} — ${p.fix}`);
  throw new ConfigError(`Action inputs that would have no effect (${problems.length}):\n${lines.join("\n")}`, {
    hint: `in the \`with:\` block of the jst-bridge step (action/action.yml): ${[...new Set(problems.map((p) => p.fix))].join("; ")}`,
    details: { path: `with.${problems[0]!.input}`, inputs: problems.map((p) => p.input) },
  });
}
