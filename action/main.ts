/**
 * The GitHub Action (actions/typescript-action layout): `run()` reads and validates the inputs, runs the
 * same sync core as the CLI and the Worker, and reports through @actions/core: outputs, one log group per
 * window, a job summary table, and annotations for dead letters and failures. It never throws: anything
 * thrown (Error or not) ends in setFailed.
 */
import * as core from "@actions/core";
import { resolve } from "node:path";
import { runDoctor } from "../shared/doctor/index.ts";
import { BridgeError } from "../shared/errors.ts";
import type { Clock, FetchLike, Logger } from "../shared/ports.ts";
import { systemClock } from "../shared/ports.ts";
import { MIN_SECRET_LENGTH, Redactor as SecretRedactor, shortSecretNames } from "../shared/security/redact.ts";
import { securePorts } from "../shared/security/secret-ports.ts";
import { composeHost } from "../shared/compose/index.ts";
import type { FlowStateStore } from "../shared/state/state-store.ts";
import { parseDuration, parseRange, rangeLabel } from "./cli/dates.ts";
import { whereOf } from "./cli/errors.ts";
import { resolveFlow } from "./cli/flows.ts";
import { Redactor } from "./cli/io.ts";
import { createNodeFetch } from "./cli/node-fetch.ts";
import { reconcile, reconcileTable } from "./cli/reconcile.ts";
import { openState } from "./cli/state.ts";
import { runSync, type SyncPorts, type SyncReport } from "./cli/sync-runner.ts";
import { type ActionInputs, actionEnvWarnings, contractEnv, readInputs, refuseUndeclaredInputs } from "./inputs.ts";

export interface ActionOverrides {
  clock?: Clock;
  fetch?: FetchLike;
  /** The step's environment (default process.env). */
  env?: Record<string, string | undefined>;
  /** Where relative paths start (default GITHUB_WORKSPACE or the working directory). */
  cwd?: string;
}

/** Dead letters annotated one by one, up to this many; the rest are counted. */
const MAX_ANNOTATIONS = 20;

function actionLogger(redactor: Redactor): Logger {
  // Engine warnings go to the log, not to annotations: annotations are for what the user must act on.
  const line = (level: string, message: string, fields?: Record<string, unknown>) =>
    redactor.apply(`${level}${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ""}`);
  return {
    debug: (m, f) => core.debug(line("", m, f)),
    info: (m, f) => core.info(line("", m, f)),
    warn: (m, f) => core.info(line("warning: ", m, f)),
    error: (m, f) => core.info(line("error: ", m, f)),
  };
}

function describe(error: unknown, redactor: Redactor): string {
  if (error instanceof BridgeError) {
    const where = whereOf(error);
    return redactor.apply(`${error.message}${where ? ` (${where})` : ""}${error.hint ? ` — ${error.hint}` : ""}`);
  }
  return redactor.apply(error instanceof Error ? error.message : String(error));
}

export async function run(overrides: ActionOverrides = {}): Promise<void> {
  let redactor = new Redactor();
  try {
    const stepEnv = overrides.env ?? process.env;
    const getInput = (name: string) => core.getInput(name);
    refuseUndeclaredInputs(stepEnv);
    const inputs = readInputs(getInput);
    const env = contractEnv(inputs, getInput, stepEnv, (v) => core.setSecret(v));
    for (const warning of actionEnvWarnings(env)) core.warning(warning, { title: "jst-bridge: setting with no effect" });
    redactor = new Redactor(env);
    const context = await actionContext(inputs, env, stepEnv, redactor, overrides);
    if (inputs.command === "doctor") await doctorCommand(context);
    else if (inputs.command === "reconcile") await reconcileCommand(context);
    else await syncCommand(context);
  } catch (error) {
    // Also non-Error throws: String(error) is the fallback.
    core.setFailed(describe(error, redactor));
  }
}

/** What every command of the Action works with: the inputs, the flow, the optional range and the secured ports. */
interface ActionContext {
  inputs: ActionInputs;
  redactor: Redactor;
  flow: Awaited<ReturnType<typeof resolveFlow>>["flow"];
  range: ReturnType<typeof parseRange>;
  windowMs: number | undefined;
  ports: SyncPorts;
}

