/**
 * Alerts about a flow's state (issue 17), sent through the configured robot (ALERT_WEBHOOK_URL …) and decided
 * apart from run outcomes: a stalled watermark, lag over the objective, reconcile drift.
 *
 * Per flow, `alert-obs:<flow>` remembers which conditions are open and when each was last sent: a condition is
 * sent when it appears and again once per grouping period (ALERT_PERIOD_MINUTES) while it lasts; its clearing is
 * sent once ("已恢复 / cleared"). The key is written only when that changes (KV Free: 1,000 writes a day).
 */
import { alertConfigFromEnv } from "../alerts/config.ts";
import type { AlertMessage, ObservationEvent } from "../alerts/formats.ts";
import { deliver, type NotifyDeps } from "../alerts/notify.ts";
import { Redactor } from "../security/redact.ts";
import { systemClock, silentLogger } from "../ports.ts";

export interface Observation {
  event: ObservationEvent;
  message: string;
}

type ObservationState = Partial<Record<ObservationEvent, { since: number; sentAt: number }>>;

const key = (flowId: string) => `alert-obs:${flowId}`;

export interface ObservationResult {
  sent: ObservationEvent[];
  cleared: ObservationEvent[];
  stateWritten: boolean;
}

/**
 * Sends what `current` holds that is new or due, and the clearing of what `events` covers but `current` no longer
 * holds (only the events this check is about: the freshness check does not clear a drift).
 */
export async function notifyObservations(
  flowId: string,
  events: readonly ObservationEvent[],
  current: readonly Observation[],
  deps: NotifyDeps,
): Promise<ObservationResult> {
  const result: ObservationResult = { sent: [], cleared: [], stateWritten: false };
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  let config;
  try {
    config = alertConfigFromEnv(deps.env);
  } catch {
    return result; // notifyRun already logs a bad configuration on every run
  }
  if (!config) return result;
  const redactor = deps.redactor ?? Redactor.fromEnv(deps.env);
  redactor.add(config.url).add(config.secret);
  let state: ObservationState = {};
  try {
    const raw = await deps.kv.get(key(flowId));
    if (raw) state = JSON.parse(raw) as ObservationState;
  } catch {
    state = {};
  }
  const before = JSON.stringify(state);
  const now = clock.now();
  const send = async (event: ObservationEvent, details: string[]) => {
    const message: AlertMessage = {
      event,
      details: details.map((d) => redactor.redact(d)),
      flowId,
      runId: "",
      trigger: "cron",
      outcome: "success",
      counts: { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 },
      at: now,
      consecutiveFailures: 0,
      grouped: 0,
      timezone: config.timezone,
      ...(config.dashboardUrl ? { dashboardUrl: config.dashboardUrl } : {}),
    };
    const delivery = await deliver(config, message, deps, clock);
    if (!delivery.ok) logger.warn("alerts: observation not delivered", { flowId, event, reason: redactor.redact(delivery.reason) });
    return delivery.ok;
  };
  for (const o of current) {
    const open = state[o.event];
    if (open && now - open.sentAt < config.periodMs) continue;
    if (await send(o.event, [o.message])) {
      state[o.event] = { since: open?.since ?? now, sentAt: now };
      result.sent.push(o.event);
    }
  }
  for (const event of events) {
    if (!state[event] || current.some((o) => o.event === event)) continue;
    if (await send(event, [`已恢复 / cleared (since ${new Date(state[event]!.since).toISOString()})`])) {
      delete state[event];
      result.cleared.push(event);
    }
  }
  if (JSON.stringify(state) !== before) {
    try {
      await deps.kv.put(key(flowId), JSON.stringify(state), { expirationTtl: 90 * 86_400 });
      result.stateWritten = true;
    } catch (error) {
      logger.warn("alerts: could not save observation state", { flowId, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return result;
}
