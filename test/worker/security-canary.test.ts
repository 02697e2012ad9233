/**
 * Issue 15 / security review #1 inside workerd: a Jushuitan upstream that echoes the access token, app
 * secret and everything else it was sent. Through the Worker's real handlers (cron, API, dashboard) none
 * of it reaches run records, dead letters, API or dashboard responses, Worker logs or the alert body.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { echoedSecrets, echoingFetch } from "../helpers/echo-upstream.ts";
import { searchForms } from "../helpers/secret-forms.ts";
import { callApi, createStack, fillReferenceTables, fireCron, JST, workerEnv } from "./stack.ts";

afterEach(() => vi.restoreAllMocks());

describe("canary: an upstream echoing its credentials leaks nothing through the Worker", () => {
  it("Jushuitan echo: run records, dead letters, API, dashboard, Worker logs, alert body", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 40, [JST.salesOut]: 10 }, days: 2 });
    const e = workerEnv(stack, {
      MAX_SUBREQUESTS: "400",
      LOG_LEVEL: "debug",
      ALERT_WEBHOOK_URL: "https://robots.example/hooks/canary-hook-0123456789",
      ALERT_KIND: "json",
    });
    await fillReferenceTables(stack, e);

    const alertBodies: string[] = [];
    const original = globalThis.fetch;
    const upstream = echoingFetch((input, init) => original(input, init), [{ path: JST.otherInOut, shape: "jst" }]);
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url.startsWith("https://robots.example/")) {
        alertBodies.push(String(init?.body ?? ""));
        return Response.json({ ok: true });
      }
      return upstream.fetch(input as Request | string | URL, init);
    });
    const output: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void output.push(args.map(String).join(" ")));
    }

    await fireCron(e, "*/30 * * * *", Date.now());
    const now = Date.now();
    const inline = await callApi(e, "POST", "/flows/jst-other-in-to-kis/sync", { body: { from: now - 2 * 86_400_000, to: now - 86_400_000 } });
    output.push(inline.text);
    expect(upstream.echoed.length).toBeGreaterThan(0);
    expect(alertBodies.length, "the failed cron run sends an alert").toBeGreaterThan(0);

    for (const path of ["/flows", "/flows/jst-other-in-to-kis", "/runs?limit=50", "/dead-letters?status=all", "/apis"]) {
      const res = await callApi(e, "GET", path);
      expect(res.status, path).toBe(200);
      output.push(res.text);
    }
    const runs = await callApi(e, "GET", "/runs?flow=jst-other-in-to-kis&limit=5");
    for (const run of runs.json.runs as Array<{ id: string }>) output.push((await callApi(e, "GET", `/runs/${run.id}`)).text);
    expect(output.join("\n")).toContain("jst_token_invalid"); // the echoing error is in there

    const login = await callApi(e, "POST", "/login", {
      token: null,
      body: `token=${encodeURIComponent(e.SYNC_API_TOKEN!)}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://bridge.test" },
    });
    const cookie = (login.headers.get("Set-Cookie") ?? "").split(";")[0]!;
    for (const path of ["/", "/ui/flows/jst-other-in-to-kis"]) {
      const page = await callApi(e, "GET", path, { token: null, headers: { Cookie: cookie } });
      expect(page.status, path).toBe(200);
      output.push(page.text);
    }
    const stored: string[] = [];
    const tokens: string[] = [];
    for (const k of (await env.STATE.list()).keys) {
      const value = (await env.STATE.get(k.name)) ?? "";
      if (k.name.startsWith("tok:"))
        tokens.push(...Object.values(JSON.parse(value) as Record<string, unknown>).filter((v): v is string => typeof v === "string"));
      else stored.push(`${k.name}=${value}`);
    }

    const secrets = [
      ...new Set([
        ...echoedSecrets(upstream.echoed),
        e.JST_APP_SECRET!,
        e.JST_ACCESS_TOKEN!,
        e.JST_REFRESH_TOKEN!,
        e.SYNC_API_TOKEN!,
        ...tokens.filter((t) => t.length >= 12),
      ]),
    ];
    const places = { "responses + Worker logs": output.join("\n"), "stored state": stored.join("\n"), "alert body": alertBodies.join("\n") };
    // Each secret in every encoded form (the upstream echoed them all).
    const leaks = Object.entries(places).flatMap(([where, text]) =>
      secrets.filter((s) => searchForms(s).some((f) => text.includes(f))).map((s) => `${where}: ${s.slice(0, 8)}…`),
    );
    expect(leaks).toEqual([]);
  });
});
