/**
 * When to alert: a pure decision from a flow's previous alert state and one finished run.
 *
 * - `run_failed`: the run's outcome is `failed`.
 * - `consecutive_failures`: the N-th failed run since the last successful one (escalation: sent even inside
 *   the grouping period, once per streak).
 * - `dead_letters`: the run dead-lettered documents (partial or incomplete runs; a failed run's message
 *   carries its dead-letter count itself).
 * - `recovered`: the first successful (or partial) run after a failure alert was sent; sent even inside
 *   the period so the group learns the incident is over.
 *
 * Grouping: apart from the two bypasses above, a flow sends at most one message per period; what is held
 * back is counted in `suppressed` and announced by the next message ("另有 3 条告警被合并 / 3 more grouped").
 * `incomplete` (stopped on its budget, continues) and `skipped_locked` runs are not failures: they neither
 * extend nor break a streak. Dry runs never alert.
 *
 * The next state equals the previous one (same JSON) unless something meaningful changed, so the caller
 * writes KV only then (Workers KV Free: 1,000 writes a day).
 */
import * as z from "zod/mini";
import type { RunSummary } from "../engine/types.ts";

const ALERT_EVENTS = ["run_failed", "dead_letters", "consecutive_failures", "recovered"] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** A flow's alert state as stored (`alert:<flow>`); the type is the schema's. */
export const alertStateSchema = z.object({
  /** Epoch ms of the last message sent for the flow, null before the first. */
  lastSentAt: z.nullable(z.number()),
  lastEvent: z.nullable(z.enum(ALERT_EVENTS)),
  /** Failed runs since the last successful one. */
  consecutiveFailures: z.number().check(z.int(), z.gte(0)),
  /** A failure alert was sent and no recovery notice yet. */
  openIncident: z.boolean(),
  /** Events held back by grouping since the last message. */
  suppressed: z.number().check(z.int(), z.gte(0)),
});
export type AlertState = z.infer<typeof alertStateSchema>;

export interface AlertPolicyConfig {
  /** Grouping period in ms (0: every event is sent). */
  periodMs: number;
  /** Failed runs in a row that escalate (≥ 1). */
  consecutiveFailures: number;
}

export interface AlertDecision {
  /** The event to send now, if any. */
  send?: AlertEvent;
  /** The event this run produced but grouping held back. */
  held?: AlertEvent;
  /** Events grouped since the last message, to announce with `send`. */
  grouped: number;
  nextState: AlertState;
  /** nextState differs from the previous state: the caller persists it. */
  changed: boolean;
}

export const INITIAL_ALERT_STATE: Readonly<AlertState> = Object.freeze({
  lastSentAt: null,
  lastEvent: null,
  consecutiveFailures: 0,
  openIncident: false,
  suppressed: 0,
});

const FAILURE_EVENTS: ReadonlySet<AlertEvent> = new Set(["run_failed", "consecutive_failures"]);

/** `now` defaults to the run's finish time, so the decision depends on its inputs only. */
export function decideAlert(previous: AlertState | null, summary: RunSummary, config: AlertPolicyConfig, now: number = summary.finishedAt): AlertDecision {
  const prev: AlertState = { ...INITIAL_ALERT_STATE, ...previous };
  const next: AlertState = { ...prev };
  let candidate: AlertEvent | undefined;
  let bypassPeriod = false;

  if (summary.dryRun || summary.outcome === "skipped_locked") {
    return { grouped: 0, nextState: prev, changed: false };
  }
  switch (summary.outcome) {
    case "failed":
      next.consecutiveFailures = prev.consecutiveFailures + 1;
      if (next.consecutiveFailures === Math.max(1, config.consecutiveFailures)) {
        candidate = "consecutive_failures";
        bypassPeriod = true;
      } else {
        candidate = "run_failed";
      }
      break;
    case "success":
    case "partial":
      next.consecutiveFailures = 0;
      if (prev.openIncident) {
        candidate = "recovered";
        bypassPeriod = true;
      } else if (summary.counts.deadLettered > 0) {
        candidate = "dead_letters";
      }
      break;
    case "incomplete":
      if (summary.counts.deadLettered > 0) candidate = "dead_letters";
      break;
  }

  let send: AlertEvent | undefined;
  let held: AlertEvent | undefined;
  let grouped = 0;
  if (candidate) {
    const insidePeriod = prev.lastSentAt !== null && now - prev.lastSentAt < config.periodMs;
    if (bypassPeriod || !insidePeriod) {
      send = candidate;
      grouped = prev.suppressed;
      next.suppressed = 0;
      next.lastSentAt = now;
      next.lastEvent = candidate;
      if (FAILURE_EVENTS.has(candidate)) next.openIncident = true;
      if (candidate === "recovered") next.openIncident = false;
    } else {
      held = candidate;
      next.suppressed = prev.suppressed + 1;
    }
  }
  const decision: AlertDecision = { grouped, nextState: next, changed: !sameState(prev, next) };
  if (send) decision.send = send;
  if (held) decision.held = held;
  return decision;
}

/**
 * The state to keep when the message `decision` wanted to send was not delivered: as if grouping had held
 * it back (counted in `suppressed`), so the next run tries again and a pending recovery notice stays pending.
 */
export function undeliveredState(previous: AlertState | null, decision: AlertDecision): AlertState {
  const prev: AlertState = { ...INITIAL_ALERT_STATE, ...previous };
  return {
    ...decision.nextState,
    lastSentAt: prev.lastSentAt,
    lastEvent: prev.lastEvent,
    openIncident: prev.openIncident,
    suppressed: prev.suppressed + 1,
  };
}

export function sameState(a: AlertState, b: AlertState): boolean {
  return (
    a.lastSentAt === b.lastSentAt &&
    a.lastEvent === b.lastEvent &&
    a.consecutiveFailures === b.consecutiveFailures &&
    a.openIncident === b.openIncident &&
    a.suppressed === b.suppressed
  );
}
