/**
 * The dashboard's page shell: the stylesheet and one small script that wires the buttons to the JSON API with
 * the session cookie. Both run by the response's CSP nonce, which hono's secure-headers sets for every response
 * (worker/app.ts); nothing else on a page can run.
 */
import type { Context } from "hono";
import { html, raw } from "hono/html";
import { VERSION } from "../../shared/version.ts";
import { outcomeStyles } from "./format.ts";

export type Html = ReturnType<typeof html>;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;color:#212121;background:#f5f6f8}
header{display:flex;align-items:center;gap:16px;padding:10px 24px;background:#1a237e;color:#fff}
header h1{font-size:18px;margin:0;flex:1}
header a{color:#fff}
header form{margin:0}
main{padding:16px 24px;max-width:1280px;margin:0 auto}
section{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:4px 0 12px}
h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#fafafa;font-weight:600}
td code{overflow-wrap:anywhere}
.nowrap,td.num{white-space:nowrap}
section{overflow-x:auto}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-all;max-height:240px;overflow:auto;background:#fafafa;padding:6px;margin:4px 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;white-space:nowrap}
.o-none{background:#e0e0e0;color:#424242}
${outcomeStyles()}
.muted{color:#757575}
.err{color:#c62828}
.hint{color:#5d4037}
.warn{color:#c62828;font-weight:600}
button{white-space:nowrap;font:inherit;padding:4px 12px;border-radius:6px;border:1px solid #1a237e;background:#1a237e;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1a237e}
button:disabled{opacity:.5;cursor:wait}
input[type=text],input[type=password]{font:inherit;padding:4px 8px;border:1px solid #bbb;border-radius:6px}
form.resolve{display:flex;gap:6px;margin-top:6px}
#status{min-height:1.5em;margin:0 0 12px;font-weight:600}
#status.ok{color:#2e7d32}
#status.bad{color:#c62828}
.chart,.diagram{width:100%;height:auto;display:block}
.chart{max-width:760px}
.chart .axis{font-size:12px;fill:#616161}
.legend{font-size:12px;color:#616161;margin:2px 0 0}
.legend .key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.legend .key:first-child{margin-left:0}
.legend .written{background:#2e7d32}
.legend .failures{background:#c62828}
.legend .cross{color:#c62828;font-weight:700;margin:0 4px 0 10px}
figure{margin:0}
.diagram .node-title{font-size:12px;font-weight:600;fill:#0d47a1}
.diagram .unused .node-title{fill:#9e9e9e}
.diagram .node-line{font-size:10.5px;fill:#424242}
.diagram .unused .node-line{fill:#9e9e9e}
.flows-charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.login{max-width:420px;margin:10vh auto}
.login form{display:flex;flex-direction:column;gap:10px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.meta dt{color:#616161}
dl.meta dd{margin:0}
`;

/**
 * Wires [data-action] buttons and forms to the JSON API. Runs with the session cookie; the browser adds
 * the Origin header that requireAuth checks for writes. The outcome is shown after the reload.
 */
const SCRIPT = `
(() => {
  const status = document.getElementById("status");
  const show = (text, ok) => { if (!status) return; status.textContent = text; status.className = ok ? "ok" : "bad"; };
  const saved = sessionStorage.getItem("jst-bridge-notice");
  if (saved) { sessionStorage.removeItem("jst-bridge-notice"); try { const n = JSON.parse(saved); show(n.text, n.ok); } catch {} }
  const describe = async (res) => {
    let body = null;
    try { body = await res.json(); } catch {}
    if (body && body.error) return body.error.code + ": " + body.error.message + (body.error.hint ? " (" + body.error.hint + ")" : "");
    return body;
  };
  const call = async (method, url, body) => {
    // referrerPolicy: the page's no-referrer policy would make some browsers send "Origin: null" on writes.
    const res = await fetch(url, { method, credentials: "same-origin", referrerPolicy: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    return { res, body: await describe(res) };
  };
  const finish = (text, ok) => { sessionStorage.setItem("jst-bridge-notice", JSON.stringify({ text, ok })); location.reload(); };
  const actions = {
    async sync(el) {
      const { res, body } = await call("POST", "/flows/" + encodeURIComponent(el.dataset.flow) + "/sync");
      if (res.status === 202) return finish("已排队 / queued: " + el.dataset.flow, true);
      if (!res.ok) return show("同步失败 / sync failed: " + body, false);
      const c = body.run.counts;
      finish("同步完成 / synced " + el.dataset.flow + ": " + body.run.outcome + ", 读取/read " + c.read + ", 写入/written " + c.written + ", 死信/dead letters " + c.deadLettered, body.run.outcome === "success");
    },
    async resweep(el) {
      const { res, body } = await call("POST", "/flows/" + encodeURIComponent(el.dataset.flow) + "/resweep", { day: el.dataset.day });
      if (res.status === 202) return finish("已排队 / queued: " + el.dataset.day, true);
      if (!res.ok) return show("重新同步失败 / re-sweep failed: " + body, false);
      const c = body.run.counts;
      finish("已重新同步 / re-swept " + el.dataset.day + ": " + body.run.outcome + ", 读取/read " + c.read + ", 写入/written " + c.written, body.run.outcome === "success");
    },
    async reconcile(el) {
      const { res, body } = await call("POST", "/flows/" + encodeURIComponent(el.dataset.flow) + "/reconcile", el.dataset.from ? { from: el.dataset.from, to: el.dataset.to } : {});
      if (!res.ok) return show("对账失败 / reconcile failed: " + (typeof body === "string" ? body : res.status), false);
      finish("对账完成 / reconciled " + el.dataset.flow + ": " + (body.report.drift ? "有差异 / drift" : "一致 / no drift"), !body.report.drift);
    },
    async approve(el) {
      const { res, body } = await call("POST", "/flows/" + encodeURIComponent(el.dataset.flow) + "/approve", { planId: el.dataset.plan });
      if (!res.ok) return show("批准失败 / approval failed: " + body, false);
      finish("已批准并写入 / approved and written " + el.dataset.flow + ": " + body.run.outcome + ", 写入/written " + body.run.counts.written, body.run.outcome === "success");
    },
    async replay(el) {
      const { res, body } = await call("POST", "/dead-letters/" + encodeURIComponent(el.dataset.id) + "/replay");
      if (res.ok && body.replayed) return finish("重放成功 / replayed " + el.dataset.id, true);
      show("重放失败 / replay failed: " + (typeof body === "string" ? body : res.status), false);
    },
    async resolve(el) {
      const reason = el.querySelector("input[name=reason]").value;
      const { res, body } = await call("DELETE", "/dead-letters/" + encodeURIComponent(el.dataset.id), { reason });
      if (res.ok) return finish("已标记解决 / resolved " + el.dataset.id, true);
      show("无法解决 / could not resolve: " + body, false);
    },
  };
  const run = async (el, event) => {
    const action = actions[el.dataset.action];
    if (!action) return;
    event.preventDefault();
    const button = el.tagName === "BUTTON" ? el : el.querySelector("button");
    if (button) button.disabled = true;
    show("处理中… / working…", true);
    try { await action(el); } catch (e) { show("请求失败 / request failed: " + e, false); }
    finally { if (button) button.disabled = false; }
  };
  document.addEventListener("click", (e) => { const el = e.target.closest("button[data-action]"); if (el) run(el, e); });
  document.addEventListener("submit", (e) => { const el = e.target.closest("form[data-action]"); if (el) run(el, e); });
})();
`;

export function renderPage(c: Context, options: { title: string; body: Html; status?: number; signedIn?: boolean }) {
  // The nonce of this response's Content-Security-Policy (hono's secure-headers in app.ts makes one per response).
  const nonce = c.get("secureHeadersNonce") ?? "";
  const page = html`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · jst-bridge</title>
<style nonce="${nonce}">${raw(STYLE)}</style>
</head>
<body>
<header>
<h1><a href="/">jst-bridge 同步控制台 / Dashboard</a></h1>
<span class="muted">v${VERSION}</span>
${options.signedIn ? html`<a href="/ui/reconcile">对账 / Reconcile</a> <a href="/ui/approvals">审批 / Approvals</a>` : ""}
${options.signedIn ? html`<form method="get" action="/ui/trace" role="search"><input type="text" name="q" maxlength="128" placeholder="单据追踪 / trace: io_id, so_id, FBillNo…" aria-label="单据追踪 / document trace"></form>` : ""}
${options.signedIn ? html`<form method="post" action="/logout"><button class="secondary" type="submit">退出 / Sign out</button></form>` : ""}
</header>
<main>
${options.signedIn ? html`<p id="status" role="status" aria-live="polite"></p>` : ""}
${options.body}
</main>
${options.signedIn ? html`<script nonce="${nonce}">${raw(SCRIPT)}</script>` : ""}
</body>
</html>`;
  return c.html(page, (options.status ?? 200) as 200);
}
