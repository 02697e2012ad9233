/**
 * Adversarial review of issue 15: a secret learned only from an answer. The Jushuitan refresh answer
 * carries the NEW access and refresh tokens (the server has rotated: the old refresh token is spent).
 * When that answer is not a clean envelope (a gateway appends a trailer), JstBadResponseError keeps a
 * snippet of it in `details` — with the new tokens — and the deployment's redactor has never seen them
 * (not sent in any request, not stored under tok:*). `details` is what worker/http.ts errorBody() puts
 * into the API answer (e.g. POST /reference/:table/refresh, replay), after the response redactor, which
 * cannot know them either. The same holds for the T+ token answer's `bodyStart`.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FetchLike } from "../../shared/ports.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { redactingFetch } from "../../shared/security/secret-ports.ts";
import { failure, startJst, type JstSetup } from "./jushuitan-fixture.ts";

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe("adv15: rotated Jushuitan tokens in an unreadable refresh answer", () => {
  it("adv15 jst refresh details: the error the API would answer with carries no newly issued token", async () => {
    setup = await startJst();
    const creds = setup.emulator.credentials;
    const redactor = Redactor.fromEnv({
      JST_APP_KEY: creds.appKey,
      JST_APP_SECRET: creds.appSecret,
      JST_ACCESS_TOKEN: creds.accessToken,
      JST_REFRESH_TOKEN: creds.refreshToken,
    });
    const issued: string[] = [];
    const gateway: FetchLike = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (!url.includes("/openWeb/auth/refreshToken")) return res;
      const text = await res.text();
      const d = JSON.parse(text).data ?? {};
      for (const k of ["access_token", "refresh_token"]) if (typeof d[k] === "string") issued.push(d[k]);
      return new Response(`${text}\n<!-- gw 7f3 -->`, { status: 200, headers: { "Content-Type": "application/json" } });
    };
    const client = setup.makeClient({ fetch: redactingFetch(gateway, redactor) });
    const error = (await failure(client.refreshTokens())) as { code: string; message: string; hint?: string; details?: unknown };
    expect(issued.length, "the emulator rotated the pair").toBeGreaterThan(0);
    // What worker/http.ts errorBody() + the response redactor (worker/app.ts) produce.
    const answer = redactor.redact(JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint, details: error.details } }));
    for (const t of issued) expect(answer, answer).not.toContain(t.slice(0, 10));
  });
});
