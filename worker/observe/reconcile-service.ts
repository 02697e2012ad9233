/**
 * Reconcile in the Worker (issue 17 item 3): the CLI's implementation (shared/observe/reconcile.ts) over the
 * Worker's ports, its latest result stored per flow, a schedule per flow (observe.reconcile.cron, default daily
 * 18:30 UTC = 02:30 Asia/Shanghai, comparing the 2 days before), drift alerts, and "re-sweep this day" through
 * the normal exactly-once sync path.
 */
import { BridgeError } from "../../shared/errors.ts";
import { nextCronTime } from "../../shared/flow/cron-next.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import { notifyObservations } from "../../shared/observe/alerts.ts";
import { DEFAULT_RECONCILE } from "../../shared/observe/config.ts";
import { reconcile, type ReconcileReport } from "../../shared/observe/reconcile.ts";
import { systemClock } from "../../shared/ports.ts";
import { parseRange } from "../../shared/util/range.ts";
import { formatInZone, parseInZone, startOfDayAfter, startOfDayInZone } from "../../shared/util/time.ts";
import type { WorkerConfig } from "../config.ts";
import type { Env } from "../env.ts";
import { runFlowInWorker, workerPorts } from "../runtime.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { approved } from "../../shared/observe/approval.ts";

const DAY_MS = 86_400_000;
/** The latest result of a flow's reconcile (any trigger). */
export const reconcileKey = (flowId: string) => `reconcile:${flowId}:latest`;
/** When the scheduled reconcile last ran (small, read on every tick). */
const dueKey = (flowId: string) => `reconcile:${flowId}:due`;
const RESULT_TTL_SECONDS = 35 * 86_400;

export interface StoredReconcile {
  at: number;
  trigger: "cron" | "http";
  report?: ReconcileReport;
  error?: { code: string; message: string; hint?: string };
}

export function reconcileSettings(flow: Flow) {
  return { ...DEFAULT_RECONCILE, ...flow.observe?.reconcile };
}

/**
 * Whole days of the flow's zone: the `days` days before today, or the given range read by the one range parser
 * (shared/util/range.ts, as the CLI reads it: a date-only `to` includes that day; `to` defaults to `from`).
 */
export function reconcileRange(flow: Flow, now: number, request: { days?: number; from?: string; to?: string }): { from: number; to: number } {
  const zone = flow.timezone ?? "Asia/Shanghai";
  if (request.from || request.to) {
    const range = parseRange(request.from || request.to, request.to || request.from, zone, "http")!;
    // 31 days: a zone that shifts its clock makes a whole-day range an hour longer or shorter.
    if (range.to - range.from > 31 * DAY_MS + 3_600_000)
      throw new BridgeError("invalid_request", "reconcile at most 31 days at a time", { hint: "use the CLI for longer ranges" });
    return range;
  }
  // Whole days back in the zone (civil arithmetic): a day the zone shifts its clock has 23 or 25 hours.
  return { from: startOfDayAfter(now, -(request.days ?? reconcileSettings(flow).days), zone), to: startOfDayInZone(now, zone) };
}

export async function runReconcile(
  env: Env,
  config: WorkerConfig,
  flow: Flow,
  range: { from: number; to: number },
  trigger: StoredReconcile["trigger"],
  maxSubrequests?: number,
): Promise<StoredReconcile> {
  const ports = workerPorts(env, config);
  const at = Date.now();
  let stored: StoredReconcile;
  try {
    const report = await reconcile(
      {
        flow,
        range,
        strict: reconcileSettings(flow).strict,
        budget: { maxSubrequests: Math.max(1, (maxSubrequests ?? config.maxSubrequests) - config.stateReserve) },
      },
      // The app's one Jushuitan budget (RATE_BUDGET), as every run and the doctor use: reconcile pages Jushuitan too.
      { env: ports.env, kv: ports.kv, fetch: ports.fetch, clock: systemClock, logger: ports.logger, rateBudget: ports.rateBudget },
    );
    stored = { at, trigger, report };
  } catch (error) {
    const e = error instanceof BridgeError ? error : new BridgeError("internal", String(error));
    stored = { at, trigger, error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
  }
  await ports.kv.put(reconcileKey(flow.id), JSON.stringify(stored), { expirationTtl: RESULT_TTL_SECONDS });
  const drifted = stored.report?.rows.filter((r) => r.drift) ?? [];
  await notifyObservations(
    flow.id,
    ["reconcile_drift"],
    drifted.length
      ? [
          {
            event: "reconcile_drift",
            message: `${drifted.length} 行有差异(缺 ${stored.report!.missing.length},不同 ${stored.report!.mismatched.length}): ${drifted
              .slice(0, 5)
              .map((r) => `${r.day} ${r.warehouse}`)
              .join(
                ", ",
              )} / ${drifted.length} day×warehouse rows drift (${stored.report!.missing.length} missing, ${stored.report!.mismatched.length} different)`,
          },
        ]
      : [],
    ports,
  ).catch(() => undefined);
  return stored;
}

export async function latestReconcile(env: Env, config: WorkerConfig, flowId: string): Promise<StoredReconcile | null> {
  const raw = await workerPorts(env, config).kv.get(reconcileKey(flowId));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as StoredReconcile;
  } catch {
    return null;
  }
}

