/**
 * The dashboard's sections as pure functions of the data the services return (so they can be rendered and
 * checked without storage). Everything interpolated goes through hono/html, which escapes it.
 */
import { html } from "hono/html";
import type { DoctorReport } from "../../shared/doctor/index.ts";
import type { DeadLetter } from "../../shared/state/records.ts";
import type { ApiCatalogEntry, Services, StoredRun } from "../services.ts";
import { chartRuns, runHistoryChart } from "./chart.ts";
import { flowDiagram } from "./diagram.ts";
import { duration, outcomeClass, outcomeLabel, previewJson, shanghaiTime } from "./format.ts";
import type { Html } from "./layout.ts";
import { freshnessCell } from "./observe-views.ts";

export type FlowOverview = Awaited<ReturnType<Services["flows"]>>[number];
export type FlowDetail = Awaited<ReturnType<Services["flow"]>>;
export type RunRow = StoredRun & Record<string, unknown>;

export interface OverviewData {
  flows: FlowOverview[];
  /** Per flow id: its latest runs (newest first, as the store lists them). */
  histories: Record<string, RunRow[]>;
  deadLetters: DeadLetter[];
  apis: ApiCatalogEntry[];
  recentRuns: RunRow[];
  /** The last go-live checklist (doctor/last), if one was run. */
  doctor?: DoctorReport | null;
}

export interface FlowPageData {
  detail: FlowDetail;
  history: RunRow[];
  deadLetters: DeadLetter[];
}

function badge(outcome: string | undefined) {
  return html`<span class="badge ${outcomeClass(outcome)}" data-outcome="${outcome ?? ""}">${outcomeLabel(outcome)}</span>`;
}

function counts(run: RunRow | null | undefined) {
  const c = run?.counts;
  if (!c) return html`<span class="muted">—</span>`;
  return html`<span class="nowrap">读取 / read ${c.read}</span><br><span class="nowrap">写入 / written ${c.written}</span><br><span class="nowrap">已存在 / existing ${c.alreadyExisted}</span><br><span class="nowrap">死信 / dead letters ${c.deadLettered}</span>${corrections(run)}`;
}

/** Correcting documents of the run (edits/cancellations after posting, docs/changes.md), keys in the tooltip. */
function corrections(run: RunRow | null | undefined) {
  const list = run?.corrections;
  if (!Array.isArray(list) || list.length === 0) return "";
  const title = list.map((c) => `${c.externalKey} (${c.kind}, ${c.sourceId}, ${c.status})`).join("\n");
  return html`<br><span class="nowrap" title="${title}" data-corrections="${list.length}">更正 / corrections ${list.length}</span>`;
}

function runError(run: RunRow | null | undefined) {
  const e = run?.error;
  return e ? html`<div class="err"><code>${e.code}</code> ${e.message}${e.hint ? html` <span class="hint">(${e.hint})</span>` : ""}</div>` : "";
}

function syncButton(flowId: string) {
  return html`<button type="button" data-action="sync" data-flow="${flowId}">立即同步 / Sync now</button>`;
}

function flowsTable(flows: FlowOverview[]) {
  return html`<section id="flows"><h2>同步方案 / Flows</h2>
<table>
<thead><tr><th>方案 / Flow</th><th>源 → 目标 / Source → Target</th><th>最近结果 / Last outcome</th><th>计数 / Counts (last run)</th><th>水位与时效 / Watermark & freshness</th><th>下次运行 / Next run</th><th class="num">未处理死信 / Open dead letters</th><th></th></tr></thead>
<tbody>
${flows.map(
  (f) => html`<tr data-flow="${f.id}">
<td><a href="/ui/flows/${encodeURIComponent(f.id)}" class="flow-name">${f.name}</a><br><code class="muted">${f.id}</code></td>
<td>聚水潭 <code>${f.source.endpoint}</code><br>→ ${f.target.type === "kis" ? "金蝶 KIS" : "畅捷通 T+"} <code>${f.target.operation}</code>${"precheck" in f.target && f.target.precheck ? html`<br><span class="muted">FBillNo 预查 / precheck: ${f.target.precheck}${"precheckSource" in f.target && f.target.precheckSource ? ` (${f.target.precheckSource})` : ""}</span>` : ""}${f.merge ? html`<br><span class="muted">合并 / merge by ${f.merge.groupBy.join(", ")}</span>` : ""}</td>
<td class="last-outcome">${badge(f.lastRun?.outcome)}${f.lastRun ? html`<br><span class="muted nowrap">${shanghaiTime(f.lastRun.startedAt)}</span>` : ""}${runError(f.lastRun as RunRow | null)}</td>
<td>${counts(f.lastRun as RunRow | null)}</td>
<td><span class="nowrap">${shanghaiTime(f.watermark)}</span>${f.resumeCursor ? html`<br><span class="muted">运行中断,将续跑 / resumes from a cursor</span>` : ""}${freshnessCell(f.freshness)}</td>
<td>${f.schedule ? html`<span class="nowrap">${shanghaiTime(f.schedule.next)}</span><br><code class="muted nowrap">${f.schedule.cron}</code> (UTC)` : html`<span class="muted">未排程 / not scheduled</span>`}</td>
<td class="num open-dead-letters ${f.openDeadLetters ? "warn" : ""}">${f.openDeadLetters}</td>
<td>${syncButton(f.id)}</td>
</tr>`,
)}
</tbody>
</table>
</section>`;
}

