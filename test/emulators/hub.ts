/**
 * One loopback server hosting any number of isolated emulator stacks, so test files running in parallel
 * inside workerd each get their own Jushuitan, T+ and KIS (created over HTTP: POST /__hub/stacks).
 * A stack's systems live under /s/<id>/<system>/…; the prefix is stripped before the emulator sees the request.
 */
import { Hono } from "hono";
import { createEmulatorStack, type EmulatorStack, warehouseReferenceRows } from "./stack.ts";

export interface HubStackRequest {
  /** Documents per Jushuitan path. */
  documents?: Record<string, number>;
  /** Days of history before now that the documents span. */
  days?: number;
  seed?: number;
  /** Jushuitan rate limits (null disables); default the real 5/s and 100/min. */
  limits?: { perSecond?: number | null; perMinute?: number | null };
  tplusRateLimit?: { max: number; windowMs: number };
  /** KIS: longest a "never answer" fault holds a request (it ends early when the client goes away); default 60 s. */
  kisMaxHoldMs?: number;
  /** KIS: an account that accepts a repeated FBillNo (chaos class kis.noUniqueBillNo). */
  kisNoUniqueBillNo?: boolean;
  /** Jushuitan's clock minus the host's, ms (chaos class jst.clockOffset). */
  jstClockOffsetMs?: number;
  /** Rows become visible to Jushuitan queries this long after their `modified` (chaos class jst.visibilityLag). */
  jstVisibilityLagMs?: number;
  /** Paths the lag applies to (default all). */
  jstVisibilityLagPaths?: string[];
}

export function createEmulatorHub(baseUrl: () => string) {
  const stacks = new Map<string, EmulatorStack>();
  let next = 1;
  const app = new Hono();

  app.post("/__hub/stacks", async (c) => {
    const body = ((await c.req.json().catch(() => ({}))) ?? {}) as HubStackRequest;
    const id = `s${next++}`;
    const now = Date.now();
    const days = body.days ?? 3;
    const stack = createEmulatorStack({
      jushuitan: {
        seed: body.seed ?? 7,
        documents: body.documents ?? {},
        range: { from: now - days * 86_400_000, to: now - 2 * 3_600_000 },
        ...(body.limits ? { limits: body.limits } : {}),
        ...(body.jstClockOffsetMs ? { clockOffsetMs: body.jstClockOffsetMs } : {}),
        ...(body.jstVisibilityLagMs ? { visibilityLagMs: body.jstVisibilityLagMs } : {}),
        ...(body.jstVisibilityLagPaths ? { visibilityLagPaths: body.jstVisibilityLagPaths } : {}),
      },
      ...(body.tplusRateLimit ? { tplus: { rateLimit: body.tplusRateLimit } } : {}),
      ...(body.kisMaxHoldMs || body.kisNoUniqueBillNo
        ? { kis: { ...(body.kisMaxHoldMs ? { maxHoldMs: body.kisMaxHoldMs } : {}), ...(body.kisNoUniqueBillNo ? { enforceUniqueBillNo: false } : {}) } }
        : {}),
    });
    stacks.set(id, stack);
    const prefix = `${baseUrl()}/s/${id}`;
    const urls = { jushuitan: `${prefix}/jushuitan`, tplus: `${prefix}/tplus`, kis: `${prefix}/kis` };
    return c.json({ id, urls, env: stack.env(urls), warehouses: warehouseReferenceRows() });
  });

  app.delete("/__hub/stacks/:id", (c) => c.json({ deleted: stacks.delete(c.req.param("id")) }));

  // Test settings from the environment of the process running the hub (only CHAOS_* names: never secrets),
  // for workerd test files, which have no process.env (e.g. CHAOS_RUNS / CHAOS_SEED for test/worker/chaos.test.ts).
  app.get("/__hub/settings", (c) => {
    const vars = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
    return c.json(Object.fromEntries(Object.entries(vars).filter(([k, v]) => k.startsWith("CHAOS_") && v !== undefined)));
  });

  app.all("/s/:id/:system/*", async (c) => {
    const stack = stacks.get(c.req.param("id"));
    const system = c.req.param("system") as "jushuitan" | "tplus" | "kis";
    if (!stack || !(system in stack)) return c.json({ error: "no such emulator stack or system" }, 404);
    const url = new URL(c.req.url);
    url.pathname = url.pathname.slice(`/s/${c.req.param("id")}/${system}`.length) || "/";
    return stack[system].app.fetch(new Request(url, c.req.raw));
  });

  return { app, stacks };
}
