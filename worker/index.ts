import { createApp } from "./app.ts";
import { readWorkerConfig, type WorkerConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { handleQueueBatch, type SyncMessage } from "./queue.ts";
import { runScheduled } from "./scheduled.ts";

export { AuthGuard } from "./auth-guard.ts";
export { FlowLock } from "./flow-lock.ts";
export { JstRateBudget } from "./rate-budget-do.ts";

const app = createApp();

// Configuration is validated once per isolate (env does not change within one).
let cached: { env: Env; config: WorkerConfig } | undefined;
function config(env: Env): WorkerConfig {
  if (cached?.env !== env) cached = { env, config: readWorkerConfig(env) };
  return cached.config;
}

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller.cron, controller.scheduledTime, env, config(env)));
  },
  async queue(batch, env, _ctx) {
    await handleQueueBatch(batch, env, config(env));
  },
} satisfies ExportedHandler<Env, SyncMessage>;
