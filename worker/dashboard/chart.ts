/**
 * Run history as a server-rendered SVG bar chart: documents written and failures (dead-lettered documents)
 * per run, oldest on the left, with failed runs marked. No client code; each run has a tooltip (<title>).
 */
import { html } from "hono/html";
import { outcomeColour, outcomeLabel, shanghaiTime, shortTime } from "./format.ts";

export interface ChartRun {
  runId: string;
  startedAt: number;
  outcome?: string;
  trigger?: string;
  written: number;
  failures: number;
  read: number;
}

export const CHART_MAX_RUNS = 30;

const W = 560;
const H = 170;
const PAD = { left: 40, right: 10, top: 14, bottom: 34 };
const WRITTEN = "#2e7d32";
const FAILED = "#c62828";

/** Turns stored run records into chart points; manual records without counts (resolutions) are left out. */
export function chartRuns(records: ReadonlyArray<Record<string, unknown>>): ChartRun[] {
  const out: ChartRun[] = [];
  for (const r of records) {
    const counts = r.counts as { written?: unknown; deadLettered?: unknown; read?: unknown } | undefined;
    if (!counts || typeof r.startedAt !== "number") continue;
    out.push({
      runId: String(r.runId ?? ""),
      startedAt: r.startedAt,
      outcome: typeof r.outcome === "string" ? r.outcome : undefined,
      trigger: typeof r.trigger === "string" ? r.trigger : undefined,
      written: num(counts.written),
      failures: num(counts.deadLettered),
      read: num(counts.read),
    });
  }
  return out.sort((a, b) => a.startedAt - b.startedAt).slice(-CHART_MAX_RUNS);
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0;
}

/** A "nice" axis maximum (1, 2, 5 × 10^n) at or above the largest value. */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

export function runHistoryChart(runs: readonly ChartRun[], title: string) {
  if (runs.length === 0) {
    return html`<p class="muted">暂无运行记录 / No runs yet</p>`;
  }
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(...runs.map((r) => Math.max(r.written, r.failures))));
  const slot = plotW / CHART_MAX_RUNS;
  const barW = Math.max(2, Math.min(10, slot / 2 - 2));
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const base = PAD.top + plotH;
  const fmt = (n: number) => Number(n.toFixed(1));

  // Newest run at the right edge, so charts of different flows line up by recency.
  const xOf = (i: number) => PAD.left + (CHART_MAX_RUNS - runs.length + i) * slot + slot / 2;
  const bars = runs.map((r, i) => {
    const x = xOf(i);
    const failedRun = r.outcome === "failed";
    const tip = `${shanghaiTime(r.startedAt)} · ${outcomeLabel(r.outcome)} · 写入/written ${r.written} · 失败/failures ${r.failures} · 读取/read ${r.read}${r.trigger ? ` · ${r.trigger}` : ""}`;
    return html`<g class="run" data-run="${r.runId}"><title>${tip}</title>
<rect x="${fmt(x - barW - 1)}" y="${fmt(y(r.written))}" width="${fmt(barW)}" height="${fmt(base - y(r.written))}" fill="${WRITTEN}"></rect>
<rect x="${fmt(x + 1)}" y="${fmt(y(r.failures))}" width="${fmt(barW)}" height="${fmt(base - y(r.failures))}" fill="${FAILED}"></rect>
<circle cx="${fmt(x)}" cy="${fmt(base + 7)}" r="3.5" fill="${outcomeColour(r.outcome)}"></circle>${
      failedRun ? html`<path d="M${fmt(x - 4)} ${fmt(PAD.top - 2)}l8 8m0 -8l-8 8" stroke="${FAILED}" stroke-width="2"></path>` : ""
    }</g>`;
  });

  const first = runs[0]!;
  const last = runs.at(-1)!;
  return html`<svg class="chart" role="img" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" aria-label="${title}">
<title>${title}</title>
<line x1="${PAD.left}" y1="${base}" x2="${W - PAD.right}" y2="${base}" stroke="#999"></line>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${W - PAD.right}" y2="${PAD.top}" stroke="#e0e0e0" stroke-dasharray="3 3"></line>
<line x1="${PAD.left}" y1="${fmt(y(max / 2))}" x2="${W - PAD.right}" y2="${fmt(y(max / 2))}" stroke="#eee" stroke-dasharray="3 3"></line>
<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end" class="axis">${max}</text>
<text x="${PAD.left - 6}" y="${fmt(y(max / 2) + 4)}" text-anchor="end" class="axis">${max / 2}</text>
<text x="${PAD.left - 6}" y="${base + 4}" text-anchor="end" class="axis">0</text>
${bars}
${runs.length > 1 ? html`<text x="${fmt(Math.min(xOf(0), W - PAD.right - 180))}" y="${H - 6}" class="axis">${shortTime(first.startedAt)}</text>` : ""}
<text x="${W - PAD.right}" y="${H - 6}" text-anchor="end" class="axis">${shortTime(last.startedAt)}</text>
</svg>
<p class="legend"><span class="key written"></span>写入 / written <span class="key failures"></span>失败 / failures (dead letters) <span class="cross">✕</span>失败的运行 / failed run <span class="muted">· 点 = 结果 / dot = outcome</span></p>`;
}
