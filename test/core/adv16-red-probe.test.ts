/**
 * Adversary of issue 16 (session 4): `doctor --write-probe` red part (shared/doctor/red-probe.ts) on real books.
 * Real doctor, real KIS client, the KIS emulator over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const kisProbeNet = (e: E2E) =>
  e.stack.kis
    .bills()
    .filter((b) => String(b.FBillNo).startsWith("JSTB-PROBE-"))
    .flatMap((b) => b.Entry.map((l) => (b.Head.FROB === -1 ? -Math.abs(Number(l.FQty)) : Number(l.FQty))))
    .reduce((a, b) => a + b, 0);

describe("adversary 16: the write probe's net effect on the books", () => {
  // FINDING adv16-probe-net-duplicate: the write probe creates the blue probe bill twice (the second create learns
  // how KIS answers a duplicate FBillNo). On an account that does not enforce unique bill numbers (a finding the
  // probe itself reports: "set KIS_PRECHECK=always") both blue bills are booked, but the red probe reverses one:
  // the account is left with one probe bill's quantities in stock, and the red line says "delete the probe bills
  // … (the red one reverses the blue one)" as if the net were nil. Real books, real stock.
  it("FINDING adv16-probe-net-duplicate: a KIS account that accepts a duplicate FBillNo is left with net zero probe stock", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0, kis: { enforceUniqueBillNo: false } });
    const report = await runDoctor(
      { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
      { writeProbe: { probeDate: "2024-06-19" }, flowIds: [KIS] },
    );
    expect(report.findings.kisDuplicateBillNo).toBe("accepted");
    expect(report.findings.redForm?.kis?.redQtySign).toBeDefined();
    expect(kisProbeNet(e2e)).toBe(0);
  });
});
