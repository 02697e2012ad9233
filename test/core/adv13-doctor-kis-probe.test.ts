/**
 * adv-13: doctor --write-probe must only record "KIS refuses a duplicate FBillNo" when the second create was
 * refused AS A DUPLICATE. Any other failure of the second create (a throttle, a 5xx, a closed period, an auth
 * hiccup) says nothing about duplicates; recording "refused" turns KIS_PRECHECK into "after_unknown_outcome",
 * i.e. the runner trusts KIS to refuse a resend after a lost answer — on an account that does NOT enforce
 * unique bill numbers (nothing public says KIS does: wire-evidence.md §3 "no evidence found", ranked item 5).
 */
import { afterEach, describe, expect, it } from "vitest";
import { kisPrecheckFromFindings, runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: KIS write probe reads only a duplicate refusal as 'refused'", () => {
  for (const fault of [
    { kind: "bizError" as const, reason: "当前会计期间已结账，不能保存单据" },
    { kind: "http5xx" as const, status: 503 },
  ]) {
    it(`a second create failing with ${fault.kind} (KIS accepts duplicates) does not unlock precheck after_unknown_outcome`, async () => {
      e2e = await startE2E({ otherInOut: 5, salesOut: 5, kis: { enforceUniqueBillNo: false } });
      // The first probe create succeeds; the second one fails for a reason that is not "duplicate bill number".
      e2e.stack.kis.addFaults([{ ...fault, path: "/create", skip: 1, times: 5 }]);
      const report = await runDoctor(
        { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
        { writeProbe: { probeDate: "2024-06-19" } },
      );
      expect(report.findings.kisDuplicateBillNo).not.toBe("refused");
      expect(kisPrecheckFromFindings(report.findings)).toBe("always");
      expect(report.checks.find((c) => c.system === "kis" && /write probe/.test(c.title))?.status).not.toBe("ok");
    });
  }
});
