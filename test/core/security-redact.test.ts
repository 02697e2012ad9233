/**
 * The one redactor (shared/security/redact.ts) and the ports boundary (shared/security/secret-ports.ts):
 * forms a secret takes in outputs, redact-then-cut, tokens learned from the token store and from requests,
 * redirects refused with credentials. Security review findings #1, #6, #7, #9.
 */
import { describe, expect, it } from "vitest";
import { postKoas } from "../../shared/connectors/kis/transport.ts";
import { systemClock } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { redactingFetch, redactingKv, redactingLogger } from "../../shared/security/secret-ports.ts";

const TOKEN = "at-3-48bcf09daf5d4b5a";

describe("Redactor", () => {
  it("builds from env names, and replaces raw, JSON-escaped, URL-encoded and HTML-escaped forms", () => {
    const r = Redactor.fromEnv({
      JST_APP_SECRET: 'se"cr/et<&>value',
      JST_APP_KEY: "public-app-key",
      SYNC_API_TOKEN: "sync-token-0123456789",
      TPLUS_PRIVATE_KEY: "-----BEGIN-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA\n-----END-----",
    });
    const secret = 'se"cr/et<&>value';
    const text = [
      secret,
      JSON.stringify({ m: secret }),
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString(),
      secret.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"),
    ].join(" | ");
    const out = r.redact(text);
    expect(out).not.toContain("cr/et");
    expect(out).not.toContain("cr%2Fet");
    expect(r.redact("public-app-key sync-token-0123456789")).toBe("public-app-key ***");
    expect(r.redact("key line MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA here")).toBe("key line *** here");
  });

  it("redacts, then cuts; a trailing fragment that starts a secret is masked too (review #6)", () => {
    const r = new Redactor().add(TOKEN);
    // Redacted first: the whole token goes, and the text is then short enough to keep whole.
    expect(r.cut(`${"x".repeat(150)}${TOKEN} tail`, 160)).toBe(`${"x".repeat(150)}*** tail`);
    // A fragment (someone upstream cut the text already) that the cut leaves at the end is masked.
    expect(r.cut(`${"x".repeat(150)}${TOKEN.slice(0, 15)}`, 160)).toBe(`${"x".repeat(150)}***`);
    // The cut itself leaves part of a fragment at the end: masked too.
    expect(r.cut(`${"x".repeat(150)}${TOKEN.slice(0, 15)}yyyy`, 160)).toBe(`${"x".repeat(150)}***…`);
    // A fragment another component cut (marked "…") inside a longer text.
    expect(r.redact(`error: ${TOKEN.slice(0, 12)}… (code 7)`)).toBe("error: ***… (code 7)");
    expect(r.redact(JSON.stringify({ snippet: `xxxx${TOKEN.slice(0, 12)}` }))).toBe('{"snippet":"xxxx***"}');
  });

  it("ignores values too short to be told from ordinary text", () => {
    const r = new Redactor().add("abc").add("12345");
    expect(r.redact("abc 12345")).toBe("abc 12345");
  });

  it("learns the credentials a request carries: headers, cookie values, Bearer part, query and form params (review #7)", () => {
    const r = new Redactor();
    const blob = btoa(JSON.stringify({ access_token: "onprem-token-0123456789", sig: "abc" }));
    r.addRequest(
      "https://kis.example/koas/x?access_token=at-query-0123456789&page=1",
      new Headers({
        Authorization: `Bearer ${blob}`,
        Cookie: "sid=sid-1-b2211b69c0e74f47; lang=zh",
        appSecret: "tplus-secret-0123",
        "Content-Type": "application/json",
      }),
      "app_key=k&access_token=jst-form-token-0123&sign=s",
    );
    const out = r.redact(`${blob} sid-1-b2211b69c0e74f47 at-query-0123456789 tplus-secret-0123 jst-form-token-0123 application/json`);
    expect(out).toBe("*** *** *** *** *** application/json");
  });
});

describe("KIS transport: redact before the snippet is cut (review #6)", () => {
  it("a token crossing the 160-character cut leaves no prefix in the error", async () => {
    const fetch = async () => new Response(`${"x".repeat(150)}${TOKEN}`, { status: 400, headers: { "Content-Type": "text/plain" } });
    const redactor = new Redactor().add(TOKEN);
    const policy = { redact: (t: string) => redactor.redact(t), authErrorMatcher: () => null, duplicatePatterns: [], throttleStatuses: [429] };
    const error = await postKoas(
      fetch,
      systemClock,
      { url: "https://kis.example/koas/a/api/b", headers: {}, body: "{}", timeoutMs: 2000, label: "a/b" },
      policy as never,
    ).catch((e: unknown) => e);
    const text = JSON.stringify(error) + String((error as Error).message) + JSON.stringify((error as { details?: unknown }).details);
    expect(text).toContain("xxxx");
    expect(text).not.toContain("at-3-48bc");
  });
});