async function actionContext(
  inputs: ActionInputs,
  env: Record<string, string | undefined>,
  stepEnv: Record<string, string | undefined>,
  redactor: Redactor,
  overrides: ActionOverrides,
): Promise<ActionContext> {
  const clock = overrides.clock ?? systemClock;
  const fetch = overrides.fetch ?? createNodeFetch();
  const cwd = overrides.cwd ?? stepEnv.GITHUB_WORKSPACE ?? process.cwd();
  // Every token loaded from state, refreshed during the run or sent in a credential header is masked
  // in the job log (core.setSecret) and redacted from annotations, the summary and the failure message.
  const secrets = SecretRedactor.fromEnv(env).onSecret((value) => {
    core.setSecret(value);
    redactor.add(value);
  });
  const logger = actionLogger(redactor);
  for (const name of shortSecretNames(env)) {
    core.warning(
      `${name} has fewer than ${MIN_SECRET_LENGTH} characters: it is masked in output only after a credential word (password=…); use a longer value`,
    );
  }
  const state = openState({ kind: inputs.state, dir: resolve(cwd, inputs["state-dir"]), cwd, env, fetch, clock, logger });
  const { flow, notes } = await resolveFlow(inputs.flow, cwd);
  for (const n of notes) core.info(`flow import: ${n}`);
  const range = parseRange(inputs.from, inputs.to, flow.timezone, "action");
  if (range) range.to = Math.min(range.to, clock.now());
  const windowMs = inputs.window ? parseDuration("window", inputs.window, "action") : undefined;
  const ports = securePorts({ env, kv: state.kv, fetch, clock, logger }, secrets);
  return { inputs, redactor, flow, range, windowMs, ports };
}

async function doctorCommand({ inputs, redactor, flow, ports }: ActionContext): Promise<void> {
  // The refresh is exercised only against the KV the Worker uses (a rotation into a file store would strand it).
  const report = await runDoctor({ ...ports, flows: { [flow.id]: flow } }, { exerciseRefresh: inputs.state === "kv" });
  const mark = { ok: "✓", fail: "✗", unknown: "?" } as const;
  for (const c of report.checks)
    core.info(
      redactor.apply(`${mark[c.status]} [${c.system}] ${c.title}${c.detail ? `: ${c.detail}` : ""}${c.fix && c.status !== "ok" ? ` — fix: ${c.fix}` : ""}`),
    );
  const rows = report.checks.map((c) => [
    mark[c.status],
    c.system,
    c.title,
    redactor.apply(c.detail ?? ""),
    c.status === "ok" ? "" : redactor.apply(c.fix ?? ""),
  ]);
  await writeSummary(`jst-bridge doctor ${flow.id}`, report.ok ? "no ✗" : "**fix the ✗ lines before go-live**", ["", "system", "check", "detail", "fix"], rows);
  if (!report.ok) core.setFailed(`doctor ${flow.id}: ${report.checks.filter((c) => c.status === "fail").length} check(s) failed`);
}

async function reconcileCommand({ flow, range, windowMs, ports }: ActionContext): Promise<void> {
  if (!range)
    throw new BridgeError("config_invalid", "command reconcile needs the from and to inputs", {
      hint: "give the days to compare, e.g. from: 2024-06-01, to: 2024-06-07",
    });
  const report = await reconcile({ flow, range, ...(windowMs ? { windowMs } : {}) }, ports);
  const drifted = report.rows.filter((r) => r.drift);
  core.setOutput("drift", String(drifted.length));
  core.setOutput("missing", String(report.missing.length));
  core.setOutput("documents-read", String(report.sourceDocuments));
  const { header, rows } = reconcileTable(report, true);
  await writeSummary(
    `jst-bridge reconcile ${flow.id}`,
    `${rangeLabel(range, flow.timezone)} — ${report.drift ? "**drift**" : "no drift"}: ${report.expectedDocuments} expected, ${report.targetDocuments} in the target`,
    header,
    rows,
  );
  for (const key of report.missing.slice(0, MAX_ANNOTATIONS))
    core.warning(`document ${key} is missing in the target`, { title: `jst-bridge reconcile ${flow.id}` });
  if (report.drift)
    core.setFailed(
      `reconcile ${flow.id}: ${drifted.length} day/warehouse row(s) differ (${report.missing.length} missing, ${report.mismatched.length} with a different quantity or amount)`,
    );
}

