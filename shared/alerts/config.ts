/**
 * Alert settings from the configuration contract:
 *
 *   ALERT_WEBHOOK_URL           the robot / bot webhook (carries its token: treated as a secret)
 *   ALERT_KIND                  dingtalk | wecom | feishu | json (default: guessed from the URL's host, else json)
 *   ALERT_SECRET                DingTalk "加签" secret, Feishu "签名校验" secret, or the json kind's HMAC key
 *   ALERT_PERIOD_MINUTES        grouping period: a flow alerts at most once per period (default 30)
 *   ALERT_CONSECUTIVE_FAILURES  failed runs in a row that escalate, even inside the period (default 3)
 *   DASHBOARD_URL               link put into messages
 *
 * Error messages name the variable but never echo the URL or the secret.
 */
import { requireSecureUrl } from "../security/transport.ts";
import { ConfigError } from "../errors.ts";
import { DEFAULT_ZONE } from "../util/time.ts";

export const ALERT_KINDS = ["dingtalk", "wecom", "feishu", "json"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertConfig {
  url: string;
  kind: AlertKind;
  secret?: string;
  periodMs: number;
  consecutiveFailures: number;
  dashboardUrl?: string;
  /** Zone the message's times are written in (Asia/Shanghai, like the systems the bridge talks to). */
  timezone: string;
}

export const DEFAULT_PERIOD_MINUTES = 30;
export const DEFAULT_CONSECUTIVE_FAILURES = 3;

/** Robot hosts whose kind is known, so ALERT_KIND may be left out for them. */
const HOST_KINDS: Array<[RegExp, AlertKind]> = [
  [/(^|\.)dingtalk\.com$/i, "dingtalk"],
  [/^qyapi\.weixin\.qq\.com$/i, "wecom"],
  [/(^|\.)(feishu\.cn|larksuite\.com)$/i, "feishu"],
];

/** The alert configuration, or null when ALERT_WEBHOOK_URL is not set (alerts off). */
export function alertConfigFromEnv(env: Record<string, string | undefined>): AlertConfig | null {
  const raw = env.ALERT_WEBHOOK_URL?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("ALERT_WEBHOOK_URL is not a valid URL", {
      hint: "paste the robot's full webhook address, e.g. https://oapi.dingtalk.com/robot/send?access_token=…",
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`ALERT_WEBHOOK_URL must be an http(s) URL (got scheme "${url.protocol}")`, {
      hint: "paste the robot's full webhook address starting with https://",
    });
  }
  // The URL carries the robot's token and the body the run's errors: https unless loopback or explicitly allowed.
  requireSecureUrl(url, "ALERT_WEBHOOK_URL", env);

  let kind: AlertKind;
  const rawKind = env.ALERT_KIND?.trim().toLowerCase();
  if (rawKind) {
    const aliases: Record<string, AlertKind> = { wechat: "wecom", weixin: "wecom", wxwork: "wecom", lark: "feishu", webhook: "json" };
    const resolved = (ALERT_KINDS as readonly string[]).includes(rawKind) ? (rawKind as AlertKind) : aliases[rawKind];
    if (!resolved) {
      throw new ConfigError(`ALERT_KIND "${env.ALERT_KIND}" is not one of ${ALERT_KINDS.join(", ")}`, {
        hint: "set ALERT_KIND to dingtalk (钉钉), wecom (企业微信), feishu (飞书) or json (any other webhook)",
      });
    }
    kind = resolved;
  } else {
    kind = HOST_KINDS.find(([pattern]) => pattern.test(url.hostname))?.[1] ?? "json";
  }

  const config: AlertConfig = {
    url: url.toString(),
    kind,
    periodMs: wholeNumber(env, "ALERT_PERIOD_MINUTES", DEFAULT_PERIOD_MINUTES, 0, 7 * 24 * 60) * 60_000,
    consecutiveFailures: wholeNumber(env, "ALERT_CONSECUTIVE_FAILURES", DEFAULT_CONSECUTIVE_FAILURES, 1, 1000),
    timezone: DEFAULT_ZONE,
  };
  // 企业微信 group robots have no signing: a secret set for them is not used.
  if (env.ALERT_SECRET && kind !== "wecom") config.secret = env.ALERT_SECRET;
  const dashboard = env.DASHBOARD_URL?.trim();
  if (dashboard) {
    try {
      config.dashboardUrl = new URL(dashboard).toString();
    } catch {
      throw new ConfigError("DASHBOARD_URL is not a valid URL", { hint: "use the Worker's address, e.g. https://jst-bridge.example.workers.dev/" });
    }
  }
  return config;
}

function wholeNumber(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max} (got "${raw}")`, {
      hint: `unset it to use the default (${fallback})`,
    });
  }
  return Number(raw);
}
