/**
 * Adversary (issue 18 item 1, one construction path): the Worker hands every run the app's one Jushuitan rate budget
 * (worker/runtime.ts workerPorts → composeHost → clients().jushuitan()), but the doctor built its Jushuitan client
 * itself (shared/doctor/index.ts openClients: jushuitanClient(env, deps)) and its ports had no rate budget at all
 * (worker/services.ts doctor() passed env, fetch, kv, clock, logger, flows). A doctor run from the dashboard while a
 * cron run pages Jushuitan therefore sent requests the shared budget never counted (5/s, 100/min per app).
 * Expected: every doctor request to Jushuitan is granted by the host's budget, like a run's. Actual: none is.
 * Real doctor against the emulators over loopback HTTP; the budget is a host port that only counts its grants.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type DoctorPorts, runDoctor } from "../../shared/doctor/index.ts";
import type { RateBudget } from "../../shared/http/rate-budget.ts";
import { silentLogger } from "../../shared/ports.ts";
import { type E2E, startE2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("doctor and the host's Jushuitan rate budget", () => {
  it("every Jushuitan request of the doctor is granted by the budget the host gives", async () => {
    e2e = await startE2E({ otherInOut: 10, salesOut: 10 });
    let grants = 0;
    const rateBudget: RateBudget = {
      acquire: async () => {
        grants++;
      },
      pauseUntil: () => {},
    };
    const ports = { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows, rateBudget };
    await runDoctor(ports as DoctorPorts);
    const jstRequests = (e2e.stack.jushuitan.requests() as Array<{ path: string }>).filter((r) => r.path.startsWith("/open/")).length;
    expect(jstRequests).toBeGreaterThan(0);
    expect(grants).toBe(jstRequests);
  });
});
