/**
 * Adversary 16d: a merged group whose open outbox plan is lost after its first part, and the invocations that finish
 * it outside the outbox (document-writer.ts rememberGroupMembers, recordWritten) stopped by their budget between the
 * remaining parts. Each part met or written registers its own members in the group's registry; a member whose lines
 * stand in a written part and in one not written yet must not be taken for booked whole: its lines in the later part
 * would never be written (the next invocation builds only unregistered members, as a supplement). The target's
 * quantities of the group must equal the source's. Real engine, state store and emulators; explicit clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedTplus, tplusByGroup } from "../helpers/targets.ts";

const TPLUS = "jst-sales-out-to-tplus";
const LOST = "SO-2024-06-15-10817";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const nonZero = (q: Record<string, number> | undefined) => Object.fromEntries(Object.entries(q ?? {}).filter(([, v]) => Math.abs(v) > 1e-9));

describe("a merged group whose plan is lost after its first part, finished by invocations stopped between parts", () => {
  it.each([4, 5, 6, 7, 8])("budget %i per invocation: the group's quantities in T+ equal the source's", async (budget) => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 60 });
    const env = e2e;
    const flow = env.flows[TPLUS]!;
    if (flow.operation?.type === "merge") flow.operation.maxLines = 2;
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    const first = await env.run(TPLUS, { budget: { maxSubrequests: 10 } });
    expect(first.summary.continues).toBe(true);
    const plans = await env.kv.list("outbox:");
    expect(plans).toEqual([`outbox:${TPLUS}:${encodeURIComponent(`${LOST}#S0`)}`]);
    await env.kv.delete(plans[0]!);
    for (let i = 0; i < 60; i++) {
      const { summary } = await env.run(TPLUS, { budget: { maxSubrequests: budget } });
      if (!summary.continues) break;
    }
    await env.runToCompletion(TPLUS);
    const target = nonZero(tplusByGroup(env.stack.tplus.vouchers("otherDispatch")).get(LOST));
    const source = nonZero(expectedTplus(env.stack.jushuitan.documents(JST_PATHS.salesOut), 0, Infinity).get(LOST));
    expect(target).toEqual(source);
  });
});
