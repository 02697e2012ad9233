/**
 * The environment settings a run depends on, checked against its flow before anything moves. A problem here is a
 * recorded failed run (engine/runner.ts), never a throw out of the run: on the Worker's cron a throw would end the
 * whole tick — no run record, no alert, no other flow's run.
 */
import { BridgeError, ConfigError } from "../errors.ts";
import type { Flow } from "../flow/schema.ts";
import { resweepSettings } from "../engine/resweep.ts";
import { type EnvVars, ledgerOptions } from "./env.ts";

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** The first setting that makes this flow's run unsafe or cannot be read, as the error the run records; else undefined. */
export function runSettingsProblem(flow: Flow, env: EnvVars): BridgeError | undefined {
  try {
    const retentionMs = ledgerOptions(env).ledger?.retentionMs;
    if (retentionMs !== undefined) refuseRetentionShorterThanReach(flow, env, retentionMs);
    return undefined;
  } catch (error) {
    return error instanceof BridgeError ? error : new ConfigError(String(error));
  }
}

/**
 * How far back a run of the flow reads again documents it may already have written: the lookback and end lag, the
 * day a merged-by-day flow starts early, and the periodic re-sweep (RESWEEP_DAYS). Their ledger entries must still be
 * there, or each such document is sent again.
 */
function rereadReachMs(flow: Flow, env: EnvVars): { ms: number; by: string } {
  const inc = flow.incremental;
  const dayAligned = flow.operation?.type === "merge" && flow.operation.period?.unit === "day";
  const incremental = (inc.lookbackMinutes + inc.endLagMinutes) * MINUTE_MS + (dayAligned ? DAY_MS : 0);
  const resweep = resweepSettings(env);
  if (resweep && resweep.days * DAY_MS > incremental) return { ms: resweep.days * DAY_MS, by: `RESWEEP_DAYS=${resweep.days} (re-sweep)` };
  const parts = `incremental.lookbackMinutes ${inc.lookbackMinutes} + endLagMinutes ${inc.endLagMinutes}${dayAligned ? " + 1 day (merged by day)" : ""}`;
  return { ms: incremental, by: parts };
}

function refuseRetentionShorterThanReach(flow: Flow, env: EnvVars, retentionMs: number): void {
  const reach = rereadReachMs(flow, env);
  if (retentionMs > reach.ms) return;
  const days = (ms: number) => Math.round((ms / DAY_MS) * 100) / 100;
  throw new ConfigError(
    `LEDGER_RETENTION_DAYS=${env.LEDGER_RETENTION_DAYS} keeps the ledger ${days(retentionMs)} day(s), but flow ${flow.id} reads back ${days(reach.ms)} day(s) (${reach.by}): documents written before the ledger's horizon would be sent again`,
    {
      hint: `set LEDGER_RETENTION_DAYS to at least ${Math.floor(days(reach.ms)) + 1} (35 is the usual choice) or unset it to keep the whole ledger; or shorten the flow's lookback / RESWEEP_DAYS`,
      details: { flowId: flow.id, retentionDays: days(retentionMs), reachDays: days(reach.ms) },
    },
  );
}
