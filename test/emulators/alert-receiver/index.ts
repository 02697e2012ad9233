/**
 * Emulator of the robot webhooks alerts go to, checking each request the way the platform does:
 *
 *   POST /robot/send?access_token=…[&timestamp=&sign=]       钉钉 custom robot (markdown; "加签" when a secret is set)
 *   POST /cgi-bin/webhook/send?key=…                         企业微信 group robot (markdown, content ≤ 4096 UTF-8 bytes)
 *   POST /open-apis/bot/v2/hook/:token                       飞书 custom bot (interactive card or text; "签名校验" when a secret is set)
 *   POST /hooks/:name                                        generic JSON webhook (jst-bridge's own shape and optional HMAC headers)
 *
 * Signatures are recomputed with the injected `hmac` (Node tests pass node:crypto, so the check is independent
 * of the WebCrypto code under test); the default is WebCrypto so the emulator also runs inside workerd.
 * Timestamps must be within one hour of `now()`, as both platforms document.
 * UNCERTAIN: the exact error codes a real robot returns for each rejection; the ones here are plausible
 * (DingTalk 310000 sign mismatch, Feishu 19021 sign / 19001 token, WeCom 93000 bad key / 40058 too long)
 * and the client treats any non-zero code as "not delivered".
 */
import { Hono } from "hono";

export type HmacFn = (key: string, message: string) => Promise<Uint8Array> | Uint8Array;
export type Platform = "dingtalk" | "wecom" | "feishu" | "json";

export interface AlertReceiverOptions {
  now?: () => number;
  dingtalk?: { accessToken: string; secret?: string };
  wecom?: { key: string };
  feishu?: { token: string; secret?: string };
  json?: { secret?: string };
  hmac?: HmacFn;
  /** Longest a `hang` fault holds a request (default 60 s; the client's abort or releaseHangs() ends it sooner). */
  maxHangMs?: number;
}

export interface AlertReceiverFault {
  /** http_error: answer `status`; app_error: HTTP 200 with the platform's error code; hang: never answer. */
  kind: "http_error" | "app_error" | "hang";
  status?: number;
  code?: number;
  message?: string;
  path?: string;
  times?: number;
  skip?: number;
}

export interface ReceivedRequest {
  platform: Platform;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Raw body bytes were valid UTF-8. */
  utf8: boolean;
  bodyBytes: number;
  body: unknown;
  accepted: boolean;
  /** Why it was rejected. */
  reason?: string;
  status: number;
  at: number;
}

interface ArmedFault extends AlertReceiverFault {
  remaining: number;
  toSkip: number;
}

const HOUR_MS = 3_600_000;
const EVENTS = new Set(["run_failed", "dead_letters", "consecutive_failures", "recovered"]);
const OUTCOMES = new Set(["success", "partial", "incomplete", "failed", "skipped_locked"]);

async function webCryptoHmac(key: string, message: string): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(message)));
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** True when the string has no unpaired surrogate (it encodes to UTF-8 without replacement characters). */
function wellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;