async function syncCommand({ inputs, redactor, flow, range, windowMs, ports }: ActionContext): Promise<void> {
  const report = await runSync({ flow, ...(range ? { range } : {}), ...(windowMs ? { windowMs } : {}), dryRun: inputs["dry-run"], trigger: "action" }, ports, {
    aroundWindow: (window, index, count, work) =>
      core.group(`Window ${index + 1}/${count}: ${rangeLabel(window, flow.timezone)}`, async () => {
        const result = await work();
        const c = result.summary.counts;
        core.info(
          `${result.summary.outcome}: ${c.read} read, ${c.written} written, ${c.alreadyExisted} already there, ${c.skipped} skipped, ${c.deadLettered} dead-lettered, ${result.summary.subrequests} API calls`,
        );
        return result;
      }),
  });
  core.setOutput("documents-read", String(report.counts.read));
  core.setOutput("documents-written", String(report.counts.written));
  core.setOutput("documents-dead-lettered", String(report.counts.deadLettered));
  core.setOutput("outcome", report.outcome);
  await syncSummary(report, flow.timezone);
  if (report.counts.deadLettered > 0 && !report.dryRun) await annotateDeadLetters(report, composeHost(ports).stateStore(), redactor);
  if (report.error) {
    const where = report.error.window ? ` (window ${rangeLabel(report.error.window, flow.timezone)})` : "";
    const text = redactor.apply(`${report.error.message}${where}${report.error.hint ? ` — ${report.error.hint}` : ""}`);
    core.error(text, { title: `jst-bridge ${flow.id}: ${report.error.code}` });
    core.setFailed(text);
  } else if (report.outcome === "partial" && inputs["fail-on-dead-letters"]) {
    core.setFailed(`${report.counts.deadLettered} document(s) of ${flow.id} were dead-lettered`);
  }
}

/** core.summary.addTable puts cells into HTML as they are: escape upstream values (warehouse codes …; review #13). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

async function writeSummary(title: string, line: string, header: string[], rows: string[][]): Promise<void> {
  try {
    await core.summary
      .addHeading(title, 2)
      .addRaw(`${line}\n\n`)
      .addTable([header.map((data) => ({ data: escapeHtml(data), header: true })), ...rows.map((row) => row.map(escapeHtml))])
      .write();
  } catch (error) {
    // Outside GitHub (no GITHUB_STEP_SUMMARY) the summary is skipped, not the run.
    core.debug(`job summary not written: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function syncSummary(report: SyncReport, zone: string | undefined): Promise<void> {
  const n = (v: number) => v.toLocaleString("en-US");
  const what = report.range ? `backfill ${rangeLabel(report.range, zone)}` : "incremental run";
  const title = `jst-bridge ${report.flowId}${report.dryRun ? " (dry run)" : ""}`;
  if (report.mode === "incremental") {
    // The engine plans an incremental run's windows itself; counts exist per run only (the total row).
    const c = report.counts;
    const rows = report.windows.map((w) => [rangeLabel(w, zone), w.outcome, n(w.pages), n(w.counts.read), "", "", "", ""]);
    rows.push(["**Total**", report.outcome, n(report.pages), n(c.read), n(c.written), n(c.alreadyExisted), n(c.skipped), n(c.deadLettered)]);
    await writeSummary(
      title,
      `${what} — ${report.outcome}, ${n(report.subrequests)} API calls`,
      ["Window", "Outcome", "Pages", "Read", "Written", "Already there", "Skipped", "Dead letters"],
      rows,
    );
    return;
  }
  const header = ["Window", "Outcome", "Pages", "Read", report.dryRun ? "Would write" : "Written", "Already there", "Skipped", "Dead letters"];
  const rows = report.windows.map((w) => [
    rangeLabel(w, zone),
    w.outcome,
    n(w.pages),
    n(w.counts.read),
    report.dryRun ? n((w.planned?.new ?? 0) + (w.planned?.supplement ?? 0)) : n(w.counts.written),
    n(w.counts.alreadyExisted),
    n(w.counts.skipped),
    n(w.counts.deadLettered),
  ]);
  const c = report.counts;
  rows.push([
    "**Total**",
    report.outcome,
    n(report.pages),
    n(c.read),
    report.dryRun ? n(rows.reduce((s, r) => s + Number(r[4]!.replace(/,/g, "")), 0)) : n(c.written),
    n(c.alreadyExisted),
    n(c.skipped),
    n(c.deadLettered),
  ]);
  await writeSummary(title, `${what} — ${report.outcome}, ${n(report.subrequests)} API calls`, header, rows);
}

async function annotateDeadLetters(report: SyncReport, store: FlowStateStore, redactor: Redactor): Promise<void> {
  const runs = new Set(report.runIds);
  try {
    const letters = (await store.listDeadLetters(report.flowId)).filter((d) => runs.has(d.runId));
    for (const d of letters.slice(0, MAX_ANNOTATIONS)) {
      core.warning(redactor.apply(`${d.error.message}${d.error.hint ? ` — ${d.error.hint}` : ""}`), {
        title: `Dead letter ${d.sourceId ?? d.externalKey ?? d.id} (${report.flowId}, ${d.error.code})`,
      });
    }
    if (letters.length > MAX_ANNOTATIONS) core.warning(`${letters.length - MAX_ANNOTATIONS} more dead letters of ${report.flowId}`, { title: "Dead letters" });
  } catch (error) {
    core.warning(
      redactor.apply(
        `${report.counts.deadLettered} documents were dead-lettered (details could not be read: ${error instanceof Error ? error.message : String(error)})`,
      ),
    );
  }
}

export type { ActionInputs };