/**
 * On a cron tick: each flow whose reconcile cron fired since its last scheduled reconcile runs one, with what is
 * left of the tick's budget. A flow never reconciled starts counting from now (its first one is at the next
 * scheduled time, not on the first tick after a deploy).
 */
export async function reconcileTick(env: Env, config: WorkerConfig, now: number, remaining: number): Promise<void> {
  const ports = workerPorts(env, config);
  for (const flow of Object.values(config.flows)) {
    const settings = reconcileSettings(flow);
    if (settings.cron === "off") continue;
    try {
      const raw = await ports.kv.get(dueKey(flow.id));
      const last = raw ? Number(JSON.parse(raw).lastAt) : null;
      if (last === null || !Number.isFinite(last)) {
        await ports.kv.put(dueKey(flow.id), JSON.stringify({ lastAt: now }));
        continue;
      }
      const next = nextCronTime(settings.cron, last);
      if (next === null || next > now) continue;
      if (remaining - config.stateReserve < 10) {
        ports.logger.warn("reconcile due but the tick's budget is spent; it runs on a later tick", { flowId: flow.id });
        continue;
      }
      await ports.kv.put(dueKey(flow.id), JSON.stringify({ lastAt: now }));
      const result = await runReconcile(env, config, flow, reconcileRange(flow, now, {}), "cron", remaining);
      remaining -= result.report?.subrequests ?? remaining;
    } catch (error) {
      ports.logger.error("scheduled reconcile failed", { flowId: flow.id, message: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** The instants of one day of the flow's zone to re-sweep (23 or 25 hours on a DST day); a day ending over 24 h after `now` is refused. */
export function resweepRange(flow: Flow, day: string, now: number): { from: number; to: number } {
  const from = parseInZone(day, flow.timezone ?? "Asia/Shanghai");
  if (from === null) throw new BridgeError("invalid_request", `"${day}" is not a day`, { hint: "yyyy-MM-dd" });
  const to = startOfDayAfter(from, 1, flow.timezone ?? "Asia/Shanghai");
  if (to > now + DAY_MS) throw new BridgeError("invalid_request", `${day} is in the future`, { hint: "re-sweep today or an earlier day" });
  return { from, to };
}

/** The days the dashboard's "reconcile now" form proposes: the scheduled days and today, in the flow's zone. */
export function manualReconcileDays(flow: Flow, now: number): { from: string; to: string } {
  const zone = flow.timezone ?? "Asia/Shanghai";
  return { from: formatInZone(startOfDayAfter(now, -reconcileSettings(flow).days, zone), "YYYY-MM-DD", zone), to: formatInZone(now, "YYYY-MM-DD", zone) };
}

/**
 * Re-sweep one day of the flow's zone as a range run (the ledger skips what is written, the lease keeps runs apart).
 * Reconcile dates documents by their document day (io_date → KIS Fdate / T+ VoucherDate), so the day is read by
 * io_date (source.rangeTimeField, date_type 2) when the flow does not say otherwise; a modified-day read would miss
 * a document dated that day but edited later.
 */
export async function resweepDay(env: Env, config: WorkerConfig, flow: Flow, day: string) {
  const { from, to } = resweepRange(flow, day, Date.now());
  const rangeTimeField = flow.source.rangeTimeField ?? "io_date";
  // The approval gate judges the flow as defined (not this read of it): a flow waiting for approval is refused.
  if (!(await approved(workerPorts(env, config).kv, flow))) {
    throw new BridgeError("conflict", `flow ${flow.id} waits for approval`, {
      hint: "approve its plan first (POST /flows/:id/approve or the dashboard's approvals page)",
    });
  }
  const swept: Flow = { ...flow, approval: undefined, source: { ...flow.source, rangeTimeField } };
  const at = Date.now();
  const result = await runFlowInWorker(
    env,
    { ...config, flows: { ...config.flows, [flow.id]: swept } },
    { flowId: flow.id, runId: makeRunId(at, "http"), trigger: "http", now: at, range: { from, to } },
  );
  return result.summary;
}
