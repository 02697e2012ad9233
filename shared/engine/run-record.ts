/**
 * The end of every invocation (split out of run.ts): count the set-aside documents' failed runs, save what that
 * settled, clear the write markers a clean run inherited, and store the run record.
 */
import { type CallMeter, percentile } from "./meter.ts";
import { closePlan } from "./outbox-writer.ts";
import { attemptLedgerKey, type PoisonBook, repeatedFailure } from "./poison.ts";
import { heldByTarget } from "./poison-verify.ts";
import type { FlowRun } from "./run-context.ts";
import { deadLetterMarker } from "./ledger-keys.ts";
import { fileDeadLetter, flushState } from "./run-ledger.ts";
import { toBridgeError } from "./run-errors.ts";
import type { RunResult } from "./run.ts";
import type { RunSummary } from "./types.ts";

type SetAsideList = NonNullable<RunSummary["setAside"]>;

export async function finishRun(run: FlowRun): Promise<RunResult> {
  const upgraded = upgradeEarlierSetAside(run);
  const setAside = await settleSetAside(run);
  if (setAside.pending || upgraded) {
    try {
      await flushState(run);
    } catch (error) {
      run.recovery.ledgerSaveFailed = true;
      run.deps.logger.error("could not save set-aside documents", { flowId: run.flowId, message: toBridgeError(error).message });
    }
  }
  const writesSettled = await settleWriteMarker(run);
  const summary = runSummary(run, setAside.list, writesSettled);
  if (run.unresolved.length > 0) {
    summary.warnings = run.unresolved.map((u) => ({ code: "unresolved_path" as const, ...u }));
    run.deps.logger.warn("template paths resolved to nothing", { flowId: run.flowId, paths: run.unresolved.map((u) => `${u.flowPath}: ${u.path}`) });
  }
  if (!run.dryRun) await run.deps.state.recordRun(summary);
  return { summary, planned: run.planned };
}

/**
 * A document an earlier invocation of this run set aside before any create worked: this invocation's creates show
 * the target takes them, so its failure counts in later runs (which find the others written and create nothing).
 */
function upgradeEarlierSetAside(run: FlowRun): boolean {
  if (run.dryRun || !(run.poison.createsInInvocation > 0) || run.poison.sawOutage) return false; // an outage vouches for nobody
  let upgraded = false;
  for (const key of run.earlierSetAside) {
    const entry = run.ledger.get(attemptLedgerKey(key));
    if (entry && !entry.createsSeen) {
      // Later than the entry it replaces: the ledger keeps the latest writtenAt per key (a tie is either one).
      run.ledger.remember({ ...entry, createsSeen: true, writtenAt: Math.max(run.deps.clock.now(), entry.writtenAt + 1) });
      upgraded = true;
    }
  }
  return upgraded;
}

/**
 * End of run: count the set-aside documents' failed runs; dead-letter the ones that reached the limit, unless the
 * target holds them after all (poison-verify.ts: they stay set aside, the next run records them).
 */
async function settleSetAside(run: FlowRun): Promise<{ pending: boolean; list: SetAsideList }> {
  const { poison } = run;
  if (run.dryRun || poison.size === 0) return { pending: false, list: [] };
  const setAsideCount = poison.size;
  const { entries, exhausted, setAside, tookNothing } = poison.settle(run.runId, run.deps.clock.now());
  if (tookNothing && run.outcome !== "failed") {
    // Every write failed and none counted as poison (no create seen to work): report it as the outage it may be.
    run.outcome = "failed";
    run.error = {
      code: tookNothing.code,
      message: `the target took no document in this run (${setAsideCount} set aside): ${tookNothing.message}`,
      hint: tookNothing.hint,
    };
  }
  for (const entry of entries) run.ledger.remember(entry);
  for (const item of exhausted) {
    const inPlan = item.doc.groupKey !== undefined && run.outbox?.plans.has(item.doc.groupKey);
    if (!inPlan && (await heldByTarget(run, item.doc))) setAside.push({ externalKey: item.doc.externalKey, attempts: item.attempts, code: item.error.code });
    else {
      fileExhausted(run, item);
      renewLetterMarker(run, item.doc.externalKey);
    }
  }
  if (run.outcome === "success") run.outcome = "partial";
  return { pending: true, list: setAside };
}

/**
 * The `dead:` marker of an exhausted document as new as its attempt entry. Filing the same letter again is skipped
 * (same content, run-ledger.ts) without touching the marker, but this run saved a newer attempt entry: PoisonBook
 * `exhausted` (a marker at least as new as the count) was then false for good and every run sent the document again
 * (chaos seed 4359 long: a run that read the ledger stale tried a lettered bill once more; 160 invocations). A marker
 * found in the ledger is saved only after its letter, so renewing it never skips a document whose letter is missing.
 */