function historyCharts(flows: Array<{ id: string; name: string }>, histories: Record<string, RunRow[]>) {
  return html`<section id="history"><h2>运行历史 / Run history <span class="muted">(最近 30 次 / last 30 runs)</span></h2>
<div class="flows-charts">
${flows.map((f) => html`<figure data-chart="${f.id}"><h3>${f.name}</h3>${runHistoryChart(chartRuns(histories[f.id] ?? []), `运行历史 / run history: ${f.name}`)}</figure>`)}
</div>
</section>`;
}

export function runsTable(runs: RunRow[], options: { title: string; showFlow: boolean }) {
  return html`<section id="runs"><h2>${options.title}</h2>
${
  runs.length === 0
    ? html`<p class="muted">暂无运行记录 / No runs yet</p>`
    : html`<table>
<thead><tr><th>开始 / Started</th>${options.showFlow ? html`<th>方案 / Flow</th>` : ""}<th>触发 / Trigger</th><th>结果 / Outcome</th><th class="num">读取 / Read</th><th class="num">写入 / Written</th><th class="num">死信 / Dead letters</th><th class="num">耗时 / Duration</th><th>备注 / Notes</th></tr></thead>
<tbody>
${runs.map(
  (r) => html`<tr data-run="${r.runId}" data-flow="${r.flowId}">
<td class="nowrap">${shanghaiTime(r.startedAt)}</td>
${options.showFlow ? html`<td><a class="nowrap" href="/ui/flows/${encodeURIComponent(r.flowId)}">${r.flowId}</a></td>` : ""}
<td>${r.trigger ?? "—"}</td>
<td>${badge(r.outcome)}</td>
<td class="num">${r.counts?.read ?? "—"}</td>
<td class="num">${r.counts?.written ?? "—"}</td>
<td class="num">${r.counts?.deadLettered ?? "—"}</td>
<td class="num">${duration(r.durationMs)}</td>
<td>${runError(r)}${(r.resolvedDeadLetters ?? []).map((n) => html`<div>已解决 / resolved <code>${n.id}</code>: ${n.reason} <span class="muted">(${n.by})</span></div>`)}${r.continues ? html`<div class="muted">预算用尽,将续跑 / continues (budget)</div>` : ""}</td>
</tr>`,
)}
</tbody>
</table>`
}
</section>`;
}

