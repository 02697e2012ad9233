import { ConfigError } from "../../../shared/errors.ts";
import type { CommandContext } from "../context.ts";
import { parseDuration, parseRange, rangeLabel } from "../dates.ts";
import { EXIT } from "../errors.ts";
import { resolveFlow } from "../flows.ts";
import { reconcile, reconcileTable, type ReconcileReport } from "../reconcile.ts";
import { formatTable } from "../table.ts";

export const RECONCILE_USAGE = `jst-bridge reconcile <flow> --from <date> --to <date> [--all] [--strict] [--window 1d] [--json]

Compares, per day and warehouse, what the source says the target should hold over the range (documents,
quantity, and amount when the flow maps one) with what the target holds (T+ voucher Query, KIS bill list),
and prints the differences. Reads only; writes nothing.
  --all      print every day/warehouse, not only the ones that differ
  --strict   count target documents that no source document explains as drift too
  --state, --state-dir  as for sync (reference tables and tokens come from the state)
Exit codes: 0 no drift · 3 drift found · 1 failure.`;

export const RECONCILE_OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  window: { type: "string" },
  all: { type: "boolean" },
  strict: { type: "boolean" },
} as const;

export async function reconcileCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const { flow } = await resolveFlow(positionals[0], ctx.io.cwd);
  const range = parseRange(ctx.string("from"), ctx.string("to"), flow.timezone);
  if (!range) throw new ConfigError("reconcile needs --from and --to", { hint: "e.g. --from 2024-06-01 --to 2024-06-07 (the days to compare)" });
  range.to = Math.min(range.to, ctx.io.clock.now());
  const windowText = ctx.string("window");
  const state = ctx.state();
  const report = await reconcile(
    { flow, range, ...(windowText ? { windowMs: parseDuration("window", windowText) } : {}), strict: ctx.flag("strict") },
    { env: ctx.env, kv: state.kv, fetch: ctx.fetch, clock: ctx.io.clock, logger: ctx.logger },
  );
  const exit = report.drift ? EXIT.drift : EXIT.ok;
  if (ctx.json) ctx.out(JSON.stringify({ command: "reconcile", ...report, exitCode: exit }, null, 2));
  else printReconcile(ctx, report, ctx.flag("all"), flow.timezone);
  return exit;
}

const LIST_MAX = 50;

export function reconcileText(report: ReconcileReport, all: boolean, zone?: string): string {
  const lines: string[] = [];
  const { header, rows } = reconcileTable(report, all);
  if (rows.length) lines.push(formatTable(header, rows).trimEnd());
  const list = (title: string, keys: string[]) => {
    if (keys.length === 0) return;
    lines.push(`${title} (${keys.length}): ${keys.slice(0, LIST_MAX).join(", ")}${keys.length > LIST_MAX ? ", …" : ""}`);
  };
  list("missing in the target", report.missing);
  list("quantity or amount differs", report.mismatched);
  list("in the target, not from the source range", report.extra);
  list("source documents the flow cannot map (dead letters)", report.unmapped);
  lines.push(
    `${report.flowId} ${rangeLabel(report.range, zone)}: ${report.drift ? "DRIFT" : "no drift"} · ${report.sourceDocuments} source documents → ${report.expectedDocuments} expected, ${report.targetDocuments} in the target · ${report.subrequests} API calls`,
  );
  return lines.join("\n");
}

function printReconcile(ctx: CommandContext, report: ReconcileReport, all: boolean, zone?: string) {
  ctx.out(reconcileText(report, all, zone));
}
