/**
 * The dashboard inside workerd: sign-in and its cookie, redirects, security headers, escaping of stored
 * data (dead-letter messages, source documents, run errors, flow names), the cookie's same-origin rule,
 * and that the API token never shows up in a page or a redirect.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { seedFlow } from "../../shared/flows/index.ts";
import { makeRunId } from "../../shared/state/keys.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { niceMax } from "../../worker/dashboard/chart.ts";
import { flowNodes } from "../../worker/dashboard/diagram.ts";
import { flowBody, overviewBody } from "../../worker/dashboard/views.ts";
import type { Env } from "../../worker/env.ts";
import { SESSION_COOKIE, verifySession } from "../../worker/session.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { mappingRows } from "../../worker/services.ts";
import { callApi } from "./stack.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const ORIGIN = "https://bridge.test";
const XSS = `<script>alert("xss")</script>`;
const IMG = `<img src=x onerror=alert(1)>`;

const e = env as unknown as Env;
const token = e.SYNC_API_TOKEN!;
let cookie = "";
let letterIds: string[] = [];

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const page = (path: string, headers: Record<string, string> = {}) => callApi(e, "GET", path, { token: null, headers: { Cookie: cookie, ...headers } });

/** Everything a response shows a browser: status line target, headers and body. */
function visible(res: { text: string; headers: Headers }) {
  return [res.text, ...[...res.headers.entries()].map(([k, v]) => `${k}: ${v}`)].join("\n");
}

function expectSecurityHeaders(headers: Headers) {
  const csp = headers.get("Content-Security-Policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe-inline");
  expect(headers.get("X-Frame-Options")).toBe("DENY");
  expect(headers.get("Referrer-Policy")).toBe("no-referrer");
}

beforeAll(async () => {
  const store = new FlowStateStore(new WorkersKvStore(e.STATE));
  const now = Date.now();
  const letters = await store.addDeadLetters(KIS, [
    {
      runId: "r-xss",
      sourceId: IMG,
      stage: "lookup",
      error: { code: "lookup_miss", message: `material ${XSS} not found`, hint: `upload ${IMG}` },
      source: { io_id: IMG, remark: XSS },
    },
    { runId: "r-xss", sourceId: "42", stage: "write", error: { code: "kis_error", message: "plain failure" }, source: { io_id: 42 } },
  ]);
  letterIds = letters.map((l) => l.id);
  for (let i = 0; i < 3; i++) {
    await store.recordRun({
      runId: makeRunId(now - (3 - i) * 60_000, "cron"),
      flowId: KIS,
      trigger: i === 2 ? XSS : "cron",
      startedAt: now - (3 - i) * 60_000,
      finishedAt: now - (3 - i) * 60_000 + 500,
      durationMs: 500,
      outcome: i === 2 ? "failed" : "success",
      counts: { read: 10 * i, written: 5 * i, alreadyExisted: 0, skipped: 0, deadLettered: i, dropped: 0 },
      ...(i === 2 ? { error: { code: "boom", message: `run broke: ${XSS}`, hint: IMG } } : {}),
    });
  }
});

