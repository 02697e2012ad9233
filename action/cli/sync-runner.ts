/**
 * A sync from the CLI or the Action, on the runner every host shares (shared/engine/runner.ts):
 *   - a range (backfill): cut into windows of `windowMs`, one runner call per window, each with the
 *     explicit range so the watermark never moves; pages stream through the engine one at a time and each
 *     window's state is dropped when it is done, so memory does not grow with the range;
 *   - no range: an incremental run exactly like the Worker's cron, which moves the watermark.
 * No subrequest budget (a CLI is not a Worker invocation). The lease is taken once for the whole sync,
 * renewed while it runs, and released at the end.
 */
import { runFlowById, type RunnerPorts, type RunRequest } from "../../shared/engine/runner.ts";
import type { RunResult } from "../../shared/engine/run.ts";
import type { RunSummary } from "../../shared/engine/types.ts";
import { DAY_MS, planSyncWindows, type TimeWindow } from "../../shared/engine/window.ts";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../../shared/ports.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { composeHost } from "../../shared/compose/index.ts";
import { refuseUnapproved } from "./approval-gate.ts";
import type { FlowLockPort } from "../../shared/state/lock.ts";
import { withWindow } from "./flows.ts";
import { CombinedFlowLock, heldLease, processLock, StateLeaseLock, workerOwner } from "./lease-lock.ts";
import { jstRateBudget } from "./pacing.ts";

/** "No budget": the metered fetch still counts every call. */
export const UNLIMITED_BUDGET = { maxSubrequests: Number.MAX_SAFE_INTEGER };
export const DEFAULT_LEASE_MS = 30 * 60_000;

export type Counts = RunSummary["counts"];
export type SyncOutcome = "success" | "partial" | "failed" | "skipped_locked" | "incomplete";

export interface SyncSpec {
  flow: Flow;
  range?: { from: number; to: number };
  /** Window length (default: the flow's incremental.windowDays). */
  windowMs?: number;
  dryRun?: boolean;
  trigger: "cli" | "action";
  leaseMs?: number;
}

export interface SyncPorts {
  env: Record<string, string | undefined>;
  kv: KeyValueStore;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  /** Default: the process lock combined with a lease record in `kv`. */
  lock?: FlowLockPort;
}

export interface SyncProgress {
  window: TimeWindow;
  /** 0-based; undefined total for incremental runs (the plan is the engine's). */
  windowIndex: number;
  windowCount?: number;
  pages: number;
  read: number;
  written: number;
}

export interface SyncHooks {
  onPlan?(windows: TimeWindow[]): void;
  onProgress?(progress: SyncProgress): void;
  /** Wraps the work of one window (the Action opens a log group per window). */
  aroundWindow?(window: TimeWindow, index: number, count: number, work: () => Promise<RunResult>): Promise<RunResult>;
  onWindowDone?(report: WindowReport, index: number, count: number): void;
}

export interface WindowReport {
  from: number;
  to: number;
  runId: string;
  outcome: RunSummary["outcome"];
  pages: number;
  counts: Counts;
  subrequests: number;
  error?: RunSummary["error"];
  /** Dry runs: documents that would be written, by status. */
  planned?: Record<string, number>;
}

export interface SyncReport {
  flowId: string;
  mode: "range" | "incremental";
  range?: { from: number; to: number };
  windowMs: number;
  dryRun: boolean;
  outcome: SyncOutcome;
  counts: Counts;
  pages: number;
  windows: WindowReport[];
  /** Calls made upstream (source pages, target writes, token refreshes, retries). */
  subrequests: number;
  api: Array<{ endpoint: string; calls: number; errors: number; throttles: number }>;
  runIds: string[];
  watermark?: { before: number; after: number };
  error?: { code: string; message: string; hint?: string; window?: { from: number; to: number } };
  /** The run holding the lease when this one was refused. */
  lockedBy?: string;
  /** Template paths that resolved to nothing in a run (RunSummary.warnings, deduplicated across runs). */
  warnings?: Array<{ flowPath: string; path: string; message: string; suggestions: string[] }>;
  startedAt: number;
  finishedAt: number;
}

export function emptyCounts(): Counts {
  return { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 };
}

