/** Dashboard pieces of issue 17 that sit inside existing sections (freshness in the flows table). */
import { html } from "hono/html";
import type { FlowFreshness, FreshnessStats } from "../../shared/observe/freshness.ts";
import { duration } from "./format.ts";

const stats = (s: FreshnessStats) => html`p50 ${duration(s.p50Ms)} · p95 ${duration(s.p95Ms)} · max ${duration(s.maxMs)} <span class="muted">(n=${s.n})</span>`;

export function freshnessCell(f: FlowFreshness | undefined) {
  if (!f) return "";
  return html`<div class="freshness" data-stalled="${f.alerts.some((a) => a.event === "watermark_stalled") ? "yes" : "no"}">
${f.watermarkAgeMs !== null ? html`<span class="muted nowrap">水位年龄 / watermark age ${duration(f.watermarkAgeMs)}</span>` : ""}
${f.lastRun ? html`<br><span class="nowrap">延迟 / lag (上次 / last run): ${stats(f.lastRun)}</span>` : ""}
${f.day ? html`<br><span class="nowrap">延迟 / lag (24 h): ${stats(f.day)}</span>` : ""}
${f.objectiveP95Ms !== null ? html`<br><span class="muted">目标 / objective p95 ≤ ${duration(f.objectiveP95Ms)}</span>` : ""}
${f.alerts.map((a) => html`<div class="warn freshness-alert" data-event="${a.event}">${a.message}</div>`)}
</div>`;
}