describe("dashboard: sign-in", () => {
  it("GET / without a session redirects to /login, with the security headers", async () => {
    const res = await callApi(e, "GET", "/", { token: null });
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("/login");
    expectSecurityHeaders(res.headers);
    const flowPage = await callApi(e, "GET", `/ui/flows/${KIS}`, { token: null, headers: { Cookie: `${SESSION_COOKIE}=${"0".repeat(64)}` } });
    expect(flowPage.status).toBe(302);
    expect(flowPage.headers.get("Location")).toBe("/login");
  });

  it("the bearer token alone does not open the pages (the dashboard is cookie-only)", async () => {
    const res = await callApi(e, "GET", "/", { token });
    expect(res.status).toBe(302);
  });

  it("GET /login is a form that posts the token in the body; its inline style carries the CSP nonce", async () => {
    const res = await callApi(e, "GET", "/login", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/html");
    expectSecurityHeaders(res.headers);
    expect(res.text).toMatch(/<form method="post" action="\/login"/);
    expect(res.text).toMatch(/<input type="password" id="token" name="token"/);
    const nonce = /'nonce-([^']+)'/.exec(res.headers.get("Content-Security-Policy")!)?.[1];
    expect(nonce).toBeTruthy();
    expect(res.text).toContain(`<style nonce="${nonce}">`);
    const again = await callApi(e, "GET", "/login", { token: null });
    expect(/'nonce-([^']+)'/.exec(again.headers.get("Content-Security-Policy")!)?.[1]).not.toBe(nonce);
  });

  it("a wrong, empty or prefix token fails and sets no cookie", async () => {
    for (const attempt of [`${token}x`, "", token.slice(0, -1), "wrong"]) {
      const res = await callApi(e, "POST", "/login", { token: null, body: form({ token: attempt }), headers: { ...FORM, Origin: ORIGIN } });
      expect(res.status, `token attempt "${attempt}"`).toBe(401);
      expect(res.headers.get("Set-Cookie")).toBeNull();
      expect(res.text).toContain("令牌错误 / Wrong token");
    }
  });

  it("a cross-site sign-in is refused even with the right token", async () => {
    const res = await callApi(e, "POST", "/login", { token: null, body: form({ token }), headers: { ...FORM, Origin: "https://evil.test" } });
    expect(res.status).toBe(403);
    expect(res.headers.get("Set-Cookie")).toBeNull();
  });

  it("the right token sets an HttpOnly, Secure, SameSite=Strict session cookie (not the token) and redirects to /", async () => {
    const res = await callApi(e, "POST", "/login", { token: null, body: form({ token }), headers: { ...FORM, Origin: ORIGIN } });
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/");
    const setCookie = res.headers.get("Set-Cookie") ?? "";
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=v2\\.\\d+\\.[0-9a-f]{32}\\.[0-9a-f]{64};`));
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("Secure");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    const value = setCookie.split(";")[0]!.split("=")[1]!;
    expect(await verifySession(e, value)).not.toBeNull();
    expect(value).not.toContain(token);
    cookie = `${SESSION_COOKIE}=${value}`;
    // Once signed in, /login sends the browser home.
    const login = await page("/login");
    expect(login.status).toBe(302);
    expect(login.headers.get("Location")).toBe("/");
  });

  it("sign-out clears the cookie", async () => {
    const res = await callApi(e, "POST", "/logout", { token: null, headers: { Cookie: cookie, Origin: ORIGIN } });
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/login");
    expect(res.headers.get("Set-Cookie")).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`));
    // Signed out on the server too (test/worker/security-sessions.test.ts); the pages below sign in afresh.
    expect((await page("/")).status).toBe(302);
    const again = await callApi(e, "POST", "/login", { token: null, body: form({ token }), headers: { ...FORM, Origin: ORIGIN } });
    cookie = (again.headers.get("Set-Cookie") ?? "").split(";")[0]!;
  });
});

