/**
 * Adversary (issue 18 item 2, "hono's own secure-headers/csrf/bearer-auth instead of hand-written equivalents"):
 * secure-headers is hono's now, but the CSRF checks are still written by hand, three times, with three rules:
 *   worker/http.ts requireAuth (API writes with the session cookie): a missing or "null" Origin is refused;
 *   worker/dashboard/index.ts crossSite (POST /login): a missing or "null" Origin is NOT cross-site;
 *   worker/dashboard/index.ts sameOrigin (POST /logout): "null" refused, a missing Origin falls back to Sec-Fetch-Site.
 * (and the bearer header is parsed by hand too: http.ts /^Bearer\s+(.+)$/i.) A sign-in form posted from a sandboxed
 * or data: page carries `Origin: null`; hono/csrf refuses it for form posts, as requireAuth does for API writes.
 * Expected: 403 and no session cookie, as for https://evil.test. Was: 303 with a session cookie. Fixed: one rule in
 * worker/same-origin.ts for the three (hono/csrf is weaker for JSON writes, docs/performance.md).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { callApi } from "./stack.ts";

const e = env as unknown as Env;
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

describe("the dashboard's sign-in and the API agree on what a cross-site request is", () => {
  it('a sign-in posted with "Origin: null" is refused like one from another site', async () => {
    const body = new URLSearchParams({ token: e.SYNC_API_TOKEN! }).toString();
    const res = await callApi(e, "POST", "/login", { token: null, body, headers: { ...FORM, Origin: "null" } });
    expect(res.headers.get("Set-Cookie")).toBeNull();
    expect(res.status).toBe(403);
  });

  it("a sign-in without Origin passes only with Sec-Fetch-Site: same-origin, as sign-out and cookie writes do", async () => {
    const body = new URLSearchParams({ token: e.SYNC_API_TOKEN! }).toString();
    const bare = await callApi(e, "POST", "/login", { token: null, body, headers: { ...FORM, "CF-Connecting-IP": "203.0.113.181" } });
    expect(bare.status).toBe(403);
    const fetchMeta = { ...FORM, "Sec-Fetch-Site": "same-origin", "CF-Connecting-IP": "203.0.113.182" };
    const same = await callApi(e, "POST", "/login", { token: null, body, headers: fetchMeta });
    expect(same.status).toBe(303);
    const cookie = (same.headers.get("Set-Cookie") ?? "").split(";")[0]!;
    const write = await callApi(e, "POST", "/flows/nope/sync", { token: null, body: {}, headers: { Cookie: cookie, Origin: "null" } });
    expect(write.status).toBe(401);
  });
});
