/**
 * A flow drawn as a server-rendered SVG: source → formatResponse → condition → flatten → merge → target.
 * Steps a flow does not use are drawn dashed, so every flow shows the same pipeline order.
 */
import { html } from "hono/html";
import type { Flow } from "../../shared/flow/schema.ts";
import { truncate } from "./format.ts";

export interface DiagramNode {
  key: "source" | "formatResponse" | "condition" | "flatten" | "merge" | "target";
  title: string;
  used: boolean;
  lines: string[];
}

/** The pipeline stages of a flow with a few lines describing each (what the diagram and its tooltips show). */
export function flowNodes(flow: Flow): DiagramNode[] {
  const s = flow.source;
  const rules = s.formatResponse ?? [];
  const groups = s.condition ?? [];
  const merge = flow.operation?.type === "merge" ? flow.operation : undefined;
  return [
    {
      key: "source",
      title: "源 / Source",
      used: true,
      lines: [`聚水潭 Jushuitan`, s.endpoint, `${s.timeField ?? "modified"} · ${s.paging.type} · id ${s.idField}`],
    },
    {
      key: "formatResponse",
      title: "格式化 / formatResponse",
      used: rules.length > 0,
      lines: rules.length ? rules.map((r) => `${r.old} → ${r.new} (${r.format})`) : ["未使用 / not used"],
    },
    {
      key: "condition",
      title: "条件 / condition",
      used: groups.length > 0,
      lines: groups.length
        ? groups.map(
            (g, i) => `${i ? "OR " : ""}${g.map((c) => `${c.field} ${c.logic}${c.value === undefined ? "" : ` ${JSON.stringify(c.value)}`}`).join(" AND ")}`,
          )
        : ["未使用 / not used"],
    },
    {
      key: "flatten",
      title: "拆行 / flatten",
      used: Boolean(s.flatten),
      lines: s.flatten ? [`${s.flatten.path}${s.flatten.prefix ? ` → ${s.flatten.prefix}*` : ""}`] : ["未使用 / not used"],
    },
    {
      key: "merge",
      title: "合并 / merge",
      used: Boolean(merge),
      lines: merge
        ? [
            `by ${merge.groupBy.join(", ")}`,
            `lines ${merge.lines}${merge.lineGroupBy ? ` by ${merge.lineGroupBy.join(", ")}` : ""}`,
            `key ${merge.keyTemplate}`,
          ]
        : ["未使用 / not used"],
    },
    {
      key: "target",
      title: "目标 / Target",
      used: true,
      lines: [flow.target.type === "kis" ? "金蝶 KIS" : "畅捷通 T+", flow.target.operation, `key ${flow.target.externalKey}`],
    },
  ];
}

const BOX_W = 176;
const BOX_H = 96;
const GAP = 34;
const LINE_CHARS = 24;

export function flowDiagram(flow: Flow) {
  const nodes = flowNodes(flow);
  const width = nodes.length * BOX_W + (nodes.length - 1) * GAP + 20;
  const height = BOX_H + 20;
  const parts = nodes.map((n, i) => {
    const x = 10 + i * (BOX_W + GAP);
    const shown = n.lines.slice(0, 3);
    const more = n.lines.length - shown.length;
    const arrow =
      i < nodes.length - 1
        ? html`<line x1="${x + BOX_W}" y1="${10 + BOX_H / 2}" x2="${x + BOX_W + GAP - 4}" y2="${10 + BOX_H / 2}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"></line>`
        : "";
    return html`<g class="node ${n.used ? "used" : "unused"}" data-step="${n.key}"><title>${n.title}: ${n.lines.join("; ")}</title>
<rect x="${x}" y="10" width="${BOX_W}" height="${BOX_H}" rx="8" fill="${n.used ? "#e3f2fd" : "#fafafa"}" stroke="${n.used ? "#1565c0" : "#bbb"}"${n.used ? "" : html` stroke-dasharray="5 4"`}></rect>
<text x="${x + 10}" y="32" class="node-title">${n.title}</text>
${shown.map((line, j) => html`<text x="${x + 10}" y="${52 + j * 16}" class="node-line">${truncate(line, LINE_CHARS)}</text>`)}
${more > 0 ? html`<text x="${x + BOX_W - 10}" y="32" text-anchor="end" class="node-line">+${more}</text>` : ""}
</g>${arrow}`;
  });
  return html`<svg class="diagram" role="img" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" aria-label="${flow.name}">
<title>${flow.name}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#555"></path></marker></defs>
${parts}
</svg>`;
}
