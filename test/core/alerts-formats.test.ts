import { afterEach, describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { alertConfigFromEnv } from "../../shared/alerts/config.ts";
import { type AlertMessage, buildWebhookRequest, truncateUtf8, utf8Bytes, WECOM_MAX_CONTENT_BYTES } from "../../shared/alerts/formats.ts";
import { notifyRun } from "../../shared/alerts/notify.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { seededRandom } from "../emulators/catalog.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import {
  captureLogger,
  DINGTALK_SECRET,
  FEISHU_SECRET,
  FLOW,
  httpFetch,
  JSON_SECRET,
  type ReceiverSetup,
  startReceiver,
  summary,
  T0,
} from "./alerts-fixture.ts";

const DASHBOARD = "https://jst-bridge.example.workers.dev/";

let setup: ReceiverSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

function deps(s: ReceiverSetup, env: Record<string, string>, clock = s.clock) {
  const logger = captureLogger();
  const kv = new MemoryKeyValueStore({ now: () => clock.now() });
  return { logger, kv, deps: { env: { DASHBOARD_URL: DASHBOARD, ...env }, kv, fetch: httpFetch, clock, logger, timeoutMs: 2_000, retryDelayMs: 10 } };
}

/** Every secret a message or log must never show. */
function secretsOf(s: ReceiverSetup): string[] {
  const c = s.receiver.config;
  return [c.dingtalk.accessToken, c.wecom.key, c.feishu.token, DINGTALK_SECRET, FEISHU_SECRET, JSON_SECRET];
}

function expectNoSecrets(text: string, s: ReceiverSetup) {
  for (const secret of secretsOf(s)) expect(text).not.toContain(secret);
}

describe("alert formats against the robot receiver (HTTP, signatures checked with node:crypto)", () => {
  it("钉钉 DingTalk: markdown with title and text, 加签 in the URL query (timestamp ms + sign)", async () => {
    setup = await startReceiver();
    const { deps: d, logger } = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.dingtalk, ALERT_KIND: "dingtalk", ALERT_SECRET: DINGTALK_SECRET });
    const result = await notifyRun(summary("failed"), d);
    expect(result).toMatchObject({ status: "sent", kind: "dingtalk", event: "run_failed", attempts: 1, stateWritten: true });

    const [req] = setup.receiver.requests();
    expect(req?.accepted).toBe(true);
    expect(req?.query.timestamp).toBe(String(setup.clock.now()));
    // The receiver recomputed this with node:crypto; check it here too, from the raw query.
    const expected = createHmac("sha256", DINGTALK_SECRET).update(`${req?.query.timestamp}\n${DINGTALK_SECRET}`).digest("base64");
    expect(req?.query.sign).toBe(expected);
    const body = req?.body as { msgtype: string; markdown: { title: string; text: string } };
    expect(body.msgtype).toBe("markdown");
    expect(body.markdown.title).toContain("同步失败 / sync failed");
    expect(body.markdown.text).toContain(FLOW);
    expect(body.markdown.text).toContain("target_unavailable");
    expect(body.markdown.text).toContain(`[打开控制台 / open dashboard](${DASHBOARD})`);
    expectNoSecrets(JSON.stringify(body), setup);
    expectNoSecrets(logger.text(), setup);
  });

  it("钉钉 DingTalk: a wrong secret or a clock off by more than an hour is refused, reported as undelivered, not retried, not leaked", async () => {
    setup = await startReceiver();
    const wrong = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.dingtalk, ALERT_KIND: "dingtalk", ALERT_SECRET: "SECnot-the-right-one" });
    const result = await notifyRun(summary("failed"), wrong.deps);
    expect(result.status).toBe("undelivered");
    expect(result.attempts).toBe(1);
    expect(result.reason).toMatch(/errcode 310000/);
    expect(setup.receiver.requests()[0]?.reason).toBe("sign not match");

    const skewed = new ManualClock(T0 - 2 * 3_600_000);
    const late = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.dingtalk, ALERT_KIND: "dingtalk", ALERT_SECRET: DINGTALK_SECRET }, skewed);
    expect((await notifyRun(summary("failed"), late.deps)).status).toBe("undelivered");
    expect(setup.receiver.requests()[1]?.reason).toMatch(/within one hour/);
    expectNoSecrets(JSON.stringify([result, wrong.logger.lines, late.logger.lines]), setup);
  });

  it("企业微信 WeCom: markdown content, no signature; the kind is recognised from the URL's host", async () => {
    setup = await startReceiver();
    // The receiver is on 127.0.0.1, so the kind must be given; the host rule is checked separately.
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc" })?.kind).toBe("wecom");
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "https://oapi.dingtalk.com/robot/send?access_token=abc" })?.kind).toBe("dingtalk");
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "https://open.feishu.cn/open-apis/bot/v2/hook/abc" })?.kind).toBe("feishu");
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "https://hooks.example.com/x" })?.kind).toBe("json");

    const { deps: d } = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.wecom, ALERT_KIND: "wecom" });
    expect((await notifyRun(summary("partial", { deadLettered: 4 }), d)).status).toBe("sent");
    const [req] = setup.receiver.requests();
    expect(req?.accepted).toBe(true);
    const content = (req?.body as { markdown: { content: string } }).markdown.content;
    expect(content).toContain("新增 4 条死信 / 4 new dead letters");
    expect(content).toMatch(/^### <font color="warning">/);
    expect(req?.query).toEqual({ key: setup.receiver.config.wecom.key });
  });

  it("企业微信 WeCom: an enormous multi-byte error is cut to ≤ 4096 UTF-8 bytes on a character boundary and accepted", async () => {
    setup = await startReceiver();
    const { deps: d } = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.wecom, ALERT_KIND: "wecom" });
    const message = "金蝶返回错误😀".repeat(400); // 3- and 4-byte characters, far beyond the limit
    const run = summary("failed", { error: { code: "kis_rejected", message, hint: "检查物料编码 🧾".repeat(100) } });
    expect((await notifyRun(run, d)).status).toBe("sent");
    const [req] = setup.receiver.requests();
    expect(req?.accepted).toBe(true);
    expect(req?.utf8).toBe(true);
    const content = (req?.body as { markdown: { content: string } }).markdown.content;
    const bytes = new TextEncoder().encode(content);
    expect(bytes.length).toBeLessThanOrEqual(WECOM_MAX_CONTENT_BYTES);
    expect(bytes.length).toBeGreaterThan(WECOM_MAX_CONTENT_BYTES - 8);
    expect(new TextDecoder("utf-8", { fatal: true }).decode(bytes)).toBe(content);
    expect(content.endsWith("…")).toBe(true);
    // The short facts come first, so the cut only shortened the error.
    expect(content).toContain(`**流程 flow**: ${FLOW}`);
    expect(content).toContain(`[打开控制台 / open dashboard](${DASHBOARD})`);
  });

  it("飞书 Feishu: interactive card, 签名校验 fields (timestamp seconds as text + sign) in the body", async () => {
    setup = await startReceiver();
    const { deps: d } = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.feishu, ALERT_KIND: "feishu", ALERT_SECRET: FEISHU_SECRET });
    expect((await notifyRun(summary("failed"), d)).status).toBe("sent");
    const [req] = setup.receiver.requests();
    expect(req?.accepted).toBe(true);
    const body = req?.body as {
      timestamp: string;
      sign: string;
      msg_type: string;
      card: { header: { template: string; title: { tag: string; content: string } }; elements: Array<{ tag: string; text: { tag: string; content: string } }> };
    };
    expect(body.timestamp).toBe(String(Math.floor(setup.clock.now() / 1000)));
    const expected = createHmac("sha256", `${body.timestamp}\n${FEISHU_SECRET}`).update("").digest("base64");
    expect(body.sign).toBe(expected);
    expect(body.msg_type).toBe("interactive");
    expect(body.card.header).toMatchObject({ template: "red", title: { tag: "plain_text" } });
    expect(body.card.header.title.content).toContain("同步失败 / sync failed");
    expect(body.card.elements[0]?.text.tag).toBe("lark_md");
    expect(body.card.elements[0]?.text.content).toContain("**结果 outcome**: failed");
    expectNoSecrets(JSON.stringify(body), setup);

    const wrong = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.feishu, ALERT_KIND: "feishu", ALERT_SECRET: "other" });
    const refused = await notifyRun(summary("failed"), wrong.deps);
    expect(refused).toMatchObject({ status: "undelivered", attempts: 1 });
    expect(refused.reason).toMatch(/code 19021/);
  });

  it("generic JSON: {event, flowId, runId, outcome, counts, error, at, dashboardUrl} with an HMAC signature header", async () => {
    setup = await startReceiver();
    const { deps: d } = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.json, ALERT_KIND: "json", ALERT_SECRET: JSON_SECRET });
    const run = summary("failed");
    expect((await notifyRun(run, d)).status).toBe("sent");
    const [req] = setup.receiver.requests();
    expect(req?.accepted).toBe(true);
    expect(req?.body).toMatchObject({
      event: "run_failed",
      flowId: FLOW,
      runId: run.runId,
      outcome: "failed",
      counts: run.counts,
      error: { code: "target_unavailable", message: run.error?.message },
      at: new Date(run.finishedAt).toISOString(),
      dashboardUrl: DASHBOARD,
    });
    expect(req?.headers["x-jst-bridge-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);

    // Without a secret: no signature headers, and the receiver (configured without one) accepts it.
    await setup.close();
    setup = await startReceiver({ json: {} });
    const unsigned = deps(setup, { ALERT_WEBHOOK_URL: setup.urls.json });
    expect((await notifyRun(summary("partial", { deadLettered: 1 }), unsigned.deps)).status).toBe("sent");
    expect(setup.receiver.requests()[0]?.headers["x-jst-bridge-signature"]).toBeUndefined();
  });

  it("every event has its bilingual title; grouped events are announced; robot markup in error text is neutralised", async () => {
    const base: AlertMessage = {
      event: "run_failed",
      flowId: FLOW,
      runId: "r1",
      trigger: "cron",
      outcome: "failed",
      counts: { read: 1, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 2, dropped: 0 },
      error: { code: "x", message: 'bad <@all> <at id=all></at> <font color="info">ok</font>\n# heading' },
      at: T0,
      consecutiveFailures: 4,
      grouped: 3,
      timezone: "Asia/Shanghai",
    };
    const titles = {
      run_failed: "同步失败 / sync failed",
      consecutive_failures: "连续失败 4 次 / 4 consecutive failures",
      dead_letters: "新增 2 条死信 / 2 new dead letters",
      recovered: "已恢复 / recovered",
    } as const;
    for (const [event, title] of Object.entries(titles)) {
      const req = await buildWebhookRequest("json", "https://hooks.example.com/x", { ...base, event: event as AlertMessage["event"] }, { now: T0 });
      const body = JSON.parse(req.body) as { title: string; text: string };
      expect(body.title).toBe(`[jst-bridge] ${title} · ${FLOW}`);
      expect(body.text).toContain("另有 3 条告警被合并 / 3 more grouped");
      expect(body.text).toContain("2024-06-20 10:00:00 (Asia/Shanghai)");
    }
    const wecom = JSON.parse((await buildWebhookRequest("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", base, { now: T0 })).body) as {
      markdown: { content: string };
    };
    const errorLine = wecom.markdown.content.split("\n").find((l) => l.startsWith("**错误 error**"));
    expect(errorLine).toBeDefined();
    expect(errorLine).not.toMatch(/[<>]/);
    expect(wecom.markdown.content).not.toMatch(/^# heading/m);
  });
});

describe("truncateUtf8", () => {
  it("random text with 1- to 4-byte characters: within the limit, valid UTF-8, a prefix, as long as possible", () => {
    const random = seededRandom(99);
    const alphabet = ["a", "Z", "é", "ß", "中", "文", "😀", "🧾", "\u{10FFFF}", " "];
    const fatal = new TextDecoder("utf-8", { fatal: true });
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: Math.floor(random() * 200) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
      const max = Math.floor(random() * 300);
      const cut = truncateUtf8(text, max);
      const bytes = new TextEncoder().encode(cut);
      expect(fatal.decode(bytes)).toBe(cut);
      if (utf8Bytes(text) <= max) {
        expect(cut).toBe(text);
        continue;
      }
      expect(bytes.length).toBeLessThanOrEqual(max);
      if (max < 3) {
        expect(cut).toBe("");
        continue;
      }
      expect(cut.endsWith("…")).toBe(true);
      const kept = cut.slice(0, -1);
      expect(text.startsWith(kept)).toBe(true);
      // One more character would not have fitted.
      const next = Array.from(text.slice(kept.length))[0]!;
      expect(utf8Bytes(kept) + utf8Bytes(next) + 3).toBeGreaterThan(max);
    }
  });
});
