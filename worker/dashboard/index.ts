/**
 * The dashboard: server-rendered pages over the same services as the API, with sign-in by the API token.
 * The token is only ever sent in a POST body; the browser keeps an HttpOnly, Secure, SameSite=Strict
 * session cookie derived from it (worker/http.ts sessionValue), which the API also accepts for the
 * buttons' same-origin calls.
 */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { BridgeError } from "../../shared/errors.ts";
import type { Env } from "../env.ts";
import { clientAddress } from "../auth-guard.ts";
import { apiTokenProblem } from "../config.ts";
import { type AppEnv, checkToken } from "../http.ts";
import { endSession, sessionOf, startSession } from "../session.ts";
import { redactorFor } from "../secrets.ts";
import type { Services } from "../services.ts";
import { observePages } from "../observe/routes.ts";
import { CHART_MAX_RUNS } from "./chart.ts";
import { renderPage } from "./layout.ts";
import { errorBody, flowBody, loginBody, overviewBody, type RunRow } from "./views.ts";
import { sameOriginRequest } from "../same-origin.ts";

type ServicesOf = (c: { env: Env }) => Services;

async function signedIn(c: Context<AppEnv>): Promise<boolean> {
  return (await sessionOf(c)) !== null;
}

/** Sign-in is closed without a token, or with one too weak to stand guessing (the page names the length only). */
function closed(env: Env): boolean {
  return !env.SYNC_API_TOKEN || apiTokenProblem(env.SYNC_API_TOKEN) !== null;
}

function redirect(c: Context, location: string, status: 302 | 303 = 302) {
  return c.redirect(location, status);
}

/** POST /login: the token from the form, checked with the API's per-address attempt limit; a session cookie on success. */
async function signIn(c: Context<AppEnv>) {
  const token = c.env.SYNC_API_TOKEN;
  if (!token || closed(c.env)) return renderPage(c, { title: "登录 / Sign in", status: 503, body: loginBody({ closed: true }) });
  if (!sameOriginRequest(c.req))
    return renderPage(c, { title: "登录 / Sign in", status: 403, body: loginBody({ error: "跨站请求被拒绝 / cross-site sign-in refused" }) });
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const given = typeof form.token === "string" ? form.token.trim() : "";
  let ok = false;
  try {
    ok = given !== "" && (await checkToken(c.env, clientAddress(c.req), given, token));
  } catch (error) {
    if (!(error instanceof BridgeError) || error.code !== "rate_limited") throw error;
    c.header("Retry-After", String((error.details as { retryAfterSeconds?: number }).retryAfterSeconds ?? 60));
    return renderPage(c, {
      title: "登录 / Sign in",
      status: 429,
      body: loginBody({ error: "尝试次数过多，请稍后再试 / Too many attempts, try again later" }),
    });
  }
  if (!ok) return renderPage(c, { title: "登录 / Sign in", status: 401, body: loginBody({ error: "令牌错误 / Wrong token" }) });
  await startSession(c);
  return redirect(c, "/", 303);
}

export function dashboardRoutes(services: ServicesOf) {
  const ui = new Hono<AppEnv>();

  // Pages answer errors with a page, not the API's JSON envelope (messages are escaped like everything else).
  ui.onError((error, c) => {
    const e = error instanceof BridgeError ? error : new BridgeError("internal", "internal error", { hint: "see the Worker logs" });
    if (!(error instanceof BridgeError))
      console.error(redactorFor(c.env).redact(JSON.stringify({ level: "error", message: "dashboard: unhandled", error: String(error) })));
    const status = e.code === "not_found" ? 404 : e.code === "not_configured" ? 503 : 500;
    return renderPage(c, { title: "错误 / Error", status, signedIn: true, body: errorBody(`错误 / Error (${e.code})`, e.message, e.hint) });
  });

  ui.get("/login", async (c) => {
    if (closed(c.env)) return renderPage(c, { title: "登录 / Sign in", status: 503, body: loginBody({ closed: true }) });
    if (await signedIn(c)) return redirect(c, "/");
    return renderPage(c, { title: "登录 / Sign in", body: loginBody({}) });
  });

  ui.post("/login", signIn);

  ui.post("/logout", async (c) => {
    if (!sameOriginRequest(c.req))
      return renderPage(c, { title: "退出 / Sign out", status: 403, body: errorBody("退出 / Sign out", "跨站请求被拒绝 / cross-site request refused") });
    await endSession(c);
    return redirect(c, "/login", 303);
  });

  // Everything below needs a session; without one the browser is sent to the sign-in form.
  const pages = ["/", "/ui", "/ui/*"];
  for (const path of pages) {
    ui.use(path, async (c, next) => {
      if (closed(c.env)) return renderPage(c, { title: "登录 / Sign in", status: 503, body: loginBody({ closed: true }) });
      if (!(await signedIn(c))) return redirect(c, "/login");
      c.set("authBy", "session");
      return next();
    });
  }

  ui.get("/", async (c) => {
    const s = services(c);
    const [flows, deadLetters, apis, recentRuns, doctor] = await Promise.all([
      s.flows(),
      s.deadLetters(undefined, "all"),
      s.apiCatalog(),
      s.runs(undefined, 20),
      s.lastDoctor(),
    ]);
    const histories: Record<string, RunRow[]> = {};
    await Promise.all(
      flows.map(async (f) => {
        histories[f.id] = (await s.runs(f.id, CHART_MAX_RUNS + 10)) as RunRow[];
      }),
    );
    return renderPage(c, {
      title: "总览 / Overview",
      signedIn: true,
      body: overviewBody({ flows, histories, deadLetters, apis, recentRuns: recentRuns as RunRow[], doctor }),
    });
  });

  ui.get("/ui", (c) => redirect(c, "/"));
  observePages(ui, services);

  ui.get("/ui/flows/:id", async (c) => {
    const s = services(c);
    const detail = await s.flow(c.req.param("id"));
    const [history, deadLetters] = await Promise.all([s.runs(detail.flow.id, CHART_MAX_RUNS + 10), s.deadLetters(detail.flow.id, "all")]);
    return renderPage(c, {
      title: detail.flow.name,
      signedIn: true,
      body: flowBody({ detail, history: history as RunRow[], deadLetters }),
    });
  });

  return ui;
}