function addCounts(into: Counts, add: Counts): void {
  for (const k of Object.keys(into) as Array<keyof Counts>) into[k] += add[k];
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(3));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function outcomeExit(outcome: SyncOutcome): 0 | 1 | 2 {
  return outcome === "success" ? 0 : outcome === "partial" ? 2 : 1;
}

type ApiTotals = Map<string, { endpoint: string; calls: number; errors: number; throttles: number }>;

/** Adds one run's counts, warnings (once per path), subrequests and API calls to the sync's report. */
function absorbSummary(report: SyncReport, api: ApiTotals, summary: RunSummary) {
  addCounts(report.counts, summary.counts);
  for (const w of summary.warnings ?? []) {
    report.warnings ??= [];
    if (!report.warnings.some((x) => x.flowPath === w.flowPath && x.path === w.path))
      report.warnings.push({ flowPath: w.flowPath, path: w.path, message: w.message, suggestions: w.suggestions });
  }
  report.subrequests += summary.subrequests;
  report.runIds.push(summary.runId);
  for (const s of summary.api) {
    const a = api.get(s.endpoint) ?? { endpoint: s.endpoint, calls: 0, errors: 0, throttles: 0 };
    a.calls += s.calls;
    a.errors += s.errors;
    a.throttles += s.throttles;
    api.set(s.endpoint, a);
  }
}

/** What the window loops share: the spec, the report they fill, the held lease's runner ports and the hooks. */
interface SyncRun {
  spec: SyncSpec;
  flow: Flow;
  dryRun: boolean;
  report: SyncReport;
  hooks: SyncHooks;
  runnerPorts: RunnerPorts;
  absorb(summary: RunSummary): void;
  request(runId: string, extra: Partial<RunRequest>): RunRequest;
  baseRunId: string;
}

