/**
 * After a run: read the flow's alert state (`alert:<flow>`), decide (policy.ts), send the message
 * (formats.ts) and store the new state only when it changed. Alerts are a side channel: nothing here
 * throws or fails the run. A webhook that errors or hangs is retried once, then logged; since the
 * webhook URL carries the robot's token, logs and results name only its host.
 */
import type { RunSummary } from "../engine/types.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../ports.ts";
import { silentLogger, systemClock } from "../ports.ts";
import { Redactor } from "../security/redact.ts";
import { decodeStored } from "../state/kv-helpers.ts";
import { stateKeys } from "../state/keys.ts";
import { type AlertConfig, alertConfigFromEnv, type AlertKind } from "./config.ts";
import { type AlertMessage, buildWebhookRequest, createRedactor, type WebhookRequest } from "./formats.ts";
import {
  type AlertDecision,
  type AlertEvent,
  type AlertState,
  alertStateSchema,
  decideAlert,
  INITIAL_ALERT_STATE,
  sameState,
  undeliveredState,
} from "./policy.ts";

export interface NotifyDeps {
  /** The configuration contract's variables (ALERT_WEBHOOK_URL, ALERT_KIND, ALERT_SECRET …). */
  env: Record<string, string | undefined>;
  kv: KeyValueStore;
  fetch: FetchLike;
  clock?: Clock;
  logger?: Logger;
  /** One attempt's time limit in ms (default 10 s). */
  timeoutMs?: number;
  /** Wait before the single retry in ms (default 1 s, on the clock). */
  retryDelayMs?: number;
  /** The deployment's redactor (tokens learned during the run); default: one built from env's secret-named values. */
  redactor?: Redactor;
}

/**
 * What notifyRun did:
 * - disabled: no ALERT_WEBHOOK_URL; ignored: dry run or skipped run (no KV access)
 * - quiet: nothing to send; held: grouped into a later message
 * - sent: delivered; undelivered: the webhook failed twice (kept for the next run to announce)
 * - error: bad alert configuration or an unexpected problem (logged)
 */
export type NotifyStatus = "disabled" | "ignored" | "quiet" | "held" | "sent" | "undelivered" | "error";

