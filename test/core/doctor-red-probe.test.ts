/**
 * Issue 16: `doctor --write-probe` learns the red document form each target accepts (shared/doctor/red-probe.ts)
 * and the flows' corrections use it (env still wins). Both readings of each target have an emulator profile
 * (KIS `redQtySign`, T+ `redQuantities`; ../shared/docs/reversals-and-periods.md §1.4, §2.5): the probe must learn
 * each, and a correction written afterwards must be accepted. Real doctor, real engine, emulators over HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runDoctor, type DoctorOptions } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E, type E2EOptions } from "../helpers/e2e.ts";
import { parseInZone } from "../../shared/util/time.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const PROBE: DoctorOptions = { writeProbe: { probeDate: "2024-06-19" } };
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

async function doctor(options: E2EOptions, doctorOptions: DoctorOptions = PROBE, flowIds?: string[]) {
  e2e ??= await startE2E({ otherInOut: 30, salesOut: 60, ...options });
  const report = await runDoctor(
    { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
    { ...doctorOptions, ...(flowIds ? { flowIds } : {}) },
  );
  const line = (system: string, re: RegExp) => report.checks.find((c) => c.system === system && re.test(c.title));
  return { report, line };
}

/** The signed quantity of the probe documents in KIS: the red one reverses the blue one. */
const kisProbeNet = (e: E2E) =>
  e.stack.kis
    .bills()
    .filter((b) => String(b.FBillNo).startsWith("JSTB-PROBE-"))
    .flatMap((b) => b.Entry.map((l) => (b.Head.FROB === -1 ? -Math.abs(Number(l.FQty)) : Number(l.FQty))))
    .reduce((a, b) => a + b, 0);

async function cancelPostedKis(e: E2E) {
  expect((await e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
  const billNos = new Set(e.stack.kis.bills().map((b) => b.FBillNo));
  const doc = e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => billNos.has(String(d.io_id)))!;
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, status: "Cancelled" });
  e.clock.advance(15 * 60_000);
  const runs = await e.runToCompletion(KIS);
  return { id: String(doc.io_id), corrections: runs.flatMap((r) => r.corrections ?? []), letters: await new FlowStateStore(e.kv).listDeadLetters(KIS) };
}

describe("doctor --write-probe learns the KIS red bill form (FROB -1)", () => {
  it("an account that takes positive quantities with FROB -1: learned, shown, and the next reversal is accepted", async () => {
    const { report, line } = await doctor({ kis: { redQtySign: "positive" } }, PROBE, [KIS]);
    expect(report.findings.redForm?.kis?.redQtySign).toBe("positive");
    expect(line("kis", /^write probe red bill JSTB-PROBE-/)).toMatchObject({
      status: "ok",
      detail: expect.stringMatching(/accepted FROB=-1, positive quantities/),
    });
    expect(line("kis", /^corrections after posting/)?.detail).toMatch(/KIS_RED_QTY_SIGN=positive, .*\(doctor write probe /);
    expect(kisProbeNet(e2e!)).toBe(0);
    const { id, corrections, letters } = await cancelPostedKis(e2e!);
    expect(letters).toEqual([]);
    expect(corrections.map((c) => [c.externalKey, c.status])).toEqual([[`${id}-R1`, "written"]]);
  });

  it("an account that takes negative quantities with FROB -1 (the stored form) learns negative", async () => {
    const { report } = await doctor({ kis: { redQtySign: "negative" } }, PROBE, [KIS]);
    expect(report.findings.redForm?.kis?.redQtySign).toBe("negative");
    expect(kisProbeNet(e2e!)).toBe(0);
  });

  it("KIS_RED_QTY_SIGN still wins over what the probe learned; a read-only doctor later keeps the learned form", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0, kis: { redQtySign: "positive" }, env: { KIS_RED_QTY_SIGN: "negative" } });
    const { report, line } = await doctor({}, PROBE, [KIS]);
    expect(report.findings.redForm?.kis?.redQtySign).toBe("positive");
    expect(line("kis", /^corrections after posting/)?.detail).toMatch(/KIS_RED_QTY_SIGN=negative, .*\(env KIS_RED_QTY_SIGN\)/);
    // The env's (wrong for this account) sign is what the engine sends: the reversal is refused, not silently re-signed.
    const { id, letters } = await cancelPostedKis(e2e);
    expect(letters.map((l) => l.externalKey)).toEqual([`${id}-R1`]);
    delete e2e.env.KIS_RED_QTY_SIGN;
    const readOnly = await doctor({}, {}, [KIS]);
    expect(readOnly.line("kis", /^corrections after posting/)?.detail).toMatch(/KIS_RED_QTY_SIGN=positive, .*\(doctor write probe /);
  });
});

describe("doctor --write-probe learns the T+ red voucher form", () => {
  const members = (e: E2E) =>
    e.stack.jushuitan
      .documents(JST_PATHS.salesOut)
      .filter(
        (d) =>
          Number(d.shop_id) === 0 &&
          d.status === "Confirmed" &&
          String(d.io_date).startsWith("2024-06-19") &&
          parseInZone(String(d.modified))! < parseInZone("2024-06-20 00:00:00")!,
      );

  it("an account that refuses negative quantities: a return business type (14) with positive quantities; a member's cancellation is then accepted", async () => {
    const { report, line } = await doctor({ tplus: { redQuantities: "positive" } }, PROBE, [TPLUS]);
    expect(report.findings.redForm?.tplus).toMatchObject({ redQtySign: "positive", redBusiType: "14" });
    expect(line("tplus", /^write probe red voucher/)).toMatchObject({
      status: "ok",
      detail: expect.stringMatching(/accepted BusiType 14, positive quantities/),
    });
    expect(line("tplus", /^corrections after posting/)?.detail).toMatch(/TPLUS_RED_QTY_SIGN=positive, TPLUS_RED_BUSI_TYPE=14, .*\(doctor write probe /);
    const e = e2e!;
    expect((await e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const m = members(e).find((d) => (d.items as Row[]).length >= 1)!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m.io_id, status: "Cancelled" });
    e.clock.advance(24 * 3600_000);
    const runs = await e.runToCompletion(TPLUS);
    const corrections = runs.flatMap((r) => r.corrections ?? []);
    expect(corrections.length).toBeGreaterThan(0);
    expect(corrections.every((c) => c.status === "written")).toBe(true);
    const red = e.stack.tplus.vouchers("otherDispatch").find((v) => v.ExternalCode === corrections[0]!.externalKey)!;
    expect((red.payload.BusiType as Row).Code).toBe("14");
    expect((red.payload.RDRecordDetails as Row[]).every((l) => Number(l.BaseQuantity) > 0)).toBe(true);
  });

  it("an account that takes negative quantities in the voucher's own business type learns that (no return type)", async () => {
    const { report } = await doctor({ tplus: { redQuantities: "negative" } }, PROBE, [TPLUS]);
    expect(report.findings.redForm?.tplus).toEqual({ redQtySign: "negative", at: expect.any(Number) });
  });
});
