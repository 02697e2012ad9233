import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { BridgeError } from "../shared/errors.ts";
import { VERSION } from "../shared/version.ts";
import { apiRoutes } from "./api.ts";
import { RATE_BUDGET_API_PREFIX, rateBudgetApi } from "./rate-budget-api.ts";
import { readWorkerConfig } from "./config.ts";
import { dashboardRoutes } from "./dashboard/index.ts";
import type { Env } from "./env.ts";
import { type AppEnv, requireAuth, respondError } from "./http.ts";
import { redactorWithTokens } from "./secrets.ts";
import { createServices, type Services } from "./services.ts";
import { OBSERVE_API_PREFIXES, observeApi } from "./observe/routes.ts";

/** Request bodies above this are refused (reference-table uploads get REFERENCE_UPLOAD_LIMIT). */
export const BODY_LIMIT = 1024 * 1024;
export const REFERENCE_UPLOAD_LIMIT = 16 * 1024 * 1024;

// One Services per env object (per isolate in production).
const cache = new WeakMap<object, Services>();
function services(c: { env: Env }): Services {
  let s = cache.get(c.env);
  if (!s) {
    s = createServices(c.env, readWorkerConfig(c.env));
    cache.set(c.env, s);
  }
  return s;
}

const tooLarge = (limit: number) => () => {
  throw new BridgeError("payload_too_large", `request body over ${limit} bytes`, { hint: "send less per request" });
};

export function createApp() {
  const app = new Hono<AppEnv>();
  app.onError((error, c) => respondError(c, error));
  app.notFound((c) => respondError(c, new BridgeError("not_found", `No route for ${c.req.method} ${c.req.path}`)));

  // nosniff, HSTS, no-referrer, the nonce CSP … on every response (hono's secure-headers),
  // and no-store: API answers carry business documents and error text (security review #11).
  app.use(
    "*",
    secureHeaders({
      xFrameOptions: "DENY",
      // Nothing runs but the dashboard's own stylesheet and script, by this response's nonce (layout.ts reads it).
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: [NONCE],
        styleSrc: [NONCE],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    }),
  );
  app.use("*", async (c, next) => {
    await next();
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  });

  // Every response body (API JSON, dashboard pages, errors) passes the deployment's redactor last.
  app.use("*", async (c, next) => {
    await next();
    const res = c.res;
    const type = res.headers.get("Content-Type") ?? "";
    if (!res.body || !/json|html|text/i.test(type)) return;
    const redactor = await redactorWithTokens(c.env);
    const text = await res.text();
    const headers = new Headers(res.headers);
    headers.delete("Content-Length");
    c.res = undefined as unknown as Response; // replace, not merge: the length may have changed
    c.res = new Response(redactor.redact(text), { status: res.status, statusText: res.statusText, headers });
  });

  // Unauthenticated liveness probe: reveals the version and nothing about configuration.
  app.get("/health", (c) => c.json({ status: "ok", version: VERSION }));

  app.use("/reference/*", bodyLimit({ maxSize: REFERENCE_UPLOAD_LIMIT, onError: tooLarge(REFERENCE_UPLOAD_LIMIT) }));
  app.use("*", async (c, next) => {
    if (c.req.path.startsWith("/reference/")) return next();
    return bodyLimit({ maxSize: BODY_LIMIT, onError: tooLarge(BODY_LIMIT) })(c, next);
  });

  const api = apiRoutes(services);
  for (const prefix of ["/flows", "/runs", "/dead-letters", "/apis", "/reference", "/doctor", ...OBSERVE_API_PREFIXES, RATE_BUDGET_API_PREFIX]) {
    app.use(prefix, requireAuth());
    app.use(`${prefix}/*`, requireAuth());
  }
  app.route("/", api);
  app.route("/", observeApi(services));
  app.route("/", rateBudgetApi());
  app.route("/", dashboardRoutes(services));
  return app;
}
