/**
 * A dead letter is filed once even when the next run reads KV up to 60 s old (chaos state.staleKv: the same letter
 * filed twice in 9 seeds). The marker that says "filed" (`dead:<key>` with the failure's hash) lived only in the KV
 * ledger, so a run seconds after the one that filed it, in another location, re-read the document in its lookback,
 * missed the marker and filed the letter again. Real engine, real KIS client, emulators; KV is the hostile
 * StaleKeyValueStore (every read by another location sees the state of 60 s ago); the flow index is
 * MemoryFlowCoordinator (the Worker's Durable Object model).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { StaleKeyValueStore } from "../helpers/stale-kv.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv12: a dead letter under stale KV reads", () => {
  it("is filed once when the next run, 5 s later in another location, re-reads the failing document", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0 });
    const env = e2e;
    const stale = new StaleKeyValueStore(env.kv, () => env.clock.now());
    const lock = new MemoryFlowCoordinator(env.clock);
    const run = (runId: string) =>
      runFlowById({ ...env.ports, kv: stale.view(runId), lock }, { flowId: KIS, runId, trigger: "cli", budget: { maxSubrequests: 10_000 } });
    for (let i = 0; i < 3; i++) {
      env.clock.advance(30 * 60_000);
      await run(`catch-up-${i}`);
    }
    // A confirmed 其它退货 with a SKU that kis_materials lacks: a lookup miss, a dead letter.
    const template = env.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    expect(template).toBeDefined();
    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const row = env.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, {
      ...rest,
      items: [{ ...(template.items as Record<string, unknown>[])[0], sku_id: "NO-SUCH-SKU", qty: 3 }],
    });
    const id = String(row.io_id);

    env.clock.advance(6 * 60_000); // past the 5-minute end lag
    const first = await run("r-1");
    expect(first.summary.counts.deadLettered).toBe(1);
    env.clock.advance(5_000); // the next run reads the same document again (10-minute lookback), KV as of 60 s ago
    await run("r-2");
    env.clock.advance(5_000);
    await run("r-3");

    const letters = (await new FlowStateStore(env.kv).listDeadLetters(KIS, { status: "all" })).filter((l) => String(l.sourceId) === id);
    expect(letters.map((l) => l.error.code)).toEqual(["lookup_miss"]);
  }, 120_000);
});
