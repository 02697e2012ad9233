/** The trace page (/ui/trace?q=…): every event of one document in time order, with links to its run, flow and dead letters. */
import { html } from "hono/html";
import type { DocumentTrace, TraceEntry } from "../observe/trace-service.ts";
import { previewJson, shanghaiTime } from "./format.ts";
import type { Html } from "./layout.ts";

const runLink = (flow: string, run: string) => html`<a href="/runs/${encodeURIComponent(`${flow}~${run}`)}"><code>${run}</code></a>`;

function what(e: TraceEntry): Html {
  switch (e.t) {
    case "read":
      return html`读取 / read <code>${e.id}</code>${
        e.ids
          ? html` <span class="muted">${Object.entries(e.ids)
              .map(([k, v]) => `${k} ${v}`)
              .join(" · ")}</span>`
          : ""
      }${e.time !== undefined ? html`<br><span class="muted">源时间 / source time ${shanghaiTime(e.time)}</span>` : ""}`;
    case "write":
      return html`写入 / written <code>${e.key}</code> → <strong>${e.status === "created" ? "已创建 / created" : "已存在 / already there"}</strong>${e.targetId ? html` · 凭证号 / voucher id <code class="target-id">${e.targetId}</code>` : ""}${e.recovered ? html` <span class="muted">(recovered)</span>` : ""}${e.members?.length ? html`<br><span class="muted">源单据 / members ${e.members.join(", ")}</span>` : ""}${e.payload !== undefined ? html`<details><summary>映射结果 / mapped payload</summary><pre>${previewJson(e.payload)}</pre></details>` : ""}`;
    case "write_failed":
      return html`写入失败 / write failed <code>${e.key}</code>: <code class="err">${e.code}</code> ${e.message}`;
    case "group":
      return html`合并组 / merge group <code>${e.key}</code>${e.supplements ? html` · 补单 / supplements ${e.supplements}` : ""}<br><span class="muted">成员 / members ${e.members.length}: ${e.members.slice(0, 20).join(", ")}${e.members.length > 20 ? " …" : ""}</span>`;
    case "settled":
      return html`入账本 / in the ledger <code>${e.key}</code>${e.targetId ? html` · <code>${e.targetId}</code>` : ""} <span class="muted">(${e.members.length} 源单据 / members)</span>`;
    case "dead_letter":
      return html`死信 / dead letter${e.key ? html` <code>${e.key}</code>` : ""}: <code class="err">${e.code}</code> ${e.message}`;
    case "correction":
      return html`${e.kind === "red" ? "红冲 / reversal" : "更正 / correction"} <code>${e.key}</code> of <code>${e.of}</code> (${e.cause === "no_longer_passes" ? "源单已取消 / source cancelled" : e.cause === "moved" ? "源单日期或仓库已改 / source moved" : "源单已修改 / source changed"} <code>${e.id}</code>${e.event ? ` ${e.event}` : ""}) · ${e.status}`;
    case "dead_letter_status":
      return html`死信已处理 / dead letter <code>${e.letter}</code> ${e.reason ?? ""} <span class="muted">(${e.by ?? ""})</span>`;
  }
}

export function traceBody(q: string, trace: DocumentTrace | null, error?: string): Html {
  return html`<section id="trace"><h2>单据追踪 / Document trace</h2>
<form method="get" action="/ui/trace" class="trace-search" role="search"><input type="text" name="q" value="${q}" required maxlength="128" placeholder="io_id / so_id / ExternalCode / FBillNo" aria-label="单据号 / document id"> <button type="submit">查找 / Search</button></form>
${error ? html`<p class="err">${error}</p>` : ""}
${
  !trace
    ? ""
    : trace.events.length === 0
      ? html`<p class="muted" id="trace-empty">最近 ${trace.days} 天没有 <code>${trace.q}</code> 的记录 / nothing about <code>${trace.q}</code> in the last ${trace.days} days</p>`
      : html`<table>
<thead><tr><th>时间 / Time</th><th>方案 / Flow</th><th>运行 / Run</th><th>窗口 / Window · 页 / page</th><th>事件 / Event</th></tr></thead>
<tbody>
${trace.events.map(
  (e) => html`<tr class="trace-event" data-kind="${e.t}">
<td class="nowrap">${shanghaiTime(e.at)}</td>
<td><a href="/ui/flows/${encodeURIComponent(e.flow)}">${e.flow}</a></td>
<td>${runLink(e.flow, e.run)}</td>
<td class="nowrap">${"window" in e && e.window ? html`${shanghaiTime(e.window.from)} …<br>${shanghaiTime(e.window.to)}${"page" in e && e.page !== undefined ? html` · p${e.page}` : ""}` : html`<span class="muted">—</span>`}</td>
<td>${what(e)}${e.t === "dead_letter" || e.t === "dead_letter_status" ? html` · <a href="/ui/flows/${encodeURIComponent(e.flow)}#dead-letters">死信 / dead letters</a>` : ""}</td>
</tr>`,
)}
</tbody>
</table>`
}
</section>`;
}
