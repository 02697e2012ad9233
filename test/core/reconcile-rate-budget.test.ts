/**
 * Reconcile and the host's Jushuitan rate budget: every Jushuitan request of a reconcile is granted by the budget the
 * host passes in ReconcilePorts.rateBudget (the Worker's runReconcile passes its RATE_BUDGET budget, as the doctor
 * does since adv18b-doctor-rate-budget). Real reconcile against the emulators over loopback HTTP; the budget is a
 * host port that only counts its grants.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RateBudget } from "../../shared/http/rate-budget.ts";
import { type ReconcilePorts, reconcile } from "../../shared/observe/reconcile.ts";
import { formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 60_000 });
const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("reconcile and the host's Jushuitan rate budget", () => {
  it("every Jushuitan request of a reconcile is granted by the budget the host gives", async () => {
    e2e = await startE2E({ otherInOut: 10, salesOut: 0 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    let grants = 0;
    const rateBudget: RateBudget = {
      acquire: async () => {
        grants++;
      },
      pauseUntil: () => {},
    };
    // From the documents' first day (io_date) to the end of the emulators' today: explicit, not the wall clock.
    const days = e2e.stack.jushuitan.documents(JST_PATHS.otherInOut).map((d) => parseInZone(String(d.io_date).slice(0, 10))!);
    const today = parseInZone(formatInZone(e2e.clock.now(), "YYYY-MM-DD", "Asia/Shanghai"))!;
    const jstRequests = () => (e2e!.stack.jushuitan.requests() as Array<{ path: string }>).filter((r) => r.path.startsWith("/open/")).length;
    const before = jstRequests();
    const ports: ReconcilePorts = { ...e2e.ports, rateBudget };
    await reconcile({ flow: e2e.ports.flows[KIS]!, range: { from: Math.min(...days), to: today + 86_400_000 } }, ports);
    expect(jstRequests() - before).toBeGreaterThan(0);
    expect(grants).toBe(jstRequests() - before);
  });
});
