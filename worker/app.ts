import { Hono } from "hono";
import { VERSION } from "../shared/version.ts";
import type { Env } from "./env.ts";

export function createApp() {
  const app = new Hono<{ Bindings: Env }>();

  // Unauthenticated liveness probe: reveals the version and nothing about configuration.
  app.get("/health", (c) => c.json({ status: "ok", version: VERSION }));

  app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } }, 404));
  return app;
}