export function deadLettersTable(letters: DeadLetter[], options: { showFlow: boolean }) {
  const open = letters.filter((l) => !l.resolved);
  const resolved = letters
    .filter((l) => l.resolved)
    .sort((a, b) => (b.resolved?.at ?? 0) - (a.resolved?.at ?? 0))
    .slice(0, 10);
  const rows = [...open, ...resolved];
  return html`<section id="dead-letters"><h2>死信 / Dead letters <span class="muted">(未处理 / open: ${open.length})</span></h2>
${
  rows.length === 0
    ? html`<p class="muted">没有死信 / No dead letters</p>`
    : html`<table>
<thead><tr>${options.showFlow ? html`<th>方案 / Flow</th>` : ""}<th>单据 / Document</th><th>错误 / Error</th><th>时间 / Created</th><th>状态 / Status</th><th>操作 / Actions</th></tr></thead>
<tbody>
${rows.map(
  (l) => html`<tr class="dead-letter ${l.resolved ? "resolved" : "open"}" data-dead-letter="${l.id}">
${options.showFlow ? html`<td><a class="nowrap" href="/ui/flows/${encodeURIComponent(l.flow)}">${l.flow}</a></td>` : ""}
<td>${l.sourceId ? html`源 / source <code>${l.sourceId}</code>` : ""}${l.externalKey ? html`<br>目标键 / key <code>${l.externalKey}</code>` : ""}${l.stage ? html`<br><span class="muted">阶段 / stage: ${l.stage}</span>` : ""}
${l.source !== undefined ? html`<details><summary>源单据 / source document</summary><pre>${previewJson(l.source)}</pre></details>` : ""}</td>
<td class="error"><code class="err">${l.error.code}</code> <span class="error-message">${l.error.message}</span>${l.error.hint ? html`<div class="hint">提示 / hint: ${l.error.hint}</div>` : ""}</td>
<td><span class="nowrap">${shanghaiTime(l.createdAt)}</span><br><code class="muted">${l.id}</code></td>
<td>${
    l.resolved
      ? html`<span class="badge o-success status-resolved">已解决 / resolved</span><br>${l.resolved.reason} <span class="muted">(${l.resolved.by}, ${shanghaiTime(l.resolved.at)})</span>`
      : html`<span class="badge o-failed status-open">未处理 / open</span>`
  }</td>
<td>${
    l.resolved
      ? ""
      : html`<button type="button" data-action="replay" data-id="${l.id}">重放 / Replay</button>
<form class="resolve" data-action="resolve" data-id="${l.id}"><input type="text" name="reason" required minlength="3" maxlength="500" placeholder="原因 / reason" aria-label="原因 / reason"><button type="submit" class="secondary">标记解决 / Resolve</button></form>`
  }</td>
</tr>`,
)}
</tbody>
</table>`
}
</section>`;
}

function apiCatalogTable(apis: ApiCatalogEntry[]) {
  const system = { jushuitan: "聚水潭 Jushuitan", tplus: "畅捷通 T+", kis: "金蝶 KIS" } as const;
  return html`<section id="apis"><h2>接口目录 / API catalog <span class="muted">(最近 100 次运行 / last 100 runs)</span></h2>
<table>
<thead><tr><th>接口 / Endpoint</th><th>系统 / System</th><th>方案 / Flows</th><th class="num">调用 / Calls</th><th class="num">错误 / Errors</th><th class="num">限流 / Throttles</th><th class="num">p50</th><th class="num">p95</th></tr></thead>
<tbody>
${apis.map(
  (a) => html`<tr data-endpoint="${a.endpoint}">
<td><code>${a.endpoint}</code></td><td>${system[a.system] ?? a.system}</td><td>${a.flows.join(", ")}</td>
<td class="num">${a.calls}</td><td class="num ${a.errors ? "err" : ""}">${a.errors}</td><td class="num">${a.throttles}</td>
<td class="num">${a.calls ? `${a.p50Ms} ms` : "—"}</td><td class="num">${a.calls ? `${a.p95Ms} ms` : "—"}</td>
</tr>`,
)}
</tbody>
</table>
</section>`;
}

function doctorSection(report: DoctorReport | null | undefined) {
  const mark = { ok: "✓", fail: "✗", unknown: "?" } as const;
  return html`<section id="doctor"><h2>上线检查 / Go-live check ${report ? html`<span class="muted">(${shanghaiTime(report.checkedAt)})</span>` : ""}</h2>
${
  !report
    ? html`<p class="muted">尚未运行。运行 <code>npx jst-bridge doctor</code> 或打开 <a href="/doctor">/doctor</a>。 / Not run yet: run <code>npx jst-bridge doctor</code> or open <a href="/doctor">/doctor</a>.</p>`
    : html`<table>
<thead><tr><th></th><th>系统 / System</th><th>检查 / Check</th><th>详情 / Detail</th><th>修复 / Fix</th></tr></thead>
<tbody>
${report.checks.map(
  (c) =>
    html`<tr data-status="${c.status}"><td class="${c.status === "fail" ? "err" : ""}">${mark[c.status]}</td><td>${c.system}${c.flowId ? html` <span class="muted">${c.flowId}</span>` : ""}</td><td>${c.title}</td><td>${c.detail ?? ""}</td><td>${c.status === "ok" ? "" : (c.fix ?? "")}</td></tr>`,
)}
</tbody>
</table>`
}
</section>`;
}

