import { env as untypedEnv } from "cloudflare:workers";
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { notifyRun, type NotifyDeps } from "../../shared/alerts/notify.ts";
import type { RunSummary } from "../../shared/engine/types.ts";
import { stateKeys } from "../../shared/state/keys.ts";
import worker from "../../worker/index.ts";
import type { Env } from "../../worker/env.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { handleQueueBatch, type SyncMessage } from "../../worker/queue.ts";
import { readWorkerConfig } from "../../worker/config.ts";
import { createAlertReceiverEmulator } from "../emulators/alert-receiver/index.ts";

const env = untypedEnv as unknown as Env;
const KIS_FLOW = "jst-other-in-to-kis";

function failedRun(flowId: string): RunSummary {
  const at = Date.now();
  return {
    runId: `wk-${at}`,
    flowId,
    trigger: "cron",
    dryRun: false,
    startedAt: at - 1000,
    finishedAt: at,
    durationMs: 1000,
    outcome: "failed",
    counts: { read: 3, written: 1, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 },
    windows: [],
    api: [],
    subrequests: 4,
    watermarkBefore: at - 3_600_000,
    watermarkAfter: at - 3_600_000,
    continues: false,
    error: { code: "target_unavailable", message: "T+ answered HTTP 502" },
  };
}

function inProcess(receiver: ReturnType<typeof createAlertReceiverEmulator>, flowEnv: Record<string, string>, extra: Partial<NotifyDeps> = {}): NotifyDeps {
  return {
    env: flowEnv,
    kv: new WorkersKvStore(env.STATE),
    // The receiver runs inside workerd too; its default signature check is its own WebCrypto code.
    fetch: async (input, init) => receiver.app.fetch(new Request(input, init)),
    ...extra,
  };
}

describe("alerts inside workerd", () => {
  it("DingTalk 加签 and Feishu 签名校验 made with WebCrypto in workerd are accepted by the receiver; a wrong secret is refused", async () => {
    const receiver = createAlertReceiverEmulator({
      dingtalk: { accessToken: "wk-dingtalk-token-0123456789", secret: "SECwk-dingtalk-secret" },
      feishu: { token: "wk-feishu-hook-0123456789abcdef", secret: "wk-feishu-secret" },
      json: { secret: "wk-json-secret" },
    });
    const urls = receiver.webhookUrls("https://robots.example");
    const signed = [
      { kind: "dingtalk", url: urls.dingtalk, secret: "SECwk-dingtalk-secret", flow: "wk-alert-dingtalk" },
      { kind: "feishu", url: urls.feishu, secret: "wk-feishu-secret", flow: "wk-alert-feishu" },
      { kind: "json", url: urls.json, secret: "wk-json-secret", flow: "wk-alert-json" },
    ];
    for (const c of signed) {
      const result = await notifyRun(failedRun(c.flow), inProcess(receiver, { ALERT_WEBHOOK_URL: c.url, ALERT_KIND: c.kind, ALERT_SECRET: c.secret }));
      expect(result, c.kind).toMatchObject({ status: "sent", attempts: 1, stateWritten: true });
    }
    expect(receiver.accepted().map((r) => r.platform)).toEqual(["dingtalk", "feishu", "json"]);
    expect(receiver.accepted("dingtalk")[0]?.query.sign).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    for (const c of signed) {
      const result = await notifyRun(
        failedRun(`${c.flow}-wrong`),
        inProcess(receiver, { ALERT_WEBHOOK_URL: c.url, ALERT_KIND: c.kind, ALERT_SECRET: "not-it" }),
      );
      expect(result.status, c.kind).toBe("undelivered");
    }
    expect(
      receiver
        .requests()
        .filter((r) => !r.accepted)
        .map((r) => r.reason),
    ).toEqual(["sign not match", "sign match fail or timestamp is not within one hour from current time", "signature mismatch"]);
    const stored = JSON.parse((await env.STATE.get(stateKeys.alert("wk-alert-feishu")))!);
    expect(stored).toMatchObject({ lastEvent: "run_failed", consecutiveFailures: 1, openIncident: true });
  });

  it("a hanging robot times out inside workerd without throwing", async () => {
    const receiver = createAlertReceiverEmulator();
    receiver.addFaults({ kind: "hang", times: 2 });
    const result = await notifyRun(
      failedRun("wk-alert-hang"),
      inProcess(
        receiver,
        { ALERT_WEBHOOK_URL: receiver.webhookUrls("https://robots.example").wecom, ALERT_KIND: "wecom" },
        { timeoutMs: 100, retryDelayMs: 1 },
      ),
    );
    expect(result).toMatchObject({ status: "undelivered", attempts: 2, reason: "no answer within 100 ms" });
    receiver.releaseHangs();
  });

  it("the cron tick and the queue consumer call notifyRun after each run (a 404 webhook is logged, the alert state records the failure)", async () => {
    // No Jushuitan credentials: the run fails at once with a configuration error, without upstream calls.
    const e = {
      ...env,
      ALERT_WEBHOOK_URL: `${untypedEnv.EMULATOR_HUB}/__no-such-robot/send?access_token=wk-cron-token-0123456789`,
      ALERT_KIND: "json",
      LOG_LEVEL: "error",
    } as Env;
    await e.STATE.delete(stateKeys.alert(KIS_FLOW));
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/30 * * * *", scheduledTime: Date.now() }), e, ctx);
    await waitOnExecutionContext(ctx);
    const afterCron = JSON.parse((await e.STATE.get(stateKeys.alert(KIS_FLOW)))!);
    // Not delivered (HTTP 404), so it counts as grouped and nothing was marked sent.
    expect(afterCron).toEqual({ lastSentAt: null, lastEvent: null, consecutiveFailures: 1, openIncident: false, suppressed: 1 });

    const retried: number[] = [];
    const message = {
      id: "m1",
      timestamp: new Date(),
      attempts: 1,
      body: { kind: "continue", flowId: KIS_FLOW, runId: "wk-queue-run" } as SyncMessage,
      ack: () => undefined,
      retry: (o?: { delaySeconds?: number }) => void retried.push(o?.delaySeconds ?? 0),
    };
    const batch = { queue: "jst-bridge-sync", messages: [message], ackAll: () => undefined, retryAll: () => undefined } as unknown as MessageBatch<SyncMessage>;
    await handleQueueBatch(batch, e, readWorkerConfig(e));
    const afterQueue = JSON.parse((await e.STATE.get(stateKeys.alert(KIS_FLOW)))!);
    expect(afterQueue).toMatchObject({ consecutiveFailures: 2, suppressed: 2 });
    // The failed run is still handed back to the queue: alerts do not change the message's fate.
    expect(retried).toEqual([30]);
  });
});
