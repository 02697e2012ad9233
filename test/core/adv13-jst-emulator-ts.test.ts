/**
 * adv-13: issue 13 item 5 — the emulators' DEFAULT follows the evidence, "other-inout without ts". Both public
 * descriptions of /open/other/inout/query rows list no `ts` (flowerfine/carp OtherInoutDO; ieu/jst-java
 * JstQueryOtherInOutResponse.Datas — wire-evidence.md §1 row "ts rowversion on rows", ranked item 7), while
 * sales-out rows do (carp OrdersOutSimpleDO @JsonProperty("ts")). The Jushuitan emulator still stamps `ts` on
 * every table (test/emulators/jushuitan/data.ts put(): row.ts = ts) and has no profile without it, so doctor
 * against the emulators reports "rows carry ts: yes" for other-inout and no test runs the product against
 * ts-less other-inout rows.
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

describe("adv13: Jushuitan emulator default profile vs the evidence", () => {
  it("other-inout rows carry no ts by default (sales-out rows do)", async () => {
    e2e = await startE2E({ otherInOut: 5, salesOut: 5 });
    const report = await runDoctor({ env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows });
    const otherInOut = report.checks.find((c) => c.system === "jushuitan" && /other\/inout\/query carry ts/.test(c.title));
    expect(otherInOut?.detail ?? "").not.toMatch(/^yes/);
  });
});
