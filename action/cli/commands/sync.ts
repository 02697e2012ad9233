import { EXIT } from "../errors.ts";
import type { CommandContext } from "../context.ts";
import { label, parseDuration, parseRange, rangeLabel } from "../dates.ts";
import { resolveFlow } from "../flows.ts";
import { formatTable } from "../table.ts";
import { outcomeExit, runSync, type SyncReport } from "../sync-runner.ts";
import { duration } from "../progress.ts";

export const SYNC_USAGE = `jst-bridge sync <flow> [--from <date> --to <date>] [options]

Without --from/--to: an incremental run like the Worker's cron (continues from the watermark and moves it).
With them: a backfill of [from, to] that never moves the watermark, in windows of --window.
Dates: yyyy-MM-dd or "yyyy-MM-dd HH:mm:ss" in the flow's time zone (Asia/Shanghai); a --to date without a
time includes that day.

  <flow>              a seed flow id (jst-other-in-to-kis, jst-sales-out-to-tplus) or a flow .json file
  --window <d>        window length, e.g. 1d, 12h (at most 7d; default the flow's incremental.windowDays)
  --dry-run           read and map, write nothing, change no state
  --state file|kv     where state lives: a directory (default) or the Worker's KV namespace
                      (CF_ACCOUNT_ID, CF_API_TOKEN, CF_KV_NAMESPACE_ID; CF_API_BASE_URL optional)
  --state-dir <dir>   the state directory (default .jst-bridge)
  --json              print one machine-readable summary on stdout
  --env-file <file>   read variables from this file instead of ./.env
  -v, --verbose       log more (stderr) · -q, --quiet: errors only

Exit codes: 0 success · 1 failure · 2 partial (some documents dead-lettered).`;

export const SYNC_OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  window: { type: "string" },
  "dry-run": { type: "boolean" },
} as const;

export async function syncCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const { flow, notes } = await resolveFlow(positionals[0], ctx.io.cwd);
  for (const note of notes) ctx.logger.info(`flow import: ${note}`);
  const zone = flow.timezone;
  const range = parseRange(ctx.string("from"), ctx.string("to"), zone);
  if (range) range.to = Math.min(range.to, ctx.io.clock.now());
  const windowText = ctx.string("window");
  const windowMs = windowText !== undefined ? parseDuration("window", windowText) : undefined;
  const state = ctx.state();
  const progress = ctx.progress(zone);
  let report: SyncReport;
  try {
    report = await runSync(
      { flow, ...(range ? { range } : {}), ...(windowMs ? { windowMs } : {}), dryRun: ctx.flag("dry-run"), trigger: "cli" },
      { env: ctx.env, kv: state.kv, fetch: ctx.fetch, clock: ctx.io.clock, logger: ctx.logger },
      {
        onPlan: (windows) => progress.plan(windows.length),
        onProgress: (p) => progress.update(p),
        onWindowDone: () => progress.windowDone(),
      },
    );
  } finally {
    ctx.endProgress();
  }
  const exit = outcomeExit(report.outcome);
  if (ctx.json) {
    ctx.out(JSON.stringify({ command: "sync", state: state.description, ...report, exitCode: exit }, null, 2));
  } else {
    printReport(ctx, report, zone);
    for (const w of report.warnings ?? []) ctx.err(`warning: ${w.message}`);
  }
  if (report.error) {
    const where = report.error.window ? `window ${rangeLabel(report.error.window, zone)}` : `flow ${report.flowId}`;
    const resume = report.error.window && report.range ? ` — after fixing it, resume with --from "${label(report.error.window.from, zone)}"` : "";
    ctx.err(
      `error: ${report.error.message}${report.error.code ? ` [${report.error.code}]` : ""}\n  where: ${where}\n  fix:   ${report.error.hint ?? "see the message above"}${resume}`,
    );
  } else if (report.counts.deadLettered > 0) {
    ctx.err(
      `warning: ${report.counts.deadLettered} document(s) were dead-lettered; list them in the Worker dashboard or the state's dl:${report.flowId}:* records, fix the cause, then replay`,
    );
  }
  return exit === 0 ? EXIT.ok : exit === 2 ? EXIT.partial : EXIT.failure;
}

function printReport(ctx: CommandContext, report: SyncReport, zone: string | undefined) {
  const n = (v: number) => v.toLocaleString("en-US");
  if (report.windows.length > 0 && report.mode === "incremental") {
    // The engine plans an incremental run's windows itself; counts are per run (the totals line).
    ctx.out(
      formatTable(
        ["window", "outcome", "pages", "read"],
        report.windows.map((w) => [rangeLabel(w, zone), w.outcome, n(w.pages), n(w.counts.read)]),
      ),
    );
  } else if (report.windows.length > 0) {
    const header = report.dryRun
      ? ["window", "outcome", "pages", "read", "would write", "unchanged", "changed", "dead letters"]
      : ["window", "outcome", "pages", "read", "written", "existed", "skipped", "dead letters"];
    const rows = report.windows.map((w) =>
      report.dryRun
        ? [
            rangeLabel(w, zone),
            w.outcome,
            n(w.pages),
            n(w.counts.read),
            n((w.planned?.new ?? 0) + (w.planned?.supplement ?? 0)),
            n(w.planned?.unchanged ?? 0),
            n(w.planned?.changed ?? 0),
            n(w.counts.deadLettered),
          ]
        : [
            rangeLabel(w, zone),
            w.outcome,
            n(w.pages),
            n(w.counts.read),
            n(w.counts.written),
            n(w.counts.alreadyExisted),
            n(w.counts.skipped),
            n(w.counts.deadLettered),
          ],
    );
    ctx.out(formatTable(header, rows));
  }
  const c = report.counts;
  const secs = (report.finishedAt - report.startedAt) / 1000;
  const parts = [
    `${report.flowId}: ${report.outcome}${report.dryRun ? " (dry run)" : ""}`,
    report.range
      ? rangeLabel(report.range, zone)
      : report.watermark
        ? `watermark ${label(report.watermark.before, zone)} → ${label(report.watermark.after, zone)}`
        : "incremental",
    `${n(c.read)} read`,
    `${n(c.written)} written`,
    `${n(c.alreadyExisted)} already there`,
    `${n(c.skipped)} skipped`,
    `${n(c.deadLettered)} dead-lettered`,
    `${n(report.subrequests)} API calls`,
    duration(secs),
  ];
  ctx.out(parts.join(" · "));
}
