/** The reconcile page (/ui/reconcile): per flow, the latest result's drift table with drill-down and re-sweep buttons. */
import { html } from "hono/html";
import type { ReconcileDocument, ReconcileRow } from "../../shared/observe/reconcile.ts";
import type { StoredReconcile } from "../observe/reconcile-service.ts";
import { shanghaiTime } from "./format.ts";
import type { Html } from "./layout.ts";

const n = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined ? "n/a" : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const STATUS = { missing: "缺失 / missing", extra: "多余 / extra", different: "不同 / different" } as const;

function drillDown(flowId: string, row: ReconcileRow, docs: ReconcileDocument[]) {
  const mine = docs.filter((d) => d.day === row.day && d.warehouse === row.warehouse);
  if (mine.length === 0) return "";
  return html`<details class="drill" data-day="${row.day}"><summary>${mine.length} 张单据 / documents</summary>
<table><thead><tr><th>单据 / Document</th><th>状态 / Status</th><th class="num">源数量 / Source qty</th><th class="num">目标数量 / Target qty</th></tr></thead><tbody>
${mine.map((d) => html`<tr class="drill-doc" data-status="${d.status}"><td><a href="/ui/trace?q=${encodeURIComponent(d.key)}"><code>${d.key}</code></a></td><td>${STATUS[d.status]}</td><td class="num">${n(d.sourceQty, 2)}</td><td class="num">${n(d.targetQty, 2)}</td></tr>`)}
</tbody></table></details>`;
}

function flowSection(flow: { id: string; name: string }, latest: StoredReconcile | null, manual: { from: string; to: string }) {
  const report = latest?.report;
  return html`<section class="reconcile" data-flow="${flow.id}"><h2>${flow.name} <code class="muted">${flow.id}</code></h2>
<p>${latest ? html`最近对账 / last reconcile: ${shanghaiTime(latest.at)} (${latest.trigger})` : html`<span class="muted">尚未对账 / not reconciled yet</span>`}
<button type="button" class="secondary" data-action="reconcile" data-flow="${flow.id}" data-from="${manual.from}" data-to="${manual.to}">立即对账 ${manual.from} … ${manual.to} / Reconcile now</button></p>
${latest?.error ? html`<p class="err"><code>${latest.error.code}</code> ${latest.error.message}${latest.error.hint ? html` <span class="hint">(${latest.error.hint})</span>` : ""}</p>` : ""}
${
  report
    ? html`<p>${shanghaiTime(report.range.from)} … ${shanghaiTime(report.range.to)} · 源 / source ${report.sourceDocuments} · 应有 / expected ${report.expectedDocuments} · 目标 / target ${report.targetDocuments} · <strong class="${report.drift ? "err" : ""}" data-drift="${report.drift ? "yes" : "no"}">${report.drift ? "有差异 / DRIFT" : "一致 / no drift"}</strong></p>
<table class="drift-table">
<thead><tr><th>日期 / Day</th><th>仓库 / Warehouse</th><th>单据类型 / Type</th><th class="num">应有 / Expected</th><th class="num">目标 / Found</th><th class="num">缺失 / Missing</th><th class="num">多余 / Extra</th><th class="num">源数量 / Source qty</th><th class="num">目标数量 / Target qty</th><th>状态 / Status</th><th></th></tr></thead>
<tbody>
${report.rows.map(
  (r) => html`<tr class="drift-row ${r.drift ? "drift" : ""}" data-day="${r.day}" data-warehouse="${r.warehouse}" data-drift="${r.drift ? "yes" : "no"}">
<td class="nowrap">${r.day}</td><td><code>${r.warehouse}</code></td><td><code>${r.docType ?? ""}</code></td>
<td class="num">${n(r.expected)}</td><td class="num">${n(r.found)}</td><td class="num ${r.missing ? "err" : ""}">${n(r.missing)}</td><td class="num">${n(r.extra)}</td>
<td class="num">${n(r.sourceQty, 2)}</td><td class="num">${n(r.targetQty, 2)}</td>
<td>${r.drift ? html`<span class="badge o-failed">差异 / drift</span>` : r.extra ? html`<span class="badge o-partial">多余 / extra</span>` : html`<span class="badge o-success">一致 / ok</span>`}${drillDown(flow.id, r, report.documents ?? [])}</td>
<td>${r.drift && r.day !== "?" ? html`<button type="button" data-action="resweep" data-flow="${flow.id}" data-day="${r.day}">重新同步该日 / Re-sweep this day</button>` : ""}</td>
</tr>`,
)}
</tbody></table>`
    : ""
}
</section>`;
}

export function reconcileBody(
  flows: Array<{ flow: { id: string; name: string }; latest: StoredReconcile | null; manual: { from: string; to: string } }>,
): Html {
  return html`<section><h2>对账 / Reconcile</h2><p class="muted">按天 × 仓库 × 单据类型比较聚水潭与目标系统(数量、金额);"重新同步该日"经正常的恰好一次路径重读该日。 / Source against target per day × warehouse × document type (counts, quantities); "re-sweep this day" re-reads the day through the normal exactly-once path.</p></section>
${flows.map((f) => flowSection(f.flow, f.latest, f.manual))}`;
}
