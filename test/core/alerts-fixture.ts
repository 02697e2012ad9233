/**
 * Shared setup of the alert tests: run summaries, the robot receiver served over loopback HTTP with
 * signatures recomputed by node:crypto (independent of the WebCrypto code under test), and a logger that
 * keeps every line so tests can search it for leaked secrets.
 */
import { createHmac } from "node:crypto";
import type { RunOutcome, RunSummary } from "../../shared/engine/types.ts";
import type { Logger } from "../../shared/ports.ts";
import { createAlertReceiverEmulator, type AlertReceiverOptions } from "../emulators/alert-receiver/index.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";

/** 2024-06-20 10:00:00 Asia/Shanghai. */
export const T0 = Date.UTC(2024, 5, 20, 2, 0, 0);
export const MINUTE = 60_000;
export const FLOW = "jst-other-in-to-kis";

export const DINGTALK_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
export const FEISHU_SECRET = "feishu-signing-secret-Zx9";
export const JSON_SECRET = "json-hmac-key-42";

export const nodeHmac = (key: string, message: string) => new Uint8Array(createHmac("sha256", key).update(message, "utf8").digest());

let runNumber = 0;

export function summary(outcome: RunOutcome, overrides: Partial<RunSummary> & { deadLettered?: number; at?: number } = {}): RunSummary {
  const { deadLettered, at, ...rest } = overrides;
  const finishedAt = at ?? T0;
  runNumber++;
  return {
    runId: `20240620T020000000Z-cron-${runNumber}`,
    flowId: FLOW,
    trigger: "cron",
    dryRun: false,
    startedAt: finishedAt - 5_000,
    finishedAt,
    durationMs: 5_000,
    outcome,
    counts: {
      read: 40,
      written: outcome === "failed" ? 3 : 35,
      alreadyExisted: 2,
      skipped: 0,
      deadLettered: deadLettered ?? (outcome === "partial" ? 2 : 0),
      dropped: 0,
    },
    windows: [],
    api: [],
    subrequests: 12,
    watermarkBefore: finishedAt - 3_600_000,
    watermarkAfter: finishedAt - 60_000,
    continues: outcome === "incomplete",
    ...(outcome === "failed"
      ? { error: { code: "target_unavailable", message: "KIS answered HTTP 503 for /koas/app007104/api/otherinstock/create", hint: "the next run retries" } }
      : {}),
    ...rest,
  };
}

export interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

export function captureLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(fields === undefined ? { level, message } : { level, message, fields });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), text: () => JSON.stringify(lines) };
}

export interface ReceiverSetup {
  clock: ManualClock;
  receiver: ReturnType<typeof createAlertReceiverEmulator>;
  url: string;
  urls: ReturnType<ReturnType<typeof createAlertReceiverEmulator>["webhookUrls"]>;
  close(): Promise<void>;
}

export async function startReceiver(options: AlertReceiverOptions = {}, clock = new ManualClock(T0)): Promise<ReceiverSetup> {
  const receiver = createAlertReceiverEmulator({
    now: () => clock.now(),
    hmac: nodeHmac,
    dingtalk: { accessToken: "dt0123456789abcdef0123456789abcdef", secret: DINGTALK_SECRET },
    feishu: { token: "3f2a9c4e-7b1d-4e8a-9c2f-5d6e7f8a9b0c", secret: FEISHU_SECRET },
    wecom: { key: "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa" },
    json: { secret: JSON_SECRET },
    maxHangMs: 5_000,
    ...options,
  });
  const server = await serveOnLoopback(receiver.app);
  return {
    clock,
    receiver,
    url: server.url,
    urls: receiver.webhookUrls(server.url),
    close: async () => {
      receiver.releaseHangs();
      await server.close();
    },
  };
}

/** The bound global fetch (the project's fetch port shape). */
export const httpFetch = (input: Request | string | URL, init?: RequestInit) => fetch(input, init);
