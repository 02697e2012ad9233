/**
 * `doctor` against the emulators over HTTP, in the evidence profile and the alternatives: the checklist is
 * all ✓/? where the product works, names the ✗ (with the fix) where it would not, and the write probe learns
 * the duplicate answer only when a test account or probe date is named.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DOCTOR_RESULT_KEY, formatDoctorReport, kisPrecheckFromFindings, runDoctor, type DoctorOptions } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E, type E2EOptions } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function doctor(options: E2EOptions = {}, doctorOptions: DoctorOptions = {}) {
  e2e = await startE2E({ otherInOut: 30, salesOut: 30, ...options });
  const report = await runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows }, doctorOptions);
  return { report, text: formatDoctorReport(report), line: (re: RegExp) => report.checks.find((c) => re.test(c.title)) };
}

describe("jst-bridge doctor (read-only)", () => {
  it("evidence profile: every check passes or is unknown, and the result is stored", async () => {
    const { report, text } = await doctor();
    if (process.env.SHOW_DOCTOR) console.log(text);
    expect(
      report.checks.filter((c) => c.status === "fail"),
      text,
    ).toEqual([]);
    expect(text).toMatch(/✓ \[jushuitan jst-other-in-to-kis\] credentials and API permission for \/open\/other\/inout\/query/);
    expect(text).toMatch(/✓ \[kis\] material field F_103/);
    expect(text).toMatch(/✓ \[tplus\] OtherDispatchOpenApi\/FindVoucherList reachable/);
    expect(text).toMatch(/✓ \[tplus jst-sales-out-to-tplus\] codes of the sampled documents exist in T\+/);
    expect(text).toMatch(/clock skew/);
    expect(JSON.parse((await e2e!.kv.get(DOCTOR_RESULT_KEY))!).checks.length).toBe(report.checks.length);
  });

  it("names what would break: no custom field on KIS materials, KIS list filters ignored, T+ without FindVoucherList", async () => {
    const { report, text, line } = await doctor({
      skipReferenceRefresh: true,
      kis: { materialFields: "none", listIgnoresFilters: true },
      tplus: { disabledApis: ["OtherDispatchOpenApi/FindVoucherList"] },
    });
    expect(report.ok).toBe(false);
    expect(line(/material field F_103/)).toMatchObject({ status: "fail", fix: expect.stringMatching(/F_103/) });
    expect(line(/FindVoucherList reachable/)).toMatchObject({ status: "fail", fix: expect.stringMatching(/接口权限/) });
    expect(text).toMatch(/✗/);
  });

  it("a Jushuitan endpoint without API permission (190) is a ✗ with how to apply for it", async () => {
    e2e = await startE2E({ otherInOut: 10, salesOut: 10 });
    e2e.stack.jushuitan.addFaults([{ kind: "bizError", path: "/open/orders/out/simple/query", code: 190, msg: "无权限访问该接口", times: 5 }]);
    const report = await runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows });
    const perm = report.checks.filter((c) => c.system === "jushuitan" && /API permission/.test(c.title));
    expect(perm.find((c) => c.flowId === "jst-other-in-to-kis")?.status).toBe("ok");
    expect(perm.find((c) => c.flowId === "jst-sales-out-to-tplus")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/jst_no_permission/),
      fix: expect.stringMatching(/API权限/),
    });
  });

  it("the legacy emulator profiles: only the missing FindVoucherList is named (fix-13: really legacyQuery)", async () => {
    // The test used voucherApi "openApi" under a "legacy" title; legacyQuery has no FindVoucherList, which doctor
    // must name (recovery then relies on T+'s duplicate check), while everything else passes.
    const { report, text } = await doctor({ kis: { materialFields: "list" }, tplus: { voucherApi: "legacyQuery", archivePaging: "pageIndex" } });
    const failed = report.checks.filter((c) => c.status === "fail");
    expect(
      failed.map((c) => c.title),
      text,
    ).toEqual(["OtherDispatchOpenApi/FindVoucherList reachable"]);
    expect(failed[0]?.fix, text).toMatch(/duplicate check/);
  });
});

describe("doctor --write-probe", () => {
  it("is refused without a test account or probe date", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 5 });
    await expect(
      runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows }, { writeProbe: {} }),
    ).rejects.toThrow(/test account or a probe date/);
  });

  it("learns that KIS refuses a duplicate FBillNo and how T+ answers a duplicate ExternalCode", async () => {
    const { report, text } = await doctor({}, { writeProbe: { testAccount: true } });
    expect(report.findings).toMatchObject({ kisDuplicateBillNo: "refused", kisBillNoHonoured: true, tplusDuplicate: { code: "EXVD0010", recognised: true } });
    expect(kisPrecheckFromFindings(report.findings)).toBe("after_unknown_outcome");
    expect(text).toMatch(/✓ \[kis\] write probe JSTB-PROBE-/);
  });

  it("a KIS that accepts a duplicate FBillNo asks for KIS_PRECHECK=always", async () => {
    const { report } = await doctor({ kis: { enforceUniqueBillNo: false } }, { writeProbe: { probeDate: "2024-06-19" } });
    expect(report.findings.kisDuplicateBillNo).toBe("accepted");
    expect(kisPrecheckFromFindings(report.findings)).toBe("always");
    expect(report.checks.find((c) => /write probe/.test(c.title) && c.system === "kis")).toMatchObject({
      status: "fail",
      fix: expect.stringMatching(/KIS_PRECHECK=always/),
    });
  });
});
