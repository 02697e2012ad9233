/**
 * Security pass inside workerd: with the Worker's real handlers (cron, API, dashboard), no configured
 * secret appears in console output, in any API or dashboard response, or in any KV value except the
 * token records themselves.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../worker/env.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { callApi, createStack, fillReferenceTables, fireCron, JST, workerEnv } from "./stack.ts";

const SECRETS = [
  "JST_APP_SECRET",
  "JST_ACCESS_TOKEN",
  "JST_REFRESH_TOKEN",
  "TPLUS_APP_SECRET",
  "TPLUS_OPEN_TOKEN",
  "TPLUS_REFRESH_TOKEN",
  "KIS_CLIENT_SECRET",
  "KIS_ACCESS_TOKEN",
  "KIS_AUTH_DATA",
  "KIS_REFRESH_AUTH_DATA_TOKEN",
  "SYNC_API_TOKEN",
] as const;

afterEach(() => vi.restoreAllMocks());

describe("security inside workerd", () => {
  it("no secret in console output, API and dashboard responses, or stored state", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 300, [JST.salesOut]: 120 }, days: 2 });
    const e = workerEnv(stack, { MAX_SUBREQUESTS: "10000", LOG_LEVEL: "debug" });
    await fillReferenceTables(stack, e);
    // Dead letters too: break the material table.
    const refs = new KvReferenceStore(new WorkersKvStore(e.STATE));
    const table = (await refs.get("kis_materials"))!;
    await refs.put({ ...table, rows: table.rows.slice(5) });

    const output: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void output.push(args.map(String).join(" ")));
    }
    const now = Date.now();
    await fireCron(e, "*/30 * * * *", now);
    await fireCron(e, "10 1 * * *", now);
    // A failing configuration path too (wrong T+ secret → auth error) through the HTTP API.
    const bad = { ...e, TPLUS_APP_SECRET: "wrong-secret-value-0123456789" } as Env;
    const failed = await callApi(bad, "POST", "/flows/jst-sales-out-to-tplus/sync", { body: { from: now - 3 * 86_400_000, to: now - 2 * 86_400_000 } });
    output.push(failed.text);

    for (const path of [
      "/flows",
      "/flows/jst-other-in-to-kis",
      "/flows/jst-sales-out-to-tplus",
      "/runs?limit=50",
      "/dead-letters?status=all",
      "/apis",
      "/reference",
    ]) {
      const res = await callApi(e, "GET", path);
      expect(res.status, path).toBe(200);
      output.push(res.text);
    }
    const login = await callApi(e, "POST", "/login", {
      token: null,
      body: `token=${encodeURIComponent(e.SYNC_API_TOKEN!)}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://bridge.test" },
    });
    output.push(login.text, login.headers.get("Location") ?? "");
    const cookie = (login.headers.get("Set-Cookie") ?? "").split(";")[0]!;
    for (const path of ["/", "/ui/flows/jst-other-in-to-kis", "/ui/flows/jst-sales-out-to-tplus"]) {
      const page = await callApi(e, "GET", path, { token: null, headers: { Cookie: cookie } });
      expect(page.status, path).toBe(200);
      output.push(page.text);
    }
    const keys = await env.STATE.list();
    for (const k of keys.keys) if (!k.name.startsWith("tok:")) output.push(`${k.name}=${(await env.STATE.get(k.name)) ?? ""}`);

    const haystack = output.join("\n");
    expect(haystack.length).toBeGreaterThan(10_000);
    expect(haystack).toContain("lookup_miss"); // the dead letters are in there
    for (const name of SECRETS) {
      const value = (e as unknown as Record<string, string>)[name];
      if (!value || value.length < 8) continue;
      expect(haystack.includes(value), `${name} leaked`).toBe(false);
    }
    expect(haystack.includes("wrong-secret-value-0123456789")).toBe(false);
  });
});
