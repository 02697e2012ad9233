/**
 * Routes of issue 17 (trace, freshness, reconcile, approval), kept apart from worker/api.ts and the dashboard's
 * index so the hunks there stay one line each. API routes need the bearer token or a session (app.ts mounts
 * requireAuth on their prefixes; a cookie-authenticated write must come from this origin, like every POST).
 */
import type { Hono } from "hono";
import { Hono as HonoApp } from "hono/tiny";
import * as z from "zod/mini";
import type { Env } from "../env.ts";
import { type AppEnv, parseWith } from "../http.ts";
import type { Services } from "../services.ts";
import { renderPage } from "../dashboard/layout.ts";
import { traceBody } from "../dashboard/trace.ts";
import { traceDocument } from "./trace-service.ts";
import { reconcileBody } from "../dashboard/reconcile.ts";
import { latestReconcile, manualReconcileDays, reconcileRange, resweepDay, runReconcile } from "./reconcile-service.ts";
import { BridgeError } from "../../shared/errors.ts";
import { jsonBody } from "../http.ts";
import { approve, approved, readApproval, readPlan } from "../../shared/observe/approval.ts";
import { approvalsBody } from "../dashboard/approval.ts";

type ServicesOf = (c: { env: Env }) => Services;

const traceQuery = z.object({
  q: z.string().check(z.trim(), z.minLength(1, { message: "give a document id: ?q=<io_id | so_id | ExternalCode | FBillNo>" }), z.maxLength(128)),
  days: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(31))),
});

/** Prefixes app.ts guards with requireAuth. */
export const OBSERVE_API_PREFIXES = ["/trace", "/reconcile"] as const;

const reconcileBodySchema = z.strictObject({
  days: z.optional(z.number().check(z.int(), z.gte(1), z.lte(31))),
  from: z.optional(z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, { message: "a day: yyyy-MM-dd" }))),
  to: z.optional(z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, { message: "a day: yyyy-MM-dd" }))),
});
const approveBody = z.strictObject({ planId: z.optional(z.string().check(z.minLength(1), z.maxLength(200))) });
const resweepBody = z.strictObject({ day: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, { message: "a day: yyyy-MM-dd" })) });

function flowOf(services: Services, id: string) {
  const flow = Object.hasOwn(services.config.flows, id) ? services.config.flows[id] : undefined;
  if (!flow) throw new BridgeError("not_found", `no flow "${id}"`, { hint: `this deployment runs: ${Object.keys(services.config.flows).join(", ")}` });
  return flow;
}

export function observeApi(services: ServicesOf) {
  const api = new HonoApp<AppEnv>();
  api.get("/trace", async (c) => {
    const q = parseWith(traceQuery, c.req.query(), "query");
    return c.json(await traceDocument(services(c), q.q, q.days));
  });

  api.get("/reconcile", async (c) => {
    const s = services(c);
    const only = c.req.query("flow");
    const ids = only ? [flowOf(s, only).id] : Object.keys(s.config.flows);
    return c.json({ results: await Promise.all(ids.map(async (id) => ({ flowId: id, latest: await latestReconcile(c.env, s.config, id) }))) });
  });

  api.post("/flows/:id/reconcile", async (c) => {
    const s = services(c);
    const flow = flowOf(s, c.req.param("id"));
    const body = parseWith(reconcileBodySchema, await jsonBody(c), "body");
    const result = await runReconcile(c.env, s.config, flow, reconcileRange(flow, Date.now(), body), "http");
    return c.json(result, result.error ? 502 : 200);
  });

  api.get("/flows/:id/plan", async (c) => {
    const s = services(c);
    const flow = flowOf(s, c.req.param("id"));
    const kv = s.kv;
    const [plan, approval, ok] = await Promise.all([readPlan(kv, flow.id), readApproval(kv, flow.id), approved(kv, flow)]);
    return c.json({ flowId: flow.id, required: flow.approval === "required", approved: ok, approval, plan });
  });

  // Approve: the flow as it is now goes live, and runs at once (an incremental run, like "sync now").
  api.post("/flows/:id/approve", async (c) => {
    const s = services(c);
    const flow = flowOf(s, c.req.param("id"));
    if (flow.approval !== "required")
      throw new BridgeError("invalid_request", `flow ${flow.id} does not ask for approval`, {
        hint: 'set "approval": "required" on the flow to hold its writes until approved',
      });
    const body = parseWith(approveBody, await jsonBody(c), "body");
    const approval = await approve(s.kv, flow, c.get("authBy") === "session" ? "dashboard" : "api", Date.now(), body.planId);
    const result = await s.sync(flow.id, {});
    return c.json({ approval, ...(result.status === 200 ? { run: result.run } : { accepted: result.accepted }) });
  });

  // Re-sweep one day: a range sync of that day, through the same exactly-once path as every sync (ledger, lease).
  api.post("/flows/:id/resweep", async (c) => {
    const s = services(c);
    const flow = flowOf(s, c.req.param("id"));
    const { day } = parseWith(resweepBody, await jsonBody(c), "body");
    return c.json({ day, run: await resweepDay(c.env, s.config, flow, day) });
  });
  return api;
}

/** Dashboard pages; registered inside dashboardRoutes, behind its session check. */
export function observePages(ui: Hono<AppEnv>, services: ServicesOf) {
  ui.get("/ui/approvals", async (c) => {
    const s = services(c);
    const kv = s.kv;
    const gated = Object.values(s.config.flows).filter((f) => f.approval === "required");
    const views = await Promise.all(
      gated.map(async (f) => ({
        flow: { id: f.id, name: f.name },
        approved: await approved(kv, f),
        approval: await readApproval(kv, f.id),
        plan: await readPlan(kv, f.id),
      })),
    );
    return renderPage(c, { title: "上线审批 / Approvals", signedIn: true, body: approvalsBody(views) });
  });
  ui.get("/ui/reconcile", async (c) => {
    const s = services(c);
    // "Reconcile now" covers the scheduled days and today so far (documents within the end lag may show as missing).
    const now = Date.now();
    const flows = await Promise.all(
      Object.values(s.config.flows).map(async (f) => {
        const manual = manualReconcileDays(f, now);
        return { flow: { id: f.id, name: f.name }, latest: await latestReconcile(c.env, s.config, f.id), manual };
      }),
    );
    return renderPage(c, { title: "对账 / Reconcile", signedIn: true, body: reconcileBody(flows) });
  });
  ui.get("/ui/trace", async (c) => {
    const q = (c.req.query("q") ?? "").trim();
    if (!q) return renderPage(c, { title: "单据追踪 / Trace", signedIn: true, body: traceBody("", null) });
    try {
      const trace = await traceDocument(services(c), q);
      return renderPage(c, { title: `${q} · 单据追踪 / Trace`, signedIn: true, body: traceBody(q, trace) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return renderPage(c, { title: "单据追踪 / Trace", status: 400, signedIn: true, body: traceBody(q, null, message) });
    }
  });
}
