/**
 * The product must work with every reading of the facts no public source settles (wire-evidence.md §7): both seed
 * flows sync exactly against the emulators in the evidence profile and in the alternatives, including lost
 * answers that need a lookup (FindVoucherList filtered or not, unknown paths answered 50000/401).
 */
import { afterEach, describe, expect, it } from "vitest";
import { startE2E, type E2E, type E2EOptions } from "../helpers/e2e.ts";
import { expectTargetsExact } from "../helpers/e2e-expect.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const PROFILES: Record<string, E2EOptions> = {
  evidence: {},
  "older emulator (List carries custom fields, archives by PageIndex)": { kis: { materialFields: "list" }, tplus: { archivePaging: "pageIndex" } },
  "FindVoucherList ignores the filter, unknown paths 50000/401": { tplus: { findVoucherFilter: "ignored", unknownPathStatus: 401 } },
};

describe.each(Object.entries(PROFILES))("both seed flows exact (%s)", (_name, options) => {
  it("with lost answers on the target writes", async () => {
    e2e = await startE2E({ skipReferenceRefresh: true, ...options });
    e2e.stack.kis.addFaults([{ kind: "commitThenTimeout", path: "miscellaneousreceipt/create", times: 2, delayMs: 1500 }]);
    e2e.stack.tplus.addFaults([{ kind: "commitThenTimeout", path: "/tplus/api/v2/otherDispatch/Create", times: 2, delayMs: 1500 }]);
    for (const flow of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) await e2e.runToCompletion(flow);
    expectTargetsExact(e2e);
    expect(e2e.stack.kis.requests().filter((r) => r.fault === "commitThenTimeout")).toHaveLength(2);
    expect(e2e.stack.tplus.requests().filter((r) => r.fault === "commitThenTimeout")).toHaveLength(2);
  });
});
