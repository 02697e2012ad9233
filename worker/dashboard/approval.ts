/** The approvals page (/ui/approvals): flows with approval: required, their latest plan and an Approve button. */
import { html } from "hono/html";
import type { Approval, StoredPlan } from "../../shared/observe/approval.ts";
import { previewJson, shanghaiTime } from "./format.ts";
import type { Html } from "./layout.ts";

export interface ApprovalView {
  flow: { id: string; name: string };
  approved: boolean;
  approval: Approval | null;
  plan: StoredPlan | null;
}

const STATUS = { new: "新建 / new", unchanged: "未变 / unchanged", changed: "已变 / changed", supplement: "补单 / supplement" } as const;

function planTable(plan: StoredPlan) {
  return html`<p>计划 / plan <code>${plan.planId}</code> · ${shanghaiTime(plan.at)} · 读取 / read ${plan.counts.read} · 将写入 / would write <strong class="plan-total">${plan.total}</strong>${plan.counts.deadLettered ? html` · <span class="err">无法映射,将成死信 / would be dead letters: ${plan.counts.deadLettered}</span>` : ""}${plan.total > plan.planned.length ? html` <span class="muted">(显示前 / showing ${plan.planned.length})</span>` : ""}</p>
<table class="plan"><thead><tr><th>目标键 / Key</th><th>状态 / Status</th><th>源单据 / Members</th><th>将写入的内容 / Payload</th></tr></thead><tbody>
${plan.planned.map((p) => html`<tr class="planned" data-key="${p.externalKey}"><td><code>${p.externalKey}</code></td><td>${STATUS[p.status] ?? p.status}</td><td>${p.members.slice(0, 10).join(", ")}${p.members.length > 10 ? " …" : ""}</td><td><details><summary>JSON</summary><pre>${previewJson(p.payload, 2000)}</pre></details></td></tr>`)}
</tbody></table>`;
}

export function approvalsBody(views: ApprovalView[]): Html {
  return html`<section><h2>上线审批 / Approve before post</h2><p class="muted">设置了 <code>"approval": "required"</code> 的方案在批准前只做预演(不写入、不移动水位),这里显示将写入的内容。 / Flows with <code>"approval": "required"</code> only dry-run until approved; this shows what they would write.</p>
${views.length === 0 ? html`<p class="muted">没有需要审批的方案 / No flow asks for approval</p>` : ""}
</section>
${views.map(
  (
    v,
  ) => html`<section class="approval" data-flow="${v.flow.id}" data-approved="${v.approved ? "yes" : "no"}"><h2>${v.flow.name} <code class="muted">${v.flow.id}</code></h2>
${
  v.approved
    ? html`<p><span class="badge o-success">已批准 / approved</span> ${v.approval ? html`${shanghaiTime(v.approval.at)} (${v.approval.by})` : ""}</p>`
    : html`<p><span class="badge o-partial">待批准 / awaiting approval</span>${v.approval ? html` <span class="muted">(方案已修改,需重新批准 / the flow changed since its approval)</span>` : ""}</p>
${v.plan ? html`${planTable(v.plan)}<p><button type="button" data-action="approve" data-flow="${v.flow.id}" data-plan="${v.plan.planId}">批准并写入 / Approve and write</button></p>` : html`<p class="muted">还没有计划:等下一次排程运行,或点"预演" / no plan yet: wait for the next scheduled run, or</p><p><button type="button" class="secondary" data-action="sync" data-flow="${v.flow.id}">预演 / Plan now</button></p>`}`
}
</section>`,
)}`;
}
