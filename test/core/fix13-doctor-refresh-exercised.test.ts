/**
 * fix-13 (finding 8): with exerciseRefresh (Worker GET /doctor, CLI/Action --state kv) doctor really refreshes
 * KIS and T+ credentials: a refused refresh credential is a ✗, a working one a ✓ whose rotated pair is stored.
 * Without it the line is "?" (a rotation into a separate store would strand the deployed Worker).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const ports = (e: E2E) => ({ env: e.env, fetch: e.ports.fetch, kv: e.kv, clock: e.clock, logger: silentLogger, flows: e.flows });
const refreshLine = (checks: { system: string; title: string; status: string }[], system: string) =>
  checks.find((c) => c.system === system && /token refresh/.test(c.title));

describe("fix13: doctor exercises the token refresh", () => {
  it("working refresh credentials: ✓ and the rotated T+ pair is stored", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 5 });
    const before = e2e.stack.tplus.state().cloud.refreshCount;
    const report = await runDoctor(ports(e2e), { exerciseRefresh: true });
    expect(refreshLine(report.checks, "kis")?.status).toBe("ok");
    expect(refreshLine(report.checks, "tplus")?.status).toBe("ok");
    expect(e2e.stack.tplus.state().cloud.refreshCount).toBe(before + 1);
    expect((await new KvTokenStore(e2e.kv).get("tplus-cloud"))?.accessToken).toBeTruthy();
    // The flows still work with what was stored.
    expect((await e2e.run("jst-sales-out-to-tplus")).summary.outcome).not.toBe("failed");
  });

  for (const [system, variable] of [
    ["kis", "KIS_REFRESH_AUTH_DATA_TOKEN"],
    ["tplus", "TPLUS_REFRESH_TOKEN"],
  ] as const) {
    it(`a refused ${variable} is a ✗; without exerciseRefresh the line is ?`, async () => {
      e2e = await startE2E({ otherInOut: 5, salesOut: 5, env: { [variable]: "rotated-elsewhere-0123456789" } });
      expect(refreshLine((await runDoctor(ports(e2e))).checks, system)?.status).toBe("unknown");
      const report = await runDoctor(ports(e2e), { exerciseRefresh: true });
      expect(refreshLine(report.checks, system)?.status).toBe("fail");
      expect(report.ok).toBe(false);
    });
  }
});
