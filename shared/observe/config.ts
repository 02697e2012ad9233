/**
 * A flow's observation settings (issue 17), all optional:
 *
 *   "approval": "required",                       // hold writes as a plan until approved (shared/observe/approval.ts)
 *   "observe": {
 *     "freshnessObjectiveMinutes": 10,            // alert when the 24 h p95 lag exceeds it
 *     "watermarkStallMinutes": 30,                // alert when the watermark stops advancing longer (default 3 × schedule interval)
 *     "reconcile": { "cron": "30 18 * * *", "days": 2 }   // scheduled reconcile (default daily, the 2 days before)
 *   }
 */
import * as z from "zod/mini";

export const reconcileScheduleSchema = z.strictObject({
  /** UTC cron of the scheduled reconcile; "off" disables it. Default: daily at 18:30 UTC (02:30 Asia/Shanghai). */
  cron: z._default(z.string().check(z.minLength(1)), "30 18 * * *"),
  /** Days compared, ending yesterday in the flow's zone. */
  days: z._default(z.number().check(z.int(), z.gte(1), z.lte(31)), 2),
  /** Count extra target documents as drift too. */
  strict: z._default(z.boolean(), false),
});

export const observeSchema = z.strictObject({
  freshnessObjectiveMinutes: z.optional(z.number().check(z.positive())),
  watermarkStallMinutes: z.optional(z.number().check(z.positive())),
  reconcile: z.optional(reconcileScheduleSchema),
});

export const approvalSchema = z.enum(["required", "none"]);

export type ObserveSettings = z.infer<typeof observeSchema>;

export const DEFAULT_RECONCILE = reconcileScheduleSchema.parse({});