describe("ports boundary", () => {
  it("KV: token records teach the redactor and are stored as they are; every other value is redacted before it is stored", async () => {
    const inner = new MemoryKeyValueStore();
    const r = new Redactor();
    const kv = redactingKv(inner, r);
    await kv.put("tok:jushuitan", JSON.stringify({ accessToken: "rotated-access-0123456789", refreshToken: "rotated-refresh-0123456789" }));
    expect(await inner.get("tok:jushuitan")).toContain("rotated-access-0123456789");
    await kv.put("run:f:r1", JSON.stringify({ error: { message: "upstream said access_token=rotated-access-0123456789" } }));
    expect(await inner.get("run:f:r1")).toBe(JSON.stringify({ error: { message: "upstream said access_token=***" } }));
    // A fresh redactor learns stored tokens when they are read.
    const fresh = new Redactor();
    await redactingKv(inner, fresh).get("tok:jushuitan");
    expect(fresh.redact("rotated-refresh-0123456789")).toBe("***");
  });

  it("logger: message and fields are redacted", () => {
    const lines: string[] = [];
    const write = (m: string, f?: Record<string, unknown>) => void lines.push(m + JSON.stringify(f));
    const log = redactingLogger({ debug: write, info: write, warn: write, error: write }, new Redactor().add("secret-value-0123"));
    log.error("failed: secret-value-0123", { nested: { message: "x secret-value-0123" } });
    expect(lines.join("")).not.toContain("secret-value-0123");
  });

  it("fetch: a redirect is not followed with credentials; it is a clear, non-retryable error (review #9)", async () => {
    const seen: Array<RequestInit | undefined> = [];
    const inner = async (_input: Request | string | URL, init?: RequestInit) => {
      seen.push(init);
      return new Response(null, { status: 307, headers: { Location: "https://evil.example/steal" } });
    };
    const error = await redactingFetch(inner, new Redactor())("https://api.kingdee.com/koas/x", {
      method: "POST",
      headers: { "KIS-AuthData": "ad-4-0123456789" },
    }).catch((e: unknown) => e);
    expect(seen[0]?.redirect).toBe("manual");
    expect(error).toMatchObject({ code: "upstream_redirect", retryable: false });
    expect(String((error as Error).message)).toContain("evil.example");
  });
});

describe("https only for targets and alert webhooks (review #12)", () => {
  it("ALERT_WEBHOOK_URL over plain http to a remote host is a configuration error; loopback and ALLOW_INSECURE_HTTP=true are allowed", async () => {
    const { alertConfigFromEnv } = await import("../../shared/alerts/config.ts");
    expect(() => alertConfigFromEnv({ ALERT_WEBHOOK_URL: "http://oapi.dingtalk.com/robot/send?access_token=abcdef123456" })).toThrow(
      /ALERT_WEBHOOK_URL: plain http/,
    );
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "http://127.0.0.1:9000/hooks/x" })?.url).toContain("127.0.0.1");
    expect(alertConfigFromEnv({ ALERT_WEBHOOK_URL: "http://robots.lan/hooks/x", ALLOW_INSECURE_HTTP: "true" })?.url).toContain("robots.lan");
  });

  it("the fetch boundary refuses plain http to a remote host before sending anything", async () => {
    let calls = 0;
    const inner = async () => {
      calls++;
      return new Response("{}");
    };
    const guarded = redactingFetch(inner, new Redactor());
    const error = await guarded("http://api.kingdee.com/koas/x?access_token=at-123456789", { method: "POST" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "config_invalid", retryable: false });
    expect(String((error as Error).message)).not.toContain("at-123456789");
    expect(calls).toBe(0);
    await guarded("http://127.0.0.1:8080/open/x");
    await guarded("http://localhost:8080/open/x");
    await redactingFetch(inner, new Redactor(), { allowInsecureHttp: true })("http://192.168.1.20:8890/tplus/api/v2/x");
    expect(calls).toBe(3);
  });
});

describe("cut prefixes stay precise", () => {
  it("a word that starts a word-built secret is not masked (dashboard / dashboard-browser-…); a mid-word cut is", () => {
    const r = new Redactor().add("dashboard-browser-test-token-0123456789").add("jst-emulator-app-secret-0123456789");
    expect(r.redact(`{"by":"dashboard","appKey":"jst-emulator-app-key"}`)).toBe(`{"by":"dashboard","appKey":"jst-emulator-app-key"}`);
    expect(r.redact(`token "dashboard-brow" rejected`)).toBe(`token "***" rejected`);
  });
});