export interface NotifyResult {
  status: NotifyStatus;
  kind?: AlertKind;
  /** The event sent, held back or not delivered. */
  event?: AlertEvent;
  /** Earlier events announced with the one sent. */
  grouped?: number;
  /** HTTP attempts made (0–2). */
  attempts: number;
  stateWritten: boolean;
  /** Why delivery failed or what went wrong; never contains the webhook URL, its token or the secret. */
  reason?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_DELAY_MS = 1_000;
/** A flow's alert state outlives quiet months but not a removed flow forever. */
const STATE_TTL_SECONDS = 90 * 24 * 3600;

export async function notifyRun(runSummary: RunSummary, deps: NotifyDeps): Promise<NotifyResult> {
  // The message body quotes the run's error, which can quote an upstream that echoed a token: redact it all first.
  const central = deps.redactor ?? Redactor.fromEnv(deps.env);
  const summary = central.deep(runSummary);
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  let config: AlertConfig | null;
  try {
    config = alertConfigFromEnv(deps.env);
  } catch (error) {
    // ConfigError messages name the variable, never its value.
    const reason = error instanceof Error ? error.message : "invalid alert configuration";
    logger.error("alerts: configuration invalid; no alert sent", { flowId: summary.flowId, reason });
    return { status: "error", attempts: 0, stateWritten: false, reason };
  }
  if (!config) return { status: "disabled", attempts: 0, stateWritten: false };
  central.add(config.url).add(config.secret);
  const local = createRedactor([config.url, config.secret]);
  const redact = (text: string) => central.redact(local(text));
  if (summary.dryRun || summary.outcome === "skipped_locked") return { status: "ignored", kind: config.kind, attempts: 0, stateWritten: false };

  try {
    const key = stateKeys.alert(summary.flowId);
    const previous = await readState(deps.kv, key, logger);
    const decision = decideAlert(previous, summary, config, clock.now());
    let state = decision.nextState;
    const result: NotifyResult = { status: "quiet", kind: config.kind, attempts: 0, stateWritten: false };

    if (decision.send) {
      const delivery = await deliver(config, alertMessage(summary, decision, previous, config), deps, clock);
      result.event = decision.send;
      result.grouped = decision.grouped;
      result.attempts = delivery.attempts;
      const host = new URL(config.url).hostname;
      if (delivery.ok) {
        result.status = "sent";
        logger.info("alerts: sent", { flowId: summary.flowId, event: decision.send, kind: config.kind, host, attempts: delivery.attempts });
      } else {
        result.status = "undelivered";
        result.reason = redact(delivery.reason);
        state = undeliveredState(previous, decision);
        logger.warn("alerts: webhook failed; the next alert will include this one", {
          flowId: summary.flowId,
          event: decision.send,
          kind: config.kind,
          host,
          attempts: delivery.attempts,
          reason: result.reason,
        });
      }
    } else if (decision.held) {
      result.status = "held";
      result.event = decision.held;
    }

    if (!sameState({ ...INITIAL_ALERT_STATE, ...previous }, state)) {
      try {
        await deps.kv.put(key, JSON.stringify(state), { expirationTtl: STATE_TTL_SECONDS });
        result.stateWritten = true;
      } catch (error) {
        logger.warn("alerts: could not save alert state", { flowId: summary.flowId, reason: redact(describe(error)) });
      }
    }
    return result;
  } catch (error) {
    const reason = redact(describe(error));
    logger.error("alerts: failed", { flowId: summary.flowId, reason });
    return { status: "error", kind: config.kind, attempts: 0, stateWritten: false, reason };
  }
}

async function readState(kv: KeyValueStore, key: string, logger: Logger): Promise<AlertState | null> {
  const raw = await kv.get(key);
  if (raw === null) return null;
  try {
    return decodeStored(key, raw, alertStateSchema);
  } catch (error) {
    // A broken state only costs one alert's grouping; start over rather than stop alerting.
    logger.warn("alerts: stored alert state unreadable; starting afresh", { key, reason: describe(error) });
    return null;
  }
}

export function alertMessage(summary: RunSummary, decision: AlertDecision, previous: AlertState | null, config: AlertConfig): AlertMessage {
  const event = decision.send ?? decision.held ?? "run_failed";
  const message: AlertMessage = {
    event,
    flowId: summary.flowId,
    runId: summary.runId,
    trigger: summary.trigger,
    outcome: summary.outcome,
    counts: summary.counts,
    at: summary.finishedAt,
    // A recovery reports the streak it ended; failures the streak so far.
    consecutiveFailures: event === "recovered" ? (previous?.consecutiveFailures ?? 0) : decision.nextState.consecutiveFailures,
    grouped: decision.grouped,
    timezone: config.timezone,
  };
  if (summary.error) message.error = summary.error;
  if (summary.deadLetterCodes) message.deadLetterCodes = summary.deadLetterCodes;
  if (summary.corrections?.length) message.corrections = summary.corrections.map((c) => `${c.externalKey} (${c.sourceId}, ${c.status})`);
  if (config.dashboardUrl) message.dashboardUrl = config.dashboardUrl;
  return message;
}

interface Delivery {
  ok: boolean;
  attempts: number;
  reason: string;
}

/** POSTs the message; one retry for network errors, timeouts, 429 and 5xx (re-signed, since signatures carry the time). */
export async function deliver(config: AlertConfig, message: AlertMessage, deps: NotifyDeps, clock: Clock): Promise<Delivery> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let reason = "";
  for (let attempt = 1; attempt <= 2; attempt++) {
    const request = await buildWebhookRequest(config.kind, config.url, message, { secret: config.secret, now: clock.now() });
    const outcome = await postOnce(deps.fetch, request, config.kind, timeoutMs);
    if (outcome.ok) return { ok: true, attempts: attempt, reason: "" };
    reason = outcome.reason;
    if (!outcome.retryable || attempt === 2) return { ok: false, attempts: attempt, reason };
    await clock.sleep(deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
  }
  return { ok: false, attempts: 2, reason };
}

interface PostOutcome {
  ok: boolean;
  retryable: boolean;
  reason: string;
}

async function postOnce(fetchPort: FetchLike, request: WebhookRequest, kind: AlertKind, timeoutMs: number): Promise<PostOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  // Settles the attempt even when a fetch port ignores the signal (an in-process app).
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
  });
  aborted.catch(() => undefined);
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const exchange = async () => {
      const response = await fetchPort(request.url, { method: "POST", headers: request.headers, body: request.body, signal: controller.signal });
      return { status: response.status, text: await response.text() };
    };
    const { status, text } = await Promise.race([exchange(), aborted]);
    return judge(kind, status, text);
  } catch (error) {
    if (timedOut) return { ok: false, retryable: true, reason: `no answer within ${timeoutMs} ms` };
    // Only the error's class: runtime messages about a failed fetch may quote the URL.
    return { ok: false, retryable: true, reason: `network error (${error instanceof Error ? error.name : typeof error})` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Robots answer HTTP 200 with their own code: DingTalk and WeCom `errcode` (0 = ok), Feishu `code`
 * (0 = ok; older answers also carry `StatusCode`). A 2xx body without such a field counts as delivered.
 */
function judge(kind: AlertKind, status: number, text: string): PostOutcome {
  if (status === 429 || status >= 500) return { ok: false, retryable: true, reason: `HTTP ${status}` };
  if (status < 200 || status >= 300) return { ok: false, retryable: false, reason: `HTTP ${status}${robotError(kind, text)}` };
  const detail = robotError(kind, text);
  return detail ? { ok: false, retryable: false, reason: `HTTP ${status}${detail}` } : { ok: true, retryable: false, reason: "" };
}

/** ": errcode 310000 sign not match" when the robot's body reports an error, else "". */
function robotError(kind: AlertKind, text: string): string {
  if (kind === "json") return "";
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object") return "";
    body = parsed as Record<string, unknown>;
  } catch {
    return "";
  }
  const code = kind === "feishu" ? (body.code ?? body.StatusCode) : body.errcode;
  if (code === undefined || code === null || code === 0 || code === "0") return "";
  const msg = kind === "feishu" ? (body.msg ?? body.StatusMessage) : body.errmsg;
  return `: ${kind === "feishu" ? "code" : "errcode"} ${String(code)} ${String(msg ?? "").slice(0, 200)}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
