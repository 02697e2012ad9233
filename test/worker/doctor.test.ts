import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import { callApi, createStack, fillReferenceTables, type HubStack, JST, workerEnv } from "./stack.ts";

let stack: HubStack;
let e: Env;

beforeAll(async () => {
  stack = await createStack({ documents: { [JST.otherInOut]: 20, [JST.salesOut]: 20 }, days: 2 });
  e = workerEnv(stack, { MAX_SUBREQUESTS: "10000" });
  await fillReferenceTables(stack, e);
});

describe("GET /doctor (Worker)", () => {
  it("needs the token", async () => {
    expect((await callApi(e, "GET", "/doctor", { token: null })).status).toBe(401);
  });

  it("answers the go-live checklist for this deployment's flows", async () => {
    const res = await callApi(e, "GET", "/doctor");
    expect(res.status).toBe(200);
    const checks = res.json.checks as Array<{ system: string; title: string; status: string }>;
    expect(checks.find((c) => c.system === "kis" && /credentials/.test(c.title))?.status).toBe("ok");
    expect(checks.find((c) => c.system === "tplus" && /FindVoucherList reachable/.test(c.title))?.status).toBe("ok");
    expect(checks.filter((c) => c.status === "fail").map((c) => c.title)).toEqual([]);
  });

  it("the dashboard overview shows the last checklist", async () => {
    const login = await callApi(e, "POST", "/login", { token: null, body: new URLSearchParams({ token: e.SYNC_API_TOKEN! }).toString(), headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://bridge.test" } });
    const cookie = (login.headers.get("Set-Cookie") ?? "").split(";")[0]!;
    const page = await callApi(e, "GET", "/", { token: null, headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toContain("上线检查 / Go-live check");
    expect(page.text).toMatch(/<tr data-status="ok"><td class="">✓<\/td><td>kis/);
  });
});
