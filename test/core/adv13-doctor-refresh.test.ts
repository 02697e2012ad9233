/**
 * adv-13: issue 13 asks doctor to check "credentials and token refresh for each system". The KIS line is titled
 * "credentials and token refresh" but only calls Material/List with the current access token; the T+ line only
 * calls warehouse/Query. A wrong refresh credential (KIS_REFRESH_AUTH_DATA_TOKEN, TPLUS_REFRESH_TOKEN — e.g. a
 * pair already rotated by another deployment) passes the checklist, and the flows stop when the access token
 * expires (T+ after 6 days, wire-evidence.md §2a; KIS after its access_token TTL).
 */
import { afterEach, describe, expect, it } from "vitest";
import { formatDoctorReport, runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: doctor with a dead refresh credential", () => {
  for (const [system, variable] of [
    ["kis", "KIS_REFRESH_AUTH_DATA_TOKEN"],
    ["tplus", "TPLUS_REFRESH_TOKEN"],
  ] as const) {
    it(`${variable} that the server refuses is not a ✓ go-live line for ${system}`, async () => {
      e2e = await startE2E({ otherInOut: 5, salesOut: 5, env: { [variable]: "rotated-elsewhere-0123456789" } });
      const report = await runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows });
      const text = formatDoctorReport(report);
      const lines = report.checks.filter((c) => c.system === system);
      // Either a line says the refresh failed / is untested, or nothing about this system is claimed ready.
      const flagged = lines.some((c) => c.status !== "ok" && /refresh|token/i.test(`${c.title} ${c.detail ?? ""} ${c.fix ?? ""}`));
      expect(flagged, text).toBe(true);
    });
  }
});
