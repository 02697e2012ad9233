/**
 * A new user's first `jst-bridge sync`: credentials in .env and the warehouse mapping uploaded, nothing else.
 * The KIS materials table fills itself from KIS (reference-autofill); before, the sync failed until the user
 * ran `jst-bridge reference refresh kis_materials` by hand.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("first sync on a fresh setup", () => {
  it("needs only credentials and the warehouse mapping", async () => {
    h = await startCliHarness({ otherInOut: 30, salesOut: 20 });
    const up = await h.cli(["reference", "upload", "warehouses", "warehouses.csv"]);
    expect(up.code, up.stderr).toBe(0);
    const from = formatInZone(E2E_START - 6 * DAY_MS, "YYYY-MM-DD");
    const to = formatInZone(E2E_START - DAY_MS, "YYYY-MM-DD");
    for (const flow of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
      const run = await h.cli(["sync", flow, "--from", from, "--to", to, "--json"]);
      expect(run.code, `${flow}: ${run.stderr}`).toBe(0);
      expect(JSON.parse(run.stdout).counts.written, flow).toBeGreaterThan(0);
    }
  });
});

describe("jst-bridge doctor (CLI)", () => {
  it("prints the checklist against the emulators and exits 0 when nothing fails", async () => {
    h = await startCliHarness({ otherInOut: 30, salesOut: 20 });
    await h.cli(["reference", "upload", "warehouses", "warehouses.csv"]);
    const run = await h.cli(["doctor"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/✓ \[kis\] credentials/);
    expect(run.stdout).toMatch(/✓ \[tplus\] OtherDispatchOpenApi\/FindVoucherList reachable/);
    const refused = await h.cli(["doctor", "--write-probe"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/test account or a probe date/);
  });

  it("exits 1 and names the missing warehouse mapping", async () => {
    h = await startCliHarness({ otherInOut: 30, salesOut: 20 });
    const run = await h.cli(["doctor", "jst-sales-out-to-tplus", "--json"]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.checks.find((c: { title: string }) => c.title === "reference tables")).toMatchObject({
      status: "fail",
      fix: expect.stringMatching(/warehouses/),
    });
  });
});
