/**
 * Alert messages and the webhook requests that carry them, one builder per robot API:
 *
 *   dingtalk  钉钉自定义机器人  POST {"msgtype":"markdown","markdown":{"title","text"}}; "加签": the URL gets
 *             timestamp (ms) and sign = base64(HMAC-SHA256(key = secret, timestamp + "\n" + secret))
 *   wecom     企业微信群机器人  POST {"msgtype":"markdown","markdown":{"content"}}; content ≤ 4096 UTF-8 bytes
 *   feishu    飞书自定义机器人  POST {"msg_type":"interactive","card":{…}}; "签名校验": the body gets timestamp
 *             (seconds, as text) and sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = ""))
 *   json      any other webhook: {event, flowId, runId, outcome, counts, error, at, dashboardUrl, …}; with a
 *             secret, headers x-jst-bridge-timestamp and x-jst-bridge-signature = "sha256=" + hex(HMAC-SHA256(
 *             key = secret, timestamp + "." + body)) (this project's own convention)
 *
 * Messages are Chinese with the key English term ("同步失败 / sync failed"). They carry the flow, the run,
 * the counts and the run's error (already secret-free by the core's rules); the webhook URL, its token and
 * the signing secret are scrubbed from every text as a second line of defence. Signing uses WebCrypto only.
 */
import type { RunSummary } from "../engine/types.ts";
import { formatInZone } from "../util/time.ts";
import type { AlertKind } from "./config.ts";
import type { AlertEvent } from "./policy.ts";

/** Alerts about a flow's state rather than one run (shared/observe: freshness, reconcile drift). */
export type ObservationEvent = "watermark_stalled" | "lag_objective" | "reconcile_drift";

