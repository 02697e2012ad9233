/**
 * The Action's inputs, validated with zod: one schema turns `core.getInput` strings into typed options,
 * and every credential input maps onto the env-var contract name the Worker uses (`jst-app-secret` →
 * JST_APP_SECRET). A credential may come from the input or from the step's env; secret values are masked.
 */
import * as z from "zod/mini";
import { issueText } from "../shared/util/issue-text.ts";
import { ConfigError } from "../shared/errors.ts";
import { editDistance } from "../shared/util/edit-distance.ts";
import { refuseIneffectiveInputs } from "./input-effects.ts";
import { workerOnlyEnvWarnings } from "../shared/compose/env-hosts.ts";
import { SECRET_NAME } from "./cli/io.ts";

/** The env contract names the Action accepts as inputs (lower-case, `_` → `-`). */
export const CREDENTIAL_ENV_NAMES = [
  "JST_BASE_URL",
  "JST_APP_KEY",
  "JST_APP_SECRET",
  "JST_ACCESS_TOKEN",
  "JST_REFRESH_TOKEN",
  "TPLUS_MODE",
  "TPLUS_BASE_URL",
  "TPLUS_APP_KEY",
  "TPLUS_APP_SECRET",
  "TPLUS_OPEN_TOKEN",
  "TPLUS_REFRESH_TOKEN",
  "TPLUS_ORG_ID",
  "TPLUS_PRIVATE_KEY",
  "TPLUS_USER",
  "TPLUS_PASSWORD",
  "TPLUS_ACCOUNT",
  "KIS_BASE_URL",
  "KIS_CLIENT_ID",
  "KIS_CLIENT_SECRET",
  "KIS_ACCESS_TOKEN",
  "KIS_AUTH_DATA",
  "KIS_GW_ROUTER_ADDR",
  "KIS_ACCOUNT_DB",
  "KIS_SESSION_ID",
  "KIS_REFRESH_AUTH_DATA_TOKEN",
] as const;

export const inputNameFor = (envName: string) => envName.toLowerCase().replace(/_/g, "-");

export const isSecretName = (envName: string) => SECRET_NAME.test(envName);

const bool = (name: string) =>
  z.pipe(
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((s) => s.trim().toLowerCase()),
      ),
      z.enum(["", "true", "false"], { error: `${name} must be true or false` }),
    ),
    z.transform((v) => v === "true"),
  );

const optionalText = z.pipe(
  z.string(),
  z.transform((s) => {
    const t = s.trim();
    return t === "" ? undefined : t;
  }),
);

export const actionInputsSchema = z.object({
  command: z.pipe(
    z.pipe(
      z.string(),
      z.transform((s) => s.trim().toLowerCase() || "sync"),
    ),
    z.enum(["sync", "reconcile", "doctor"], { error: "command must be sync, reconcile or doctor" }),
  ),
  flow: z
    .string()
    .check(
      z.trim(),
      z.minLength(1, { error: "flow is required: a seed flow id (jst-other-in-to-kis, jst-sales-out-to-tplus) or the path of a flow .json file" }),
    ),
  from: optionalText,
  to: optionalText,
  "dry-run": bool("dry-run"),
  window: optionalText,
  state: z.pipe(
    z.pipe(
      z.string(),
      z.transform((s) => s.trim().toLowerCase() || "file"),
    ),
    z.enum(["file", "kv"], { error: "state must be file or kv" }),
  ),
  "state-dir": z.pipe(
    z.string(),
    z.transform((s) => s.trim() || ".jst-bridge"),
  ),
  "fail-on-dead-letters": bool("fail-on-dead-letters"),
  "cloudflare-account-id": optionalText,
  "cloudflare-api-token": optionalText,
  "kv-namespace-id": optionalText,
});

export type ActionInputs = z.infer<typeof actionInputsSchema>;

/** Reads and validates the inputs; every problem at once, naming the input and never echoing a value. */
export function readInputs(getInput: (name: string) => string): ActionInputs {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(actionInputsSchema.shape)) raw[name] = getInput(name);
  const parsed = actionInputsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `input ${String(i.path[0] ?? "")}: ${issueText(i)}`);
    throw new ConfigError(`Invalid action inputs:\n- ${problems.join("\n- ")}`, {
      hint: "fix the `with:` block of the jst-bridge step (see action/action.yml for every input)",
      details: { inputs: parsed.error.issues.map((i) => String(i.path[0] ?? "")) },
    });
  }
  refuseIneffectiveInputs(parsed.data);
  return parsed.data;
}

/**
 * The env contract for the run: the step's env, overlaid with credential inputs and the Cloudflare inputs.
 * `mask` is called with every secret value (core.setSecret), multi-line values line by line too.
 */
export function contractEnv(
  inputs: ActionInputs,
  getInput: (name: string) => string,
  stepEnv: Record<string, string | undefined>,
  mask: (value: string) => void,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...stepEnv };
  for (const name of CREDENTIAL_ENV_NAMES) {
    const value = getInput(inputNameFor(name)).trim();
    if (value) env[name] = value;
  }
  if (inputs["cloudflare-account-id"]) env.CF_ACCOUNT_ID = inputs["cloudflare-account-id"];
  if (inputs["cloudflare-api-token"]) env.CF_API_TOKEN = inputs["cloudflare-api-token"];
  if (inputs["kv-namespace-id"]) env.CF_KV_NAMESPACE_ID = inputs["kv-namespace-id"];
  for (const [name, value] of Object.entries(env)) {
    if (!value || !isSecretName(name)) continue;
    if (!(CREDENTIAL_ENV_NAMES as readonly string[]).includes(name) && !/^(CF_|CLOUDFLARE_)/.test(name)) continue;
    mask(value);
    if (value.includes("\n")) for (const line of value.split(/\r?\n/)) if (line.trim().length >= 4) mask(line.trim());
  }
  return env;
}

/**
 * Names in the step's env that only the Worker reads (MAX_SUBREQUESTS, FLOW_SCHEDULES, …, shared/compose/env-hosts.ts):
 * warned about, not refused (a workflow may share its env with a wrangler deploy step); names only, never values.
 */
export function actionEnvWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  return workerOnlyEnvWarnings(env, "Action");
}

/**
 * A `with:` key the action does not declare reaches the step only as INPUT_<KEY> (the runner's "Unexpected input"
 * is a warning): `dry_run: true` for `dry-run` would run a real sync. Refused, naming the input meant.
 */
export function refuseUndeclaredInputs(stepEnv: Record<string, string | undefined>): void {
  const declared = [...Object.keys(actionInputsSchema.shape), ...CREDENTIAL_ENV_NAMES.map(inputNameFor)];
  const known = new Set(declared.map((name) => `INPUT_${name.replace(/ /g, "_").toUpperCase()}`));
  const unknown = Object.keys(stepEnv).filter((key) => key.startsWith("INPUT_") && !known.has(key.toUpperCase()));
  if (unknown.length === 0) return;
  const meant = (key: string) => {
    const given = key.slice("INPUT_".length).toLowerCase();
    const best = declared.map((name) => ({ name, d: editDistance(given, name) })).sort((a, b) => a.d - b.d)[0]!;
    return best.d <= 3 ? `input ${given} (did you mean ${best.name}?)` : `input ${given}`;
  };
  throw new ConfigError(`Unknown action inputs, which would have no effect:\n- ${unknown.map(meant).join("\n- ")}`, {
    hint: "fix the `with:` block of the jst-bridge step (see action/action.yml for every input)",
    details: { inputs: unknown.map((key) => key.slice("INPUT_".length).toLowerCase()) },
  });
}
