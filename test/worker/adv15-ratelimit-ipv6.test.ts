/**
 * Adversarial review of issue 15 item 3: failed bearer/sign-in attempts are counted per exact
 * CF-Connecting-IP string. An IPv6 client owns at least a /64 (2^64 addresses), so rotating the
 * interface id gives a fresh bucket per guess: the limit never triggers.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { callApi } from "./stack.ts";

const e = env as unknown as Env;

describe("adv15: rate limit keyed on the full IPv6 address", () => {
  it("adv15 ipv6: 15 wrong bearer tokens from one /64 (rotating interface ids) get 429 eventually", async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 15; i++) {
      const res = await callApi(e, "GET", "/flows", {
        token: `wrong-token-${i}-xxxxxxxxxxxxxxxxxxxxxxxx`,
        headers: { "CF-Connecting-IP": `2001:db8:15:15::${i.toString(16)}` },
      });
      statuses.push(res.status);
    }
    expect(statuses, statuses.join(",")).toContain(429);
  });
});