export interface AlertMessage {
  event: AlertEvent | ObservationEvent;
  /** Observation alerts: their facts, shown instead of the run's counts. */
  details?: string[];
  flowId: string;
  runId: string;
  trigger: RunSummary["trigger"];
  outcome: RunSummary["outcome"];
  counts: RunSummary["counts"];
  error?: RunSummary["error"];
  /** When the run finished (epoch ms). */
  at: number;
  /** Failed runs in a row (for `recovered`: how many preceded the recovery). */
  consecutiveFailures: number;
  /** Earlier events held back by grouping and announced with this message. */
  grouped: number;
  dashboardUrl?: string;
  timezone: string;
  /** Dead letters of the run by class (period_closed, change_unknown …: docs/changes.md). */
  deadLetterCodes?: Record<string, number>;
  /** Correcting documents of the run (docs/changes.md). */
  corrections?: string[];
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface SigningOptions {
  secret?: string;
  /** Epoch ms the signature's timestamp is taken from. */
  now: number;
}

/** 企业微信 markdown.content limit, in UTF-8 bytes (documented). */
export const WECOM_MAX_CONTENT_BYTES = 4096;
/** Our own cap for the other kinds' text: far below Feishu's 20 KB request limit and any DingTalk limit. */
export const MAX_TEXT_BYTES = 8000;
/** Longest run error and hint quoted in a message, in characters. */
const MAX_ERROR_CHARS = 1000;
const MAX_HINT_CHARS = 500;

const EVENT_TITLES: Record<AlertEvent | ObservationEvent, (m: AlertMessage) => string> = {
  watermark_stalled: () => "水位停止前进 / watermark stalled",
  lag_objective: () => "同步延迟超标 / lag above objective",
  reconcile_drift: () => "对账差异 / reconcile drift",
  run_failed: () => "同步失败 / sync failed",
  consecutive_failures: (m) => `连续失败 ${m.consecutiveFailures} 次 / ${m.consecutiveFailures} consecutive failures`,
  dead_letters: (m) => `新增 ${m.counts.deadLettered} 条死信 / ${m.counts.deadLettered} new dead letters`,
  recovered: () => "已恢复 / recovered",
};

export function alertTitle(message: AlertMessage): string {
  return `[jst-bridge] ${EVENT_TITLES[message.event](message)} · ${message.flowId}`;
}

/**
 * The message as lines of light markdown that all three robots render (bold, links). Short facts come
 * first and the run's error last, so a cut at a size limit only shortens the error.
 */
export function alertLines(message: AlertMessage): string[] {
  const lines: string[] = [];
  if (message.details) {
    lines.push(`**流程 flow**: ${plain(message.flowId)}`);
    lines.push(`**时间 time**: ${formatInZone(message.at, "YYYY-MM-DD HH:mm:ss", message.timezone)} (${message.timezone})`);
    for (const d of message.details) lines.push(plain(d, 400));
    if (message.dashboardUrl) lines.push(`[打开控制台 / open dashboard](${message.dashboardUrl})`);
    return lines;
  }
  const c = message.counts;
  lines.push(`**流程 flow**: ${plain(message.flowId)}`);
  lines.push(`**运行 run**: ${plain(message.runId)} (${message.trigger})`);
  lines.push(`**结果 outcome**: ${message.outcome}`);
  lines.push(`**时间 time**: ${formatInZone(message.at, "YYYY-MM-DD HH:mm:ss", message.timezone)} (${message.timezone})`);
  lines.push(
    `**计数 counts**: 读取 read ${c.read} · 写入 written ${c.written} · 已存在 existing ${c.alreadyExisted} · 跳过 skipped ${c.skipped} · 死信 dead letters ${c.deadLettered}`,
  );
  if (message.event === "consecutive_failures" || (message.event === "run_failed" && message.consecutiveFailures > 1)) {
    lines.push(`**连续失败 consecutive failures**: ${message.consecutiveFailures}`);
  }
  if (message.event === "recovered" && message.consecutiveFailures > 0) {
    lines.push(`恢复前连续失败 ${message.consecutiveFailures} 次 / recovered after ${message.consecutiveFailures} failed runs`);
  }
  if (message.deadLetterCodes && Object.keys(message.deadLetterCodes).length) {
    lines.push(
      `**死信类别 classes**: ${Object.entries(message.deadLetterCodes)
        .map(([code, n]) => `${plain(code)} ${n}`)
        .join(" · ")}`,
    );
  }
  if (message.corrections?.length) {
    lines.push(
      `**更正单据 corrections**: ${message.corrections
        .slice(0, 10)
        .map((k) => plain(k))
        .join(", ")}${message.corrections.length > 10 ? ` … (+${message.corrections.length - 10})` : ""}`,
    );
  }
  if (message.counts.deadLettered > 0) {
    lines.push(`死信需要处理：请在控制台查看并重放 / dead letters need attention: review and replay them in the dashboard`);
  }
  if (message.grouped > 0) lines.push(`另有 ${message.grouped} 条告警被合并 / ${message.grouped} more grouped`);
  if (message.dashboardUrl) lines.push(`[打开控制台 / open dashboard](${message.dashboardUrl})`);
  if (message.error && message.event !== "recovered") {
    lines.push(`**错误 error**: [${plain(message.error.code)}] ${plain(message.error.message, MAX_ERROR_CHARS)}`);
    if (message.error.hint) lines.push(`**建议 hint**: ${plain(message.error.hint, MAX_HINT_CHARS)}`);
  }
  return lines;
}

/** One line of text, capped, with the characters that start robot markup (`<@user>`, `<at id=all>`, `<font>`) neutralised. */
function plain(text: string, maxChars = 200): string {
  const flat = String(text)
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/</g, "‹")
    .replace(/>/g, "›")
    .trim();
  const points = Array.from(flat);
  return points.length > maxChars ? `${points.slice(0, maxChars).join("")}…` : flat;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes on a code point boundary (never inside a surrogate pair, so
 * the result is valid UTF-8), ending with `ellipsis` when something was cut.
 */
export function truncateUtf8(text: string, maxBytes: number, ellipsis = "…"): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const budget = maxBytes - utf8Bytes(ellipsis);
  if (budget < 0) return "";
  let used = 0;
  let end = 0;
  for (const point of text) {
    const size = codePointBytes(point.codePointAt(0)!);
    if (used + size > budget) break;
    used += size;
    end += point.length;
  }
  return text.slice(0, end) + ellipsis;
}

export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (const point of text) bytes += codePointBytes(point.codePointAt(0)!);
  return bytes;
}

function codePointBytes(cp: number): number {
  // A lone surrogate is written as U+FFFD (3 bytes) by TextEncoder.
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Replaces every occurrence of the given secrets (and the webhook URL's token parts) with "***". */
export function createRedactor(secrets: Array<string | undefined>): (text: string) => string {
  const parts = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    parts.add(secret);
    let url: URL | undefined;
    try {
      url = new URL(secret);
    } catch {
      url = undefined;
    }
    if (url) {
      // Robot tokens live in the query (access_token, key) or the path (Feishu /hook/<token>).
      for (const value of url.searchParams.values()) if (value.length >= 4) parts.add(value).add(encodeURIComponent(value));
      for (const segment of url.pathname.split("/")) if (segment.length >= 16 || (segment.length >= 8 && /\d/.test(segment))) parts.add(segment);
      if (url.username.length >= 6) parts.add(url.username);
      if (url.password) parts.add(url.password);
      if (url.search) parts.add(url.search);
      parts.add(url.toString());
    }
  }
  // Longest first, so a URL is replaced whole before its pieces.
  const ordered = [...parts].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = String(text);
    for (const part of ordered) out = out.split(part).join("***");
    return out;
  };
}