function renewLetterMarker(run: FlowRun, externalKey: string): void {
  if (run.dryRun) return;
  const marker = run.ledger.get(deadLetterMarker(externalKey));
  const attempt = run.ledger.get(attemptLedgerKey(externalKey));
  if (marker && attempt && marker.writtenAt < attempt.writtenAt) run.ledger.remember({ ...marker, writtenAt: attempt.writtenAt, runId: run.runId });
}

/** A set-aside document that reached the failure limit (poison.ts), dead-lettered at the end of the run. */
function fileExhausted(run: FlowRun, item: ReturnType<PoisonBook["settle"]>["exhausted"][number]): void {
  const { outbox } = run;
  const plan = item.doc.groupKey === undefined ? undefined : outbox?.plans.get(item.doc.groupKey);
  const at = plan?.parts.findIndex((p) => p.externalKey === item.doc.externalKey) ?? -1;
  const error = repeatedFailure(item.doc.externalKey, item.attempts, item.error, item.vouched);
  if (outbox && plan && at >= 0) {
    // A part of a merged group's plan: the letter holds the plan's remainder from this part on (as a refusal's
    // does), so replaying it writes exactly those parts; the plan is settled now that none of it waits.
    const remainder = plan.parts.slice(at).filter((p) => !run.ledger.get(p.externalKey));
    fileDeadLetter(run, item.doc.members[0] ?? item.doc.externalKey, item.rows, error, {
      externalKey: item.doc.externalKey,
      payload: { outbox: { unit: plan.unit, parts: remainder } },
    });
    closePlan(outbox, plan);
    return;
  }
  fileDeadLetter(
    run,
    item.doc.members[0] ?? item.doc.externalKey,
    item.doc.groupKey === undefined && item.rows.length === 1 ? item.rows[0] : item.rows,
    error,
    {
      externalKey: item.doc.externalKey,
      payload: run.changeWriter ? run.changeWriter.letterPayload(item.doc) : item.doc.payload,
    },
  );
}

/** Whether this run's writes are settled (run record `writesSettled`); a recovering run that settled clears what it inherited. */
async function settleWriteMarker(run: FlowRun): Promise<boolean> {
  const { recovery, outcome } = run;
  const marker = run.deps.state.writeMarker;
  const clean = !recovery.ledgerSaveFailed && outcome !== "failed" && !(recovery.uncleanBefore && outcome === "incomplete");
  if (run.dryRun || !clean || !marker || recovery.inherited.length === 0) return clean;
  try {
    await marker.clear(run.flowId, recovery.inherited);
  } catch (error) {
    run.deps.logger.error("could not clear write markers", { flowId: run.flowId, message: toBridgeError(error).message });
  }
  return clean;
}

function runSummary(run: FlowRun, setAside: SetAsideList, writesSettled: boolean): RunSummary {
  const { deps, options, progress, counts, recovery, changeWriter, late, windowEndCutMs } = run;
  const finishedAt = deps.clock.now();
  return {
    runId: run.runId,
    flowId: run.flowId,
    trigger: options.trigger,
    dryRun: run.dryRun,
    startedAt: run.startedAt,
    finishedAt,
    durationMs: finishedAt - run.startedAt,
    outcome: run.outcome,
    counts,
    windows: run.windowSummaries,
    api: apiSummary(deps.meter),
    subrequests: deps.meter.used(),
    source: {
      clockSkewMs: deps.source.clockSkewMs?.(),
      ...(windowEndCutMs !== undefined ? { windowEndCutMs } : {}),
      ...(late.rows > 0 ? { late: { rows: late.rows, minLagMs: late.minLagMs } } : {}),
      paging: [...new Set(run.windowSummaries.flatMap((w) => w.paging?.split("+") ?? []))],
    },
    watermarkBefore: progress.before,
    watermarkAfter: run.dryRun || options.range ? progress.watermark : progress.saved,
    continues: run.continues,
    ...(progress.held && !options.range ? { watermarkHeld: progress.heldForDocuments ? ("documents" as const) : ("groups" as const) } : {}),
    error: run.error,
    ...(setAside.length ? { setAside } : {}),
    ...(changeWriter?.records.length ? { corrections: changeWriter.records } : {}),
    ...(counts.deadLettered > 0 ? { deadLetterCodes: run.deadLetterCodes } : {}),
    ...(recovery.markedWriting || recovery.inherited.length ? { writesSettled } : {}),
  };
}

/** The run record's per-endpoint API figures. */
function apiSummary(meter: CallMeter): RunSummary["api"] {
  return meter.stats().map((s) => ({
    endpoint: s.endpoint,
    calls: s.calls,
    errors: s.errors,
    throttles: s.throttles,
    p50Ms: percentile(s.latenciesMs, 50),
    p95Ms: percentile(s.latenciesMs, 95),
    latenciesMs: s.latenciesMs,
  }));
}