export function overviewBody(data: OverviewData): Html {
  return html`${flowsTable(data.flows)}
${historyCharts(data.flows, data.histories)}
${deadLettersTable(data.deadLetters, { showFlow: true })}
${runsTable(data.recentRuns, { title: "最近运行 / Recent runs", showFlow: true })}
${apiCatalogTable(data.apis)}
${doctorSection(data.doctor)}`;
}

function mappingTable(rows: FlowDetail["mapping"]) {
  return html`<section id="mapping"><h2>字段映射 / Field mapping</h2>
<table>
<thead><tr><th>目标字段 / Target field</th><th>名称 / Label</th><th>类型 / Type</th><th>取值 / Value (template)</th></tr></thead>
<tbody>
${rows.map((m) => html`<tr data-field="${m.path}"><td><code>${m.path}</code></td><td>${m.label ?? ""}</td><td>${m.type}</td><td>${m.value !== undefined ? html`<code>${m.value}</code>` : ""}</td></tr>`)}
</tbody>
</table>
</section>`;
}

export function flowBody(data: FlowPageData): Html {
  const { flow, schedule, watermark, lease, checkpoint } = data.detail;
  return html`<section id="flow" data-flow="${flow.id}"><h2 class="flow-name">${flow.name}</h2>
${flow.description ? html`<p class="muted">${flow.description}</p>` : ""}
<dl class="meta">
<dt>编号 / Id</dt><dd><code>${flow.id}</code> (v${flow.version})</dd>
<dt>水位 / Watermark</dt><dd>${shanghaiTime(watermark)} <span class="muted">Asia/Shanghai</span>${checkpoint?.cursor ? html` · <span class="muted">续跑游标 / resume cursor saved</span>` : ""}</dd>
<dt>排程 / Schedule</dt><dd>${schedule ? html`<code>${schedule.cron}</code> (UTC) · 下次 / next ${shanghaiTime(schedule.next)}` : html`<span class="muted">未排程 / not scheduled</span>`}</dd>
<dt>运行锁 / Lease</dt><dd>${lease?.holder && !lease.expired ? html`运行中 / running: <code>${lease.holder}</code> · 到期 / expires ${shanghaiTime(lease.expiresAt)}` : html`<span class="muted">空闲 / idle</span>`}</dd>
<dt>参照表 / Reference tables</dt><dd>${flow.references.length ? flow.references.map((r, i) => html`${i ? ", " : ""}<code>${r.name}</code>${r.source ? html` <span class="muted">(${r.source.type} ${r.source.operation})</span>` : ""}`) : html`<span class="muted">—</span>`}</dd>
</dl>
<p>${syncButton(flow.id)}</p>
<h3>流程 / Pipeline</h3>
${flowDiagram(flow)}
</section>
<section id="history"><h2>运行历史 / Run history <span class="muted">(最近 30 次 / last 30 runs)</span></h2>
<figure data-chart="${flow.id}">${runHistoryChart(chartRuns(data.history), `运行历史 / run history: ${flow.name}`)}</figure>
</section>
${mappingTable(data.detail.mapping)}
${deadLettersTable(data.deadLetters, { showFlow: false })}
${runsTable(data.history.slice(0, 15), { title: "最近运行 / Recent runs", showFlow: false })}`;
}

export function loginBody(options: { error?: string; closed?: boolean }): Html {
  return html`<section class="login"><h2>登录 / Sign in</h2>
${
  options.closed
    ? html`<p class="err">未配置 SYNC_API_TOKEN 或少于 32 个字符,控制台已关闭 / SYNC_API_TOKEN is not set or shorter than 32 characters, so the dashboard is closed. Set a random one with <code>openssl rand -hex 32 | wrangler secret put SYNC_API_TOKEN</code>.</p>`
    : html`${options.error ? html`<p class="err" id="login-error">${options.error}</p>` : ""}
<form method="post" action="/login" autocomplete="off">
<label for="token">访问令牌 / API token (SYNC_API_TOKEN)</label>
<input type="password" id="token" name="token" required autocomplete="current-password">
<button type="submit">登录 / Sign in</button>
</form>`
}
</section>`;
}

export function errorBody(title: string, message: string, hint?: string): Html {
  return html`<section><h2>${title}</h2><p class="err">${message}</p>${hint ? html`<p class="hint">${hint}</p>` : ""}<p><a href="/">返回 / Back</a></p></section>`;
}