export function dingtalkBody(message: AlertMessage, redact: (t: string) => string = (t) => t) {
  // DingTalk markdown needs a blank line for a line break.
  const text = truncateUtf8(redact([`### ${alertTitle(message)}`, ...alertLines(message)].join("\n\n")), MAX_TEXT_BYTES);
  return { msgtype: "markdown", markdown: { title: redact(alertTitle(message)), text } };
}

export function wecomBody(message: AlertMessage, redact: (t: string) => string = (t) => t) {
  const color = message.event === "recovered" ? "info" : "warning";
  const content = truncateUtf8(
    redact([`### <font color="${color}">${alertTitle(message)}</font>`, ...alertLines(message)].join("\n")),
    WECOM_MAX_CONTENT_BYTES,
  );
  return { msgtype: "markdown", markdown: { content } };
}

export function feishuBody(message: AlertMessage, redact: (t: string) => string = (t) => t) {
  const template = message.event === "recovered" ? "green" : message.event === "dead_letters" ? "orange" : "red";
  return {
    msg_type: "interactive",
    card: {
      config: { wide_screen_mode: true },
      header: { template, title: { tag: "plain_text", content: redact(alertTitle(message)) } },
      elements: [{ tag: "div", text: { tag: "lark_md", content: truncateUtf8(redact(alertLines(message).join("\n")), MAX_TEXT_BYTES) } }],
    },
  };
}

export function jsonBody(message: AlertMessage, redact: (t: string) => string = (t) => t) {
  return {
    source: "jst-bridge",
    event: message.event,
    flowId: message.flowId,
    runId: message.runId,
    trigger: message.trigger,
    outcome: message.outcome,
    counts: message.counts,
    error: message.error
      ? { code: message.error.code, message: redact(message.error.message), ...(message.error.hint ? { hint: redact(message.error.hint) } : {}) }
      : null,
    at: new Date(message.at).toISOString(),
    dashboardUrl: message.dashboardUrl ?? null,
    consecutiveFailures: message.consecutiveFailures,
    grouped: message.grouped,
    title: redact(alertTitle(message)),
    text: truncateUtf8(redact(alertLines(message).join("\n")), MAX_TEXT_BYTES),
  };
}

/** The POST to send for `message`, signed when a secret is configured. */
export async function buildWebhookRequest(kind: AlertKind, webhookUrl: string, message: AlertMessage, signing: SigningOptions): Promise<WebhookRequest> {
  const redact = createRedactor([webhookUrl, signing.secret]);
  const headers = { "content-type": "application/json; charset=utf-8" };
  switch (kind) {
    case "dingtalk": {
      const url = new URL(webhookUrl);
      if (signing.secret) {
        const timestamp = String(Math.floor(signing.now));
        url.searchParams.set("timestamp", timestamp);
        url.searchParams.set("sign", await dingtalkSign(signing.secret, timestamp));
      }
      return { url: url.toString(), headers, body: JSON.stringify(dingtalkBody(message, redact)) };
    }
    case "wecom":
      return { url: webhookUrl, headers, body: JSON.stringify(wecomBody(message, redact)) };
    case "feishu": {
      const body: Record<string, unknown> = feishuBody(message, redact);
      if (signing.secret) {
        const timestamp = String(Math.floor(signing.now / 1000));
        // Signature fields first, as in the robot documentation's example.
        return { url: webhookUrl, headers, body: JSON.stringify({ timestamp, sign: await feishuSign(signing.secret, timestamp), ...body }) };
      }
      return { url: webhookUrl, headers, body: JSON.stringify(body) };
    }
    case "json": {
      const body = JSON.stringify(jsonBody(message, redact));
      if (!signing.secret) return { url: webhookUrl, headers, body };
      const timestamp = String(Math.floor(signing.now));
      const signature = toHex(await hmacSha256(signing.secret, `${timestamp}.${body}`));
      return { url: webhookUrl, headers: { ...headers, "x-jst-bridge-timestamp": timestamp, "x-jst-bridge-signature": `sha256=${signature}` }, body };
    }
  }
}

/** 钉钉 加签: base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)); timestamp in ms. */
export async function dingtalkSign(secret: string, timestampMs: string): Promise<string> {
  return toBase64(await hmacSha256(secret, `${timestampMs}\n${secret}`));
}

/** 飞书 签名校验: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")); timestamp in seconds. */
export async function feishuSign(secret: string, timestampSeconds: string): Promise<string> {
  return toBase64(await hmacSha256(`${timestampSeconds}\n${secret}`, ""));
}

export async function hmacSha256(key: string, message: string): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const cryptoKey = await crypto.subtle.importKey("raw", encoder.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message)));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
