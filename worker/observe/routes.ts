/**
 * Routes of issue 17 (trace, freshness, reconcile, approval), kept apart from worker/api.ts and the dashboard's
 * index so the hunks there stay one line each. API routes need the bearer token or a session (app.ts mounts
 * requireAuth on their prefixes; a cookie-authenticated write must come from this origin, like every POST).
 */
import type { Hono } from "hono";
import { Hono as HonoApp } from "hono";
import * as z from "zod";
import type { Env } from "../env.ts";
import { type AppEnv, parseWith } from "../http.ts";
import type { Services } from "../services.ts";
import { renderPage } from "../dashboard/layout.ts";
import { traceBody } from "../dashboard/trace.ts";
import { traceDocument } from "./trace-service.ts";

type ServicesOf = (c: { env: Env }) => Services;

const traceQuery = z.object({ q: z.string().trim().min(1, { message: "give a document id: ?q=<io_id | so_id | ExternalCode | FBillNo>" }).max(128), days: z.coerce.number().int().min(1).max(31).optional() });

/** Prefixes app.ts guards with requireAuth. */
export const OBSERVE_API_PREFIXES = ["/trace"] as const;

export function observeApi(services: ServicesOf) {
  const api = new HonoApp<AppEnv>();
  api.get("/trace", async (c) => {
    const q = parseWith(traceQuery, c.req.query(), "query");
    return c.json(await traceDocument(c.env, services(c), q.q, q.days));
  });
  return api;
}

/** Dashboard pages; registered inside dashboardRoutes, behind its session check. */
export function observePages(ui: Hono<AppEnv>, services: ServicesOf) {
  ui.get("/ui/trace", async (c) => {
    const q = (c.req.query("q") ?? "").trim();
    if (!q) return renderPage(c, { title: "单据追踪 / Trace", signedIn: true, body: traceBody("", null) });
    try {
      const trace = await traceDocument(c.env, services(c), q);
      return renderPage(c, { title: `${q} · 单据追踪 / Trace`, signedIn: true, body: traceBody(q, trace) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return renderPage(c, { title: "单据追踪 / Trace", status: 400, signedIn: true, body: traceBody(q, null, message) });
    }
  });
}