describe("dashboard: pages", () => {
  it("the overview shows both flows, their history charts, dead letters and the API catalog", async () => {
    const res = await page("/");
    expect(res.status).toBe(200);
    expectSecurityHeaders(res.headers);
    for (const id of [KIS, TPLUS]) {
      expect(res.text).toContain(`<tr data-flow="${id}">`);
      expect(res.text).toContain(seedFlow(id).name.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
    }
    expect(res.text).toContain("同步方案 / Flows");
    expect(res.text).toContain("FBillNo 预查 / precheck: always"); // the KIS duplicate guard in force (issue 12)
    expect(res.text).toContain('data-action="sync"');
    // Three recorded runs → three bar groups in the KIS chart; the failed one is marked.
    const kisChart = res.text.split(`data-chart="${KIS}"`)[1]!.split("</figure>")[0]!;
    expect(kisChart.match(/<g class="run"/g)).toHaveLength(3);
    expect(kisChart).toContain('stroke="#c62828" stroke-width="2"');
    for (const id of letterIds) expect(res.text).toContain(`data-dead-letter="${id}"`);
    expect(res.text).toContain('data-action="replay"');
    expect(res.text).toContain("/open/other/inout/query");
    expect(res.text).toMatch(/<td class="num open-dead-letters warn">2<\/td>/);
  });

  it("the flow page draws the pipeline and lists the field mapping", async () => {
    const res = await page(`/ui/flows/${TPLUS}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<svg class="diagram"');
    for (const step of ["source", "formatResponse", "condition", "flatten", "merge", "target"]) expect(res.text).toContain(`data-step="${step}"`);
    // The T+ flow merges and formats; it neither filters nor flattens.
    expect(res.text).toContain('<g class="node used" data-step="merge">');
    expect(res.text).toContain('<g class="node used" data-step="formatResponse">');
    expect(res.text).toContain('<g class="node unused" data-step="flatten">');
    for (const row of mappingRows(seedFlow(TPLUS).target.fields)) expect(res.text).toContain(`<tr data-field="${row.path}">`);
    const missing = await page("/ui/flows/%3Cscript%3Enope");
    expect(missing.status).toBe(404);
    expect(missing.text).toContain("&lt;script&gt;nope");
    expect(missing.text).not.toContain("<script>nope");
  });

  it("escapes stored data: dead-letter messages and hints, source documents, run errors and triggers", async () => {
    for (const path of ["/", `/ui/flows/${KIS}`]) {
      const res = await page(path);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(XSS);
      expect(res.text).not.toContain(IMG);
      expect(res.text).toContain("&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;");
      expect(res.text).toContain("&lt;img src=x onerror=alert(1)&gt;");
      // The only script is the dashboard's own, and it carries this response's nonce.
      const nonce = /'nonce-([^']+)'/.exec(res.headers.get("Content-Security-Policy")!)?.[1];
      const scripts = res.text.match(/<script[^>]*>/g) ?? [];
      expect(scripts).toEqual([`<script nonce="${nonce}">`]);
    }
  });

  it("escapes a malicious flow name and mapping in the rendered views", async () => {
    const base = seedFlow(KIS);
    const evil = {
      ...base,
      name: XSS,
      description: IMG,
      target: { ...base.target, operation: `x/${IMG}`, fields: [{ field: IMG, type: "string" as const, label: XSS, value: `{${XSS}}` }] },
    };
    const detail = {
      flow: evil,
      schedule: null,
      watermark: null,
      checkpoint: null,
      lease: { expired: true },
      runs: [],
      mapping: mappingRows(evil.target.fields),
    };
    const flowHtml = String(await flowBody({ detail, history: [], deadLetters: [] }));
    const overviewHtml = String(
      await overviewBody({
        flows: [
          {
            id: evil.id,
            name: XSS,
            description: IMG,
            source: { type: "jushuitan", endpoint: IMG },
            target: { type: "kis", operation: XSS },
            merge: null,
            schedule: null,
            watermark: null,
            resumeCursor: false,
            lastRun: null,
            openDeadLetters: 0,
          },
        ],
        histories: {},
        deadLetters: [],
        apis: [{ endpoint: IMG, system: "kis", flows: [XSS], calls: 1, errors: 0, throttles: 0, p50Ms: 1, p95Ms: 1, runs: 1 }],
        recentRuns: [],
      }),
    );
    for (const text of [flowHtml, overviewHtml]) {
      expect(text).not.toMatch(/<script|<img/);
      expect(text).toContain("&lt;script&gt;");
    }
    expect(flowNodes(evil).find((n) => n.key === "target")!.lines).toContain(`x/${IMG}`);
  });

  it("chart axis maxima are round numbers at or above the largest value", () => {
    expect([0, 1, 3, 7, 10, 11, 240, 999].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 500, 1000]);
  });
});

describe("dashboard: the cookie on the API", () => {
  it("a cross-origin or origin-less write with the cookie is refused; a same-origin one works", async () => {
    const id = encodeURIComponent(letterIds[1]!);
    const evil = await callApi(e, "POST", `/dead-letters/${id}/replay`, { token: null, headers: { Cookie: cookie, Origin: "https://evil.test" } });
    expect(evil.status).toBe(401);
    expect(evil.json.error.message).toContain("cross-site");
    const noOrigin = await callApi(e, "DELETE", `/dead-letters/${id}`, { token: null, body: { reason: "fixed by hand" }, headers: { Cookie: cookie } });
    expect(noOrigin.status).toBe(401);
    const sync = await callApi(e, "POST", `/flows/${KIS}/sync`, { token: null, body: {}, headers: { Cookie: cookie, Origin: "https://evil.test" } });
    expect(sync.status).toBe(401);
    // Still open after the refused calls.
    expect((await page("/")).text).toContain(`<tr class="dead-letter open" data-dead-letter="${letterIds[1]}">`);

    const same = await callApi(e, "DELETE", `/dead-letters/${id}`, {
      token: null,
      body: { reason: "posted by hand in KIS" },
      headers: { Cookie: cookie, Origin: ORIGIN },
    });
    expect(same.status).toBe(200);
    expect(same.json.deadLetter.resolved.by).toBe("dashboard");
    const after = await page("/");
    expect(after.text).toContain(`<tr class="dead-letter resolved" data-dead-letter="${letterIds[1]}">`);
    expect(after.text).toContain("posted by hand in KIS");
  });

  it("the token never appears in a page, a header or a redirect", async () => {
    const responses = [
      await callApi(e, "GET", "/", { token: null }),
      await callApi(e, "GET", "/login", { token: null }),
      await callApi(e, "POST", "/login", { token: null, body: form({ token }), headers: FORM }),
      await callApi(e, "POST", "/login", { token: null, body: form({ token: `${token}-wrong` }), headers: FORM }),
      await page("/"),
      await page(`/ui/flows/${KIS}`),
      await page(`/ui/flows/${TPLUS}`),
      await page("/ui/flows/nope"),
      await page("/ui"),
    ];
    for (const res of responses) {
      expect(visible(res)).not.toContain(token);
      const location = res.headers.get("Location");
      if (location) expect(location).not.toMatch(/token|test-sync/i);
    }
  });
});
