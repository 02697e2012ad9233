/**
 * Issue 15 items 2 and 3 inside workerd (security review #2, #3, #4, #5, #10, #11): sessions that expire
 * and can be revoked, a strong-token rule, limited failed sign-ins and bearer failures, bounded sync
 * ranges and queue fan-out, own-property flow lookup, no-store/nosniff API responses.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../../worker/env.ts";
import { callApi } from "./stack.ts";

const e = env as unknown as Env;
const ORIGIN = "https://bridge.test";
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
let address = 0;
/** Each test its own client address, so failure counts do not carry over. */
const ip = () => ({ "CF-Connecting-IP": `203.0.113.${++address}` });

async function signIn(envv: Env = e, headers: Record<string, string> = {}) {
  const res = await callApi(envv, "POST", "/login", {
    token: null,
    body: `token=${encodeURIComponent(envv.SYNC_API_TOKEN!)}`,
    headers: { ...FORM, Origin: ORIGIN, ...headers },
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get("Set-Cookie") ?? "";
  return { setCookie, cookie: setCookie.split(";")[0]! };
}
const page = (cookie: string, envv: Env = e) => callApi(envv, "GET", "/flows", { token: null, headers: { Cookie: cookie } });

describe("sessions (review #2, #10)", () => {
  it("each sign-in gets its own __Host- cookie carrying issue time and nonce", async () => {
    const a = await signIn();
    const b = await signIn();
    expect(a.cookie).not.toBe(b.cookie);
    expect(a.setCookie).toMatch(/^__Host-jst_bridge_session=v2\.\d+\.[0-9a-f]{32}\.[0-9a-f]{64};/);
    expect(a.setCookie).toContain("Secure");
    expect(a.setCookie).toContain("Path=/");
    expect(a.setCookie).not.toMatch(/Domain=/i);
  });

  it("sign-out revokes the session on the server: the old cookie no longer works", async () => {
    const { cookie } = await signIn();
    expect((await page(cookie)).status).toBe(200);
    const out = await callApi(e, "POST", "/logout", { token: null, headers: { Cookie: cookie, Origin: ORIGIN } });
    expect(out.status).toBe(303);
    expect((await page(cookie)).status).toBe(401);
    expect((await callApi(e, "GET", "/", { token: null, headers: { Cookie: cookie } })).status).toBe(302);
  });

  it("a session expires on the server after 12 hours, whatever the browser keeps", async () => {
    const { cookie } = await signIn();
    vi.useFakeTimers({ now: Date.now() + 12 * 3600_000 + 60_000, toFake: ["Date"] });
    try {
      expect((await page(cookie)).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
  });

  it("bumping SESSION_EPOCH signs every session out", async () => {
    const { cookie } = await signIn();
    expect((await page(cookie)).status).toBe(200);
    expect((await page(cookie, { ...e, SESSION_EPOCH: "2" } as Env)).status).toBe(401);
  });

  it("sign-out without an Origin (or with Origin: null) is refused", async () => {
    const { cookie } = await signIn();
    for (const headers of [{}, { Origin: "null" }] as Array<Record<string, string>>) {
      const res = await callApi(e, "POST", "/logout", { token: null, headers: { Cookie: cookie, ...headers } });
      expect(res.status).toBe(403);
    }
    expect((await page(cookie)).status).toBe(200);
  });
});

describe("abuse limits (review #3)", () => {
  it("a SYNC_API_TOKEN shorter than 32 characters closes the API and the sign-in with a clear error", async () => {
    const weak = { ...e, SYNC_API_TOKEN: "short-token-123" } as Env;
    const res = await callApi(weak, "GET", "/flows");
    expect(res.status).toBe(503);
    expect(res.json.error.message).toContain("at least 32");
    expect(res.text).not.toContain("short-token-123");
    const login = await callApi(weak, "POST", "/login", { token: null, body: "token=short-token-123", headers: { ...FORM, Origin: ORIGIN } });
    expect(login.status).toBe(503);
  });

  it("failed sign-ins are limited per address: after 10 failures even the right token gets 429", async () => {
    const from = ip();
    for (let i = 0; i < 10; i++) {
      const res = await callApi(e, "POST", "/login", { token: null, body: "token=wrong-guess-0123456789", headers: { ...FORM, Origin: ORIGIN, ...from } });
      expect(res.status, `attempt ${i + 1}`).toBe(i < 9 ? 401 : 429);
    }
    const right = await callApi(e, "POST", "/login", {
      token: null,
      body: `token=${encodeURIComponent(e.SYNC_API_TOKEN!)}`,
      headers: { ...FORM, Origin: ORIGIN, ...from },
    });
    expect(right.status).toBe(429);
    expect(right.headers.get("Set-Cookie")).toBeNull();
    // Another address is not affected.
    expect(
      (
        await callApi(e, "POST", "/login", {
          token: null,
          body: `token=${encodeURIComponent(e.SYNC_API_TOKEN!)}`,
          headers: { ...FORM, Origin: ORIGIN, ...ip() },
        })
      ).status,
    ).toBe(303);
  });

  it("bearer failures are limited per address too", async () => {
    const from = ip();
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push((await callApi(e, "GET", "/flows", { token: "wrong-bearer-guess-0123456789", headers: from })).status);
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses.slice(9)).toEqual([429, 429]);
    const right = await callApi(e, "GET", "/flows", { headers: from });
    expect(right.status).toBe(429);
    expect(right.headers.get("Retry-After")).toMatch(/^\d+$/);
  });
});

describe("bounded requests (review #4, #5, #11)", () => {
  it("a sync range over 366 days, or ending in the future, is refused before planning", async () => {
    const now = Date.now();
    const long = await callApi(e, "POST", "/flows/jst-other-in-to-kis/sync", { body: { from: now - 400 * 86_400_000, to: now - 86_400_000, dryRun: true } });
    expect(long.status).toBe(400);
    expect(long.json.error.message).toContain("366");
    const future = await callApi(e, "POST", "/flows/jst-other-in-to-kis/sync", { body: { from: now - 86_400_000, to: 2 ** 53 - 1, dryRun: true } });
    expect(future.status).toBe(400);
    expect(future.json.error.message).toContain("future");
  });

  it("a 200-day range fans out in sendBatch calls of at most 100 messages (the Queues limit)", async () => {
    const batches: number[] = [];
    // Like Cloudflare Queues: a sendBatch of more than 100 messages is refused.
    const queue = {
      async send() {},
      async sendBatch(messages: Iterable<unknown>) {
        const n = [...messages].length;
        if (n > 100) throw new Error(`sendBatch: ${n} messages exceed the limit of 100`);
        batches.push(n);
      },
    };
    const to = Date.now() - 3_600_000;
    const res = await callApi({ ...e, SYNC_QUEUE: queue } as unknown as Env, "POST", "/flows/jst-other-in-to-kis/sync", {
      body: { from: to - 200 * 86_400_000, to },
    });
    expect(res.status).toBe(202);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(res.json.accepted.windows);
    expect(Math.max(...batches)).toBeLessThanOrEqual(100);
    expect(batches.length).toBeGreaterThan(1);
  });

  it("flow ids are own properties only: constructor, __proto__, toString are unknown flows", async () => {
    for (const id of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      for (const [method, path, body] of [
        ["GET", `/flows/${id}`, undefined],
        ["POST", `/flows/${id}/sync`, {}],
        ["POST", `/flows/${id}/preview`, { documents: [{ a: 1 }] }],
      ] as const) {
        const res = await callApi(e, method, path, body === undefined ? {} : { body });
        expect(res.status, `${method} ${path}`).toBe(404);
      }
    }
  });

  it("API responses carry Cache-Control: no-store and X-Content-Type-Options: nosniff", async () => {
    for (const [path, token] of [
      ["/flows", undefined],
      ["/dead-letters", undefined],
      ["/flows", null],
      ["/nope", undefined],
    ] as const) {
      const res = await callApi(e, "GET", path, token === null ? { token: null } : {});
      expect(res.headers.get("Cache-Control"), path).toContain("no-store");
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
    }
  });
});
