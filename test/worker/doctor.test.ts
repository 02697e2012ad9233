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
    const login = await callApi(e, "POST", "/login", {
      token: null,
      body: new URLSearchParams({ token: e.SYNC_API_TOKEN! }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://bridge.test" },
    });
    const cookie = (login.headers.get("Set-Cookie") ?? "").split(";")[0]!;
    const page = await callApi(e, "GET", "/", { token: null, headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toContain("上线检查 / Go-live check");
    expect(page.text).toMatch(/<tr data-status="ok"><td class="">✓<\/td><td>kis/);
  });
});

describe("the red form doctor --write-probe learned (issue 16), in GET /flows and GET /doctor", () => {
  it("a stored probe result is the flow's red form, with its source; a read-only GET /doctor keeps it", async () => {
    // What a CLI/Action `doctor --write-probe` against this KV stores (shared/doctor/red-form.ts RED_FORM_KEY).
    await e.STATE.put(
      "doctor/red-form",
      JSON.stringify({
        kis: { redQtySign: "positive", at: Date.UTC(2026, 0, 2) },
        tplus: { redQtySign: "positive", redBusiType: "14", at: Date.UTC(2026, 0, 2) },
      }),
    );
    const flows = (await callApi(e, "GET", "/flows")).json.flows as Array<{
      id: string;
      target: { redForm?: { settings: Record<string, string>; source: string } };
    }>;
    const kis = flows.find((f) => f.id === "jst-other-in-to-kis")!;
    const tplus = flows.find((f) => f.id === "jst-sales-out-to-tplus")!;
    expect(kis.target.redForm).toMatchObject({ settings: { KIS_RED_QTY_SIGN: "positive" }, source: "doctor write probe 2026-01-02T00:00:00.000Z" });
    expect(tplus.target.redForm).toMatchObject({
      settings: { TPLUS_RED_QTY_SIGN: "positive", TPLUS_RED_BUSI_TYPE: "14" },
      source: expect.stringMatching(/^doctor write probe/),
    });
    const checks = (await callApi(e, "GET", "/doctor")).json.checks as Array<{ system: string; title: string; detail?: string }>;
    expect(checks.find((c) => c.system === "kis" && /^corrections after posting/.test(c.title))?.detail).toMatch(
      /KIS_RED_QTY_SIGN=positive, .*\(doctor write probe 2026-01-02/,
    );
    expect(JSON.parse((await e.STATE.get("doctor/red-form"))!).kis.redQtySign).toBe("positive");
  });
});
