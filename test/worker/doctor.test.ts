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
});