export function createAlertReceiverEmulator(options: AlertReceiverOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const hmac = options.hmac ?? webCryptoHmac;
  const config = {
    dingtalk: options.dingtalk ?? { accessToken: "dingtalk-access-token-0123456789abcdef" },
    wecom: options.wecom ?? { key: "693a91f6-0000-4bc4-97a0-0ec2sifa5aaa" },
    feishu: options.feishu ?? { token: "0b5a6c2e-1111-4f8e-9a3d-feishuhooktoken" },
    json: options.json ?? {},
  };
  let requests: ReceivedRequest[] = [];
  let faults: ArmedFault[] = [];
  const hanging = new Set<() => void>();
  const app = new Hono();

  const takeFault = (path: string): ArmedFault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && (!f.path || path.includes(f.path)));
    if (!fault) return undefined;
    if (fault.toSkip > 0) {
      fault.toSkip--;
      return undefined;
    }
    fault.remaining--;
    return fault;
  };

  /** Shared handling: log, faults, UTF-8 and JSON decoding; `check` returns a rejection reason or null. */
  const receive =
    (platform: Platform, check: (body: Record<string, unknown>, req: Request, raw: string) => Promise<{ reason: string; code: number } | null>) =>
    async (c: { req: { raw: Request } }) => {
      const req = c.req.raw;
      const url = new URL(req.url);
      const bytes = new Uint8Array(await req.arrayBuffer());
      let text = "";
      let utf8 = true;
      try {
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
      } catch {
        utf8 = false;
        text = new TextDecoder().decode(bytes);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const entry: ReceivedRequest = {
        platform,
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(req.headers),
        utf8,
        bodyBytes: bytes.length,
        body,
        accepted: false,
        status: 200,
        at: now(),
      };
      requests.push(entry);

      const fault = takeFault(url.pathname);
      if (fault?.kind === "hang") {
        entry.status = 0;
        entry.reason = "hang fault";
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            hanging.delete(done);
            resolve();
          };
          const timer = setTimeout(done, options.maxHangMs ?? 60_000);
          hanging.add(done);
          req.signal?.addEventListener("abort", done, { once: true });
        });
        return new Response("", { status: 504 });
      }
      if (fault?.kind === "http_error") {
        entry.status = fault.status ?? 500;
        entry.reason = "http_error fault";
        return new Response(fault.message ?? "injected error", { status: entry.status });
      }
      const reply = (code: number, message: string) => {
        if (platform === "feishu") {
          return Response.json(code === 0 ? { code: 0, msg: "success", data: {}, StatusCode: 0, StatusMessage: "success" } : { code, msg: message, data: {} });
        }
        if (platform === "json") return code === 0 ? Response.json({ ok: true }) : Response.json({ ok: false, error: message }, { status: 400 });
        return Response.json({ errcode: code, errmsg: message });
      };
      if (fault?.kind === "app_error") {
        entry.reason = "app_error fault";
        return reply(fault.code ?? 9999, fault.message ?? "injected robot error");
      }
      if (req.method !== "POST") {
        entry.reason = "not POST";
        entry.status = 405;
        return new Response("method not allowed", { status: 405 });
      }
      if (!utf8 || !isObject(body)) {
        entry.reason = !utf8 ? "body is not valid UTF-8" : "body is not a JSON object";
        const r = reply(platform === "feishu" ? 9499 : 40035, entry.reason);
        entry.status = r.status;
        return r;
      }
      const rejected = await check(body, req, text);
      if (rejected) {
        entry.reason = rejected.reason;
        const r = reply(rejected.code, rejected.reason);
        entry.status = r.status;
        return r;
      }
      entry.accepted = true;
      return reply(0, "ok");
    };

  const timestampProblem = (raw: unknown, unitMs: number): string | null => {
    const value = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : typeof raw === "number" ? raw : NaN;
    if (!Number.isFinite(value)) return "timestamp missing or not a number";
    return Math.abs(value * unitMs - now()) > HOUR_MS ? "timestamp is not within one hour from current time" : null;
  };

  app.post(
    "/robot/send",
    receive("dingtalk", async (body, req) => {
      const q = new URL(req.url).searchParams;
      if (q.get("access_token") !== config.dingtalk.accessToken) return { code: 300001, reason: "token is not exist" };
      if (config.dingtalk.secret) {
        const ts = q.get("timestamp");
        const problem = timestampProblem(ts, 1);
        if (problem) return { code: 310000, reason: `sign not match: ${problem}` };
        const expected = base64(await hmac(config.dingtalk.secret, `${ts}\n${config.dingtalk.secret}`));
        if (q.get("sign") !== expected) return { code: 310000, reason: "sign not match" };
      }
      if (body.msgtype !== "markdown") return { code: 40035, reason: `unexpected msgtype ${String(body.msgtype)}` };
      const md = body.markdown;
      if (!isObject(md) || !nonEmpty(md.title) || !nonEmpty(md.text)) return { code: 40035, reason: "markdown.title and markdown.text are required" };
      if (!wellFormed(md.text) || !wellFormed(md.title)) return { code: 40035, reason: "markdown is not valid UTF-8 text" };
      return null;
    }),
  );

  app.post(
    "/cgi-bin/webhook/send",
    receive("wecom", async (body, req) => {
      if (new URL(req.url).searchParams.get("key") !== config.wecom.key) return { code: 93000, reason: "invalid webhook url" };
      if (body.msgtype !== "markdown") return { code: 40008, reason: `unexpected msgtype ${String(body.msgtype)}` };
      const md = body.markdown;
      if (!isObject(md) || !nonEmpty(md.content)) return { code: 40035, reason: "markdown.content is required" };
      if (!wellFormed(md.content)) return { code: 40035, reason: "markdown.content is not valid UTF-8 text" };
      if (utf8Length(md.content) > 4096) return { code: 40058, reason: `markdown.content exceed max length 4096 (${utf8Length(md.content)} bytes)` };
      return null;
    }),
  );

  app.post(
    "/open-apis/bot/v2/hook/:token",
    receive("feishu", async (body, req) => {
      const token = new URL(req.url).pathname.split("/").pop();
      if (token !== config.feishu.token) return { code: 19001, reason: "param invalid: incoming webhook access token invalid" };
      if (config.feishu.secret) {
        const problem = timestampProblem(body.timestamp, 1000);
        if (problem) return { code: 19021, reason: `sign match fail or ${problem}` };
        const expected = base64(await hmac(`${String(body.timestamp)}\n${config.feishu.secret}`, ""));
        if (body.sign !== expected) return { code: 19021, reason: "sign match fail or timestamp is not within one hour from current time" };
      }
      if (body.msg_type === "text") {
        return isObject(body.content) && nonEmpty(body.content.text) ? null : { code: 9499, reason: "Bad Request: content.text required" };
      }
      if (body.msg_type !== "interactive") return { code: 9499, reason: `Bad Request: unexpected msg_type ${String(body.msg_type)}` };
      const card = body.card;
      if (!isObject(card) || !Array.isArray(card.elements) || card.elements.length === 0) return { code: 9499, reason: "Bad Request: card.elements required" };
      for (const el of card.elements) {
        if (!isObject(el) || !nonEmpty(el.tag)) return { code: 9499, reason: "Bad Request: card element without tag" };
        if (el.tag === "div" && !(isObject(el.text) && nonEmpty(el.text.tag) && typeof el.text.content === "string" && wellFormed(el.text.content))) {
          return { code: 9499, reason: "Bad Request: div.text needs tag and content" };
        }
      }
      if (card.header !== undefined) {
        const h = card.header;
        if (!isObject(h) || !isObject(h.title) || h.title.tag !== "plain_text" || !nonEmpty(h.title.content)) {
          return { code: 9499, reason: "Bad Request: header.title must be plain_text with content" };
        }
      }
      if (new TextEncoder().encode(JSON.stringify(body)).length > 20 * 1024) return { code: 9499, reason: "Bad Request: body larger than 20 KB" };
      return null;
    }),
  );

  app.post(
    "/hooks/:name",
    receive("json", async (body, req, raw) => {
      if (config.json.secret) {
        const ts = req.headers.get("x-jst-bridge-timestamp");
        const problem = timestampProblem(ts, 1);
        if (problem) return { code: 401, reason: problem };
        // The signature covers the exact text sent.
        const expected = `sha256=${hex(await hmac(config.json.secret, `${ts}.${raw}`))}`;
        if (req.headers.get("x-jst-bridge-signature") !== expected) return { code: 401, reason: "signature mismatch" };
      }
      if (!EVENTS.has(String(body.event))) return { code: 400, reason: "event missing or unknown" };
      if (!nonEmpty(body.flowId) || !nonEmpty(body.runId)) return { code: 400, reason: "flowId and runId are required" };
      if (!OUTCOMES.has(String(body.outcome))) return { code: 400, reason: "outcome missing or unknown" };
      if (!isObject(body.counts) || typeof body.counts.deadLettered !== "number") return { code: 400, reason: "counts missing" };
      if (!(body.error === null || (isObject(body.error) && nonEmpty(body.error.code)))) return { code: 400, reason: "error must be null or {code, message}" };
      if (!nonEmpty(body.at) || Number.isNaN(Date.parse(body.at))) return { code: 400, reason: "at must be an ISO date" };
      if (!(body.dashboardUrl === null || nonEmpty(body.dashboardUrl))) return { code: 400, reason: "dashboardUrl must be null or a URL" };
      return null;
    }),
  );

  // ---------- admin ----------
  app.get("/__emulator/requests", (c) => c.json(requests));
  app.delete("/__emulator/requests", (c) => {
    requests = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/faults", async (c) => {
    addFaults((await c.req.json()) as AlertReceiverFault[]);
    return c.json({ ok: true, armed: faults.length });
  });
  app.delete("/__emulator/faults", (c) => {
    faults = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/reset", (c) => {
    reset();
    return c.json({ ok: true });
  });
  app.get("/__emulator/state", (c) => c.json(state()));

  function addFaults(list: AlertReceiverFault[] | AlertReceiverFault) {
    for (const f of Array.isArray(list) ? list : [list]) {
      if (!["http_error", "app_error", "hang"].includes(f?.kind)) throw new Error(`unsupported fault ${JSON.stringify(f)}`);
      faults.push({ ...f, remaining: f.times ?? 1, toSkip: f.skip ?? 0 });
    }
  }
  function releaseHangs() {
    for (const done of [...hanging]) done();
  }
  function reset() {
    releaseHangs();
    requests = [];
    faults = [];
  }
  /** Accepted messages per platform. */
  function state() {
    const accepted = requests.filter((r) => r.accepted);
    const byPlatform: Partial<Record<Platform, number>> = {};
    for (const r of accepted) byPlatform[r.platform] = (byPlatform[r.platform] ?? 0) + 1;
    return { accepted: accepted.length, rejected: requests.length - accepted.length, byPlatform };
  }
  /** The webhook URLs a client should be given, for a receiver served at `baseUrl`. */
  function webhookUrls(baseUrl: string) {
    const base = baseUrl.replace(/\/+$/, "");
    return {
      dingtalk: `${base}/robot/send?access_token=${config.dingtalk.accessToken}`,
      wecom: `${base}/cgi-bin/webhook/send?key=${config.wecom.key}`,
      feishu: `${base}/open-apis/bot/v2/hook/${config.feishu.token}`,
      json: `${base}/hooks/jst-bridge`,
    };
  }

  return {
    app,
    config,
    requests: () => requests,
    accepted: (platform?: Platform) => requests.filter((r) => r.accepted && (!platform || r.platform === platform)),
    addFaults,
    clearFaults: () => {
      faults = [];
    },
    releaseHangs,
    reset,
    state,
    webhookUrls,
  };
}

export type AlertReceiverEmulator = ReturnType<typeof createAlertReceiverEmulator>;
