/**
 * Adversarial review of issue 15 item 3: "refuse to start with a weak SYNC_API_TOKEN". The check is
 * length ≥ 32 and ≥ 8 distinct characters, so a repeated dictionary word passes. The session cookie is
 * HMAC-SHA256 keyed with that token over a message the cookie itself shows (epoch|iat|nonce), so one
 * leaked cookie lets an attacker test guesses offline at GPU speed, no rate limit involved.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { callApi } from "./stack.ts";

const e = env as unknown as Env;

describe("adv15: token strength", () => {
  for (const weak of ["Password1!Password1!Password1!Pw", "qwertyuiqwertyuiqwertyuiqwertyui", "12345678123456781234567812345678"]) {
    it(`adv15 weak token: "${weak}" closes the API (503) instead of being accepted`, async () => {
      const weakEnv = { ...e, SYNC_API_TOKEN: weak } as Env;
      const res = await callApi(weakEnv, "GET", "/flows", { token: weak, headers: { "CF-Connecting-IP": "198.51.100.77" } });
      expect(res.status).toBe(503);
    });
  }
});
