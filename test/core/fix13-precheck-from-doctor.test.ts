/**
 * fix-13 (finding 1): the runner reads the stored doctor result. A write probe that saw KIS keep the FBillNo and
 * refuse a duplicate lets the runner skip the per-bill lookup ("after_unknown_outcome"); KIS_PRECHECK still wins.
 */
import { afterEach, describe, expect, it } from "vitest";
import { chooseKisPrecheck, runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const listCalls = (e: E2E) => e.stack.kis.requests().filter((r) => /miscellaneousreceipt\/list/i.test(r.path)).length;

describe("fix13: the KIS precheck follows the stored doctor write probe", () => {
  it("a probe that saw a refused duplicate makes the runner skip the per-bill lookup", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0 });
    const report = await runDoctor(
      { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
      { writeProbe: { probeDate: "2024-06-19" } },
    );
    expect(report.findings.kisDuplicateBillNo).toBe("refused");
    expect(await chooseKisPrecheck(undefined, e2e.kv)).toMatchObject({ mode: "after_unknown_outcome", source: expect.stringMatching(/^doctor write probe/) });
    e2e.stack.kis.clearRequests();
    await e2e.runToCompletion(KIS);
    expect(e2e.stack.kis.state().bills.length).toBeGreaterThan(1);
    expect(listCalls(e2e)).toBe(0);
  });

  it("KIS_PRECHECK=always overrides the stored finding", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, env: { KIS_PRECHECK: "always" } });
    await runDoctor(
      { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
      { writeProbe: { probeDate: "2024-06-19" } },
    );
    expect(await chooseKisPrecheck("always", e2e.kv)).toEqual({ mode: "always", source: "env KIS_PRECHECK" });
    e2e.stack.kis.clearRequests();
    await e2e.runToCompletion(KIS);
    expect(listCalls(e2e)).toBeGreaterThan(0);
  });
});