export async function runSync(spec: SyncSpec, ports: SyncPorts, hooks: SyncHooks = {}): Promise<SyncReport> {
  const { clock, logger } = ports;
  const windowMs = spec.windowMs ?? spec.flow.incremental.windowDays * DAY_MS;
  const flow = withWindow(spec.flow, spec.windowMs);
  const dryRun = spec.dryRun ?? false;
  const leaseMs = spec.leaseMs ?? DEFAULT_LEASE_MS;
  const startedAt = clock.now();
  const baseRunId = `${makeRunId(startedAt, spec.trigger)}-${randomSuffix()}`;
  const report = newReport(spec, flow.id, windowMs, dryRun, startedAt);
  const windows = spec.range ? planSyncWindows(flow, spec.range, windowMs) : undefined;
  if (windows && windows.length === 0) {
    throw new ConfigError(
      `the range ${new Date(spec.range!.from).toISOString()} … ${new Date(spec.range!.to).toISOString()} holds no whole window of flow ${flow.id}`,
      {
        hint: "flows that merge per day read whole days: give a range of at least one full day (dates without times)",
      },
    );
  }
  if (windows) hooks.onPlan?.(windows);
  if (!spec.range && !dryRun && ports.env.ALLOW_CLI_INCREMENTAL !== "1" && (await refuseWorkerOwned(report, flow.id, ports))) return report;
  if (await refuseUnapproved(report, flow, ports.kv, dryRun, ports.clock.now(), ports.env)) return report;
  const held = await holdLease(report, spec, flow.id, baseRunId, leaseMs, ports);
  if (!held) return report;
  const api: ApiTotals = new Map();
  // The app's rate window, persisted in the state and shared by every run of the process (the client waits on it):
  // a backfill started right after another waits for the minute the other one left.
  const rateBudget = jstRateBudget(ports.kv, ports.env, clock, logger, ports.fetch);
  const run: SyncRun = {
    spec,
    flow,
    dryRun,
    report,
    hooks,
    baseRunId,
    runnerPorts: {
      env: ports.env,
      kv: ports.kv,
      lock: heldLease(held.lease, held.lock),
      fetch: ports.fetch,
      clock,
      logger,
      flows: { [flow.id]: flow },
      rateBudget,
      // One ledger index for all the sync's runs (windows): read once, then only new keys (test/core/cli-backfill-ledger-once.test.ts).
      ledgerCache: new Map(),
    },
    absorb: (summary) => absorbSummary(report, api, summary),
    request: (runId, extra) => ({ flowId: flow.id, runId, trigger: spec.trigger, budget: UNLIMITED_BUDGET, dryRun, leaseMs, ...extra }),
  };
  try {
    if (windows) await runWindows(run, windows);
    else await runIncremental(run);
  } catch (error) {
    const e = error instanceof BridgeError ? error : new BridgeError("internal", error instanceof Error ? error.message : String(error));
    report.outcome = "failed";
    report.error = { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  } finally {
    held.stop();
    await rateBudget.flush();
  }
  if (report.outcome === "success" && report.counts.deadLettered > 0) report.outcome = "partial";
  report.api = [...api.values()];
  report.finishedAt = clock.now();
  return report;
}

function newReport(spec: SyncSpec, flowId: string, windowMs: number, dryRun: boolean, startedAt: number): SyncReport {
  const report: SyncReport = {
    flowId,
    mode: spec.range ? "range" : "incremental",
    windowMs,
    dryRun,
    outcome: "success",
    counts: emptyCounts(),
    pages: 0,
    windows: [],
    subrequests: 0,
    api: [],
    runIds: [],
    startedAt,
    finishedAt: startedAt,
  };
  if (spec.range) report.range = { ...spec.range };
  return report;
}

/** An incremental CLI sync of a flow a Worker runs would race it on the watermark: refused (true) unless allowed. */
async function refuseWorkerOwned(report: SyncReport, flowId: string, ports: SyncPorts): Promise<boolean> {
  const owner = workerOwner(await composeHost(ports).stateStore().getWatermark(flowId));
  if (!owner) return false;
  report.outcome = "failed";
  report.error = {
    code: "worker_owned_flow",
    message: `flow ${flowId} is run by a Worker (its checkpoint was saved by ${owner}); an incremental CLI sync would race it on the watermark`,
    hint: "backfill a range instead (--from/--to: safe alongside the Worker), or remove the flow from the Worker's FLOWS and set ALLOW_CLI_INCREMENTAL=1",
  };
  report.finishedAt = ports.clock.now();
  return true;
}

/**
 * Takes the sync's lease (a dry run takes none) and keeps renewing it; `stop()` ends the renewal and releases it.
 * Undefined when another run holds it (the report says so).
 */
async function holdLease(report: SyncReport, spec: SyncSpec, flowId: string, runId: string, leaseMs: number, ports: SyncPorts) {
  const { clock, logger } = ports;
  const dryRun = spec.dryRun ?? false;
  // Ranges are leased per range (disjoint backfills of one flow may run in parallel); incremental runs per flow.
  const scope = spec.range ? `${spec.range.from}-${spec.range.to}` : undefined;
  const lock = ports.lock ?? new CombinedFlowLock(processLock(clock), new StateLeaseLock(ports.kv, clock, scope), scope);
  let lease: Awaited<ReturnType<FlowLockPort["acquire"]>> = { acquired: true, expiresAt: clock.now() + leaseMs };
  if (!dryRun) {
    lease = await lock.acquire(flowId, runId, leaseMs);
    if (!lease.acquired) {
      report.outcome = "skipped_locked";
      report.lockedBy = lease.holder;
      report.error = {
        code: "flow_locked",
        message: `flow ${flowId} is already running${scope ? " over this range" : ""} (run ${lease.holder ?? "unknown"}, lease until ${new Date(lease.expiresAt).toISOString()})`,
        hint: "wait for that run to finish; a crashed run's lease expires on its own",
      };
      report.finishedAt = clock.now();
      return undefined;
    }
    if (lease.tookOverFrom)
      logger.warn("took over the lease of a run that stopped uncleanly; writes are verified first", { flowId, previous: lease.tookOverFrom });
  }
  // Renew well before expiry; unref'd so it never keeps the process alive.
  const renewal = dryRun
    ? undefined
    : setInterval(
        () => {
          lock
            .renew(flowId, runId, leaseMs)
            .catch((e: unknown) => logger.warn("lease renewal failed", { message: e instanceof Error ? e.message : String(e) }));
        },
        Math.max(1000, Math.floor(leaseMs / 3)),
      );
  (renewal as { unref?: () => void } | undefined)?.unref?.();
  const stop = async () => {
    if (renewal) clearInterval(renewal);
    if (!dryRun)
      await lock.release(flowId, runId).catch((e: unknown) => logger.warn("lease release failed", { message: e instanceof Error ? e.message : String(e) }));
  };
  return { lock, lease, stop };
}

/** A range: one runner call per window, each with the explicit range (the watermark never moves); stops at the first failed window. */
async function runWindows(run: SyncRun, windows: TimeWindow[]): Promise<void> {
  const { report, hooks, dryRun } = run;
  for (let i = 0; i < windows.length; i++) {
    const window = windows[i]!;
    let pages = 0;
    const before = { read: report.counts.read, written: report.counts.written };
    const work = () =>
      runFlowById(
        run.runnerPorts,
        run.request(`${run.baseRunId}-w${String(i + 1).padStart(3, "0")}`, {
          range: window,
          onProgress: (p) => {
            pages++;
            hooks.onProgress?.({
              window,
              windowIndex: i,
              windowCount: windows.length,
              pages: report.pages + pages,
              read: before.read + p.read,
              written: before.written + p.written,
            });
          },
        }),
      );
    const { summary, planned } = hooks.aroundWindow ? await hooks.aroundWindow(window, i, windows.length, work) : await work();
    run.absorb(summary);
    const windowPages = summary.windows.reduce((n, w) => n + w.pages, 0);
    report.pages += windowPages;
    const w: WindowReport = {
      from: window.from,
      to: window.to,
      runId: summary.runId,
      outcome: summary.outcome,
      pages: windowPages,
      counts: { ...summary.counts },
      subrequests: summary.subrequests,
    };
    if (summary.error) w.error = summary.error;
    if (dryRun) w.planned = countPlanned(planned);
    report.windows.push(w);
    hooks.onWindowDone?.(w, i, windows.length);
    if (summary.outcome === "failed" || summary.outcome === "skipped_locked" || summary.outcome === "incomplete") {
      report.outcome = summary.outcome === "incomplete" ? "incomplete" : "failed";
      report.error = {
        ...(summary.error ?? { code: summary.outcome, message: `window ended ${summary.outcome}` }),
        window: { from: window.from, to: window.to },
      };
      break;
    }
    if (summary.outcome === "partial") report.outcome = "partial";
  }
}

/** No range: one invocation normally catches up (no budget); loop in case the engine still stops early. */
async function runIncremental(run: SyncRun): Promise<void> {
  const { report, hooks, dryRun } = run;
  let pages = 0;
  for (let n = 1; n <= 1000; n++) {
    const before = { read: report.counts.read, written: report.counts.written };
    const { summary, planned } = await runFlowById(
      run.runnerPorts,
      run.request(`${run.baseRunId}-i${n}`, {
        onProgress: (p) =>
          hooks.onProgress?.({ window: p.window, windowIndex: 0, pages: ++pages, read: before.read + p.read, written: before.written + p.written }),
      }),
    );
    run.absorb(summary);
    report.watermark = { before: report.watermark?.before ?? summary.watermarkBefore, after: summary.watermarkAfter };
    for (const win of summary.windows) {
      report.pages += win.pages;
      const w: WindowReport = {
        from: win.from,
        to: win.to,
        runId: summary.runId,
        outcome: win.complete ? "success" : summary.outcome,
        pages: win.pages,
        counts: { ...emptyCounts(), read: win.rows },
        subrequests: 0,
      };
      if (dryRun) w.planned = countPlanned(planned);
      report.windows.push(w);
    }
    if (summary.outcome === "failed" || summary.outcome === "skipped_locked") {
      report.outcome = "failed";
      report.error = summary.error ?? { code: summary.outcome, message: `run ended ${summary.outcome}` };
      break;
    }
    if (summary.outcome === "partial") report.outcome = "partial";
    if (!summary.continues) break;
  }
}

function countPlanned(planned: Array<{ status: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of planned) out[p.status] = (out[p.status] ?? 0) + 1;
  return out;
}
