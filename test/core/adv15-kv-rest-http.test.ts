/**
 * Adversarial review of issue 15 item 3 ("https only for targets unless loopback or explicitly allowed;
 * no redirects with credentials"). The Action/CLI `state: kv` store — the setting the docs now recommend —
 * talks to the Cloudflare API with `Authorization: Bearer CF_API_TOKEN` through the raw fetch, not the
 * guarded one (redactingFetch): CF_API_BASE_URL=http://… sends the account-wide token in clear text, and a
 * 3xx from the API base is followed.
 */
import { describe, expect, it } from "vitest";
import { type FetchLike, silentLogger, systemClock } from "../../shared/ports.ts";
import { openState } from "../../action/cli/state.ts";

const CF_TOKEN = "cf-api-token-0123456789abcdefghijklmnopqrstuv";

function wire() {
  const sent: Array<{ url: string; auth: string | null; redirect: string | undefined }> = [];
  const fetch: FetchLike = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    sent.push({ url, auth: new Headers(init?.headers).get("Authorization"), redirect: init?.redirect });
    return new Response(JSON.stringify({ success: true, result: [], result_info: { cursor: "" } }), {
      status: 404,
      headers: { "Content-Type": "application/json" },
    });
  };
  return { sent, fetch };
}

const env = (base: string) => ({ CF_ACCOUNT_ID: "acc0123", CF_API_TOKEN: CF_TOKEN, CF_KV_NAMESPACE_ID: "ns0123", CF_API_BASE_URL: base });

describe("adv15: state: kv over plain http", () => {
  it("adv15 kv-rest: a plain-http CF_API_BASE_URL to a non-loopback host is refused before the token is sent", async () => {
    const { sent, fetch } = wire();
    const state = openState({
      kind: "kv",
      dir: ".jst-bridge",
      cwd: process.cwd(),
      env: env("http://kv-proxy.example.com/client/v4"),
      fetch,
      clock: systemClock,
      logger: silentLogger,
    });
    await state.kv.get("tok:jushuitan:default").catch(() => undefined);
    const clear = sent.filter((s) => s.url.startsWith("http:") && s.auth?.includes(CF_TOKEN));
    expect(clear, JSON.stringify(sent)).toEqual([]);
  });

  it("adv15 kv-rest: requests carrying the Cloudflare token do not follow redirects", async () => {
    const { sent, fetch } = wire();
    const state = openState({
      kind: "kv",
      dir: ".jst-bridge",
      cwd: process.cwd(),
      env: env("https://api.cloudflare.com/client/v4"),
      fetch,
      clock: systemClock,
      logger: silentLogger,
    });
    await state.kv.get("tok:jushuitan:default").catch(() => undefined);
    expect(sent.length).toBeGreaterThan(0);
    for (const s of sent) expect(String(s.redirect), s.url).toMatch(/manual|error/);
  });
});
