/**
 * adv-13: the first run of a fresh Worker deployment on the Free plan (50 subrequests per invocation) with an
 * ordinary KIS catalogue. kis_materials is empty, so every invocation starts the refresh from scratch
 * (Material/List pages + GetListDetails in chunks of 20), runs out of subrequests, keeps nothing and postpones
 * nothing (the postpone in ensureReferenceTables only covers a NON-empty table). The next cron tick does the
 * same: the flow never writes and nobody is told what to do. A refresh that cannot fit one invocation must make
 * progress across invocations or stop with an actionable error (refresh from the CLI / upload the table).
 */
import { afterEach, describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv13: an empty sourced table that does not fit one invocation's subrequest budget", () => {
  it("does not restart the same doomed refresh on every invocation forever", async () => {
    // 96 materials on an account that only has Material/GetDetail (Weaver HttpJDmaterial reads it per item; the
    // product falls back to it): ~98 KIS calls for the refresh, more than Workers Free allows per invocation (50).
    e2e = await startE2E({ otherInOut: 5, salesOut: 0, kis: { materialDetailApi: "getDetail" } });
    const refs = new KvReferenceStore(e2e.kv);
    await refs.put({ name: "kis_materials", rows: [], updatedAt: 0, source: "test: fresh deployment" });
    const outcomes: string[] = [];
    let materialListCalls = 0;
    for (let i = 0; i < 4; i++) {
      e2e.stack.kis.clearRequests();
      const result = await e2e.run(KIS, { budget: { maxSubrequests: 50 } }).then(
        (r) => `summary:${r.summary.outcome}:${JSON.stringify((r.summary as unknown as { error?: unknown }).error ?? null).slice(0, 160)}`,
        (e: unknown) => `error:${(e as { code?: string }).code ?? (e as Error).name}`,
      );
      outcomes.push(result);
    }
    materialListCalls = e2e.stack.kis.requests().filter((r) => /Material\/List/i.test(r.path)).length;
    const filled = ((await refs.get("kis_materials"))?.rows.length ?? 0) > 0;
    // Either the table got filled over the invocations, or the run stopped saying what to do (config error).
    expect(filled || outcomes.at(-1) !== outcomes[0], `outcomes: ${outcomes.join(", ")}; Material/List calls: ${materialListCalls}`).toBe(true);
  });
});
