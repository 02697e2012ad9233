/**
 * adv-13: doctor's "AccountDB ✓ KIS_ACCOUNT_DB accepted" only means the variable is set and Material/List
 * answered. The field's spelling is UNCERTAIN (client.ts: S6 sends `AccountDb`, the doc `AccountDB`); a gateway
 * that ignores the spelling it does not know answers from its default 账套, and so does a KIS云 account that has
 * no 账套 field at all. Here KIS ignores the field entirely and KIS_ACCOUNT_DB names a 账套 that does not exist:
 * the checklist still says ✓ "accepted". It should be "?" (not verifiable this way) unless a wrong name was
 * seen to be refused.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: doctor AccountDB line", () => {
  it("is not ✓ 'accepted' when KIS ignored the field (a non-existent 账套 name passes)", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, env: { KIS_ACCOUNT_DB: "NO_SUCH_ACCOUNT_DB" } });
    const report = await runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows });
    expect(report.checks.find((c) => c.system === "kis" && c.title === "AccountDB")?.status).not.toBe("ok");
  });
});
