/**
 * POST /rate-budget/jushuitan/reserve and /pause (bearer token or session, like every API route): a CLI or Action
 * whose state is this Worker's (--state kv) borrows from the app's JstRateBudget object instead of keeping a
 * window of its own, so a backfill on an office PC and the Worker's cron runs wait on one budget
 * (shared/http/remote-rate-budget.ts is the caller). The limits are the Worker's (JST_RATE_*), never the caller's.
 */
import { Hono } from "hono/tiny";
import * as z from "zod/mini";
import { BridgeError } from "../shared/errors.ts";
import { jstRateFromEnv, jstRateLimits } from "../shared/http/rate-budget.ts";
import { rateWindowKey } from "../shared/http/persisted-rate-budget.ts";
import { envVars } from "./config.ts";
import { type AppEnv, jsonBody, parseWith } from "./http.ts";
import { DO_RATE_MARGIN_MS } from "./rate-budget-do.ts";

export const RATE_BUDGET_API_PREFIX = "/rate-budget";

const reserveBody = z.strictObject({
  settles: z._default(z.array(z.strictObject({ at: z.number(), elapsedMs: z.number().check(z.nonnegative()) })).check(z.maxLength(100)), []),
});
const pauseBody = z.strictObject({ ms: z.number().check(z.int(), z.positive(), z.lte(5 * 60_000)) });

function objectFor(env: AppEnv["Bindings"]) {
  const vars = envVars(env);
  const appKey = vars.JST_APP_KEY?.trim();
  if (!appKey || !env.RATE_BUDGET) {
    throw new BridgeError("not_configured", "this Worker has no Jushuitan rate budget to lend", {
      hint: "set JST_APP_KEY and keep the RATE_BUDGET Durable Object binding (wrangler.toml); or run the CLI without JST_RATE_BUDGET_URL",
    });
  }
  return { stub: env.RATE_BUDGET.get(env.RATE_BUDGET.idFromName(rateWindowKey(appKey))), limits: jstRateLimits(jstRateFromEnv(vars)) };
}

export function rateBudgetApi() {
  const api = new Hono<AppEnv>();
  api.post(`${RATE_BUDGET_API_PREFIX}/jushuitan/reserve`, async (c) => {
    const body = parseWith(reserveBody, await jsonBody(c), "body");
    const { stub, limits } = objectFor(c.env);
    return c.json(await stub.reserve(limits, DO_RATE_MARGIN_MS, body.settles));
  });
  api.post(`${RATE_BUDGET_API_PREFIX}/jushuitan/pause`, async (c) => {
    const body = parseWith(pauseBody, await jsonBody(c), "body");
    await objectFor(c.env).stub.pause(body.ms);
    return c.json({ paused: true });
  });
  return api;
}
