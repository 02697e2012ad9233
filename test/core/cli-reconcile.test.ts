import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
const FROM = day(E2E_START - 6 * DAY_MS);
const TO = day(E2E_START - DAY_MS);

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const envOf = (harness: CliHarness) => harness.e2e.env as Record<string, string>;
async function kisUrl(harness: CliHarness) {
  return envOf(harness).KIS_BASE_URL!;
}

describe("jst-bridge reconcile (CLI in-process, emulators over HTTP)", () => {
  it("KIS: no drift after a backfill; a bill deleted in KIS is found, with its day, warehouse and quantity, and exits 3", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const sync = await h.cli(["sync", KIS, "--from", FROM, "--to", TO]);
    expect(sync.code, sync.stderr).toBe(0);

    const clean = await h.cli(["reconcile", KIS, "--from", FROM, "--to", TO, "--json"]);
    expect(clean.code, clean.stderr).toBe(0);
    const before = JSON.parse(clean.stdout);
    expect(before.drift).toBe(false);
    expect(before.expectedDocuments).toBeGreaterThan(20);
    expect(before.targetDocuments).toBe(before.expectedDocuments);
    expect(before.missing).toEqual([]);

    // Someone deletes one bill in KIS (over the emulator's admin route, as an operator would in the UI).
    const victim = h.e2e.stack.kis.bills()[3]!;
    const res = await fetch(`${await kisUrl(h)}/__emulator/bills/${encodeURIComponent(victim.FBillNo)}`, { method: "DELETE" });
    expect(await res.json()).toEqual({ removed: true });

    const drift = await h.cli(["reconcile", KIS, "--from", FROM, "--to", TO]);
    expect(drift.code).toBe(3);
    expect(drift.stdout).toContain(`missing in the target (1): ${victim.FBillNo}`);
    const qty = victim.Entry.reduce((n, e) => n + Number(e.FQty), 0);
    const row = drift.stdout.split("\n").find((l) => l.includes("DRIFT"))!;
    expect(row).toContain(String(victim.Head.Fdate).slice(0, 10));
    expect(row).toContain(String(victim.Head.FDCStockID));
    // source qty − target qty on that day/warehouse is exactly the deleted bill's quantity
    const json = JSON.parse((await h.cli(["reconcile", KIS, "--from", FROM, "--to", TO, "--json"])).stdout);
    const drifted = json.rows.filter((r: { drift: boolean }) => r.drift);
    expect(drifted).toHaveLength(1);
    expect(drifted[0].missing).toBe(1);
    expect(drifted[0].sourceQty - drifted[0].targetQty).toBeCloseTo(qty, 6);
    expect(json.exitCode).toBe(3);
  });

  it("T+: a merged day's voucher deleted in T+ is reported missing for its day and warehouse", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const sync = await h.cli(["sync", TPLUS, "--from", FROM, "--to", TO]);
    expect(sync.code, sync.stderr).toBe(0);
    const clean = await h.cli(["reconcile", TPLUS, "--from", FROM, "--to", TO, "--json"]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout).drift).toBe(false);

    const victim = h.e2e.stack.tplus.vouchers("otherDispatch")[0]!;
    const res = await fetch(`${envOf(h).TPLUS_BASE_URL}/__emulator/vouchers/otherDispatch/${encodeURIComponent(victim.ExternalCode)}`, { method: "DELETE" });
    expect(await res.json()).toEqual({ removed: true });
    const drift = await h.cli(["reconcile", TPLUS, "--from", FROM, "--to", TO, "--json"]);
    expect(drift.code).toBe(3);
    const report = JSON.parse(drift.stdout);
    expect(report.missing).toEqual([victim.ExternalCode]);
    const row = report.rows.find((r: { drift: boolean }) => r.drift);
    expect(row.day).toBe(victim.VoucherDate.slice(0, 10));
    expect(row.warehouse).toBe(String((victim.payload.Warehouse as { Code: string }).Code));
  });
});
