/**
 * adv18 fixes in the FlowLock Durable Object itself (workerd, real SQLite storage): a reset index (forgetIndex) keeps a
 * continuing run's carry — the only copy of what it wrote — unless told the target starts over too; and the index's
 * checkpoint is readable in brief for GET /flows and the freshness tick (shared/state/checkpoint-view.ts).
 * Explicit clock only.
 */
import { env as untypedEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DoFlowLock } from "../../worker/do-lock.ts";
import type { Env } from "../../worker/env.ts";

const env = untypedEnv as unknown as Env;
const T0 = Date.UTC(2024, 6, 1, 4);
const entry = { externalKey: "K-1", contentHash: "h", writtenAt: T0, runId: "run-1" };

describe("adv18: the carry and the checkpoint in the FlowLock Durable Object", () => {
  it("forgetIndex keeps the carry (dropped with carry: true); indexCheckpoint gives the checkpoint in brief", async () => {
    const lock = new DoFlowLock(env.FLOW_LOCK, { now: () => T0 });
    const flow = "adv18-carry-do";
    const { epoch } = await lock.acquire(flow, "run-1", 60_000);
    const cursor = { windowFrom: 1, windowTo: 2, page: 3 } as never;
    await lock.commitIndex(flow, "run-1", epoch, { checkpoint: { watermark: 42, runId: "run-1", updatedAt: T0, cursor }, carry: { ledger: [entry] } });
    expect(await lock.indexCheckpoint(flow)).toEqual({ watermark: 42, runId: "run-1", updatedAt: T0, resume: true });

    const object = env.FLOW_LOCK.get(env.FLOW_LOCK.idFromName(flow));
    await object.forgetIndex(flow);
    const after = await lock.loadIndex(flow, { groupsSince: 0 });
    expect({ initialized: after.initialized, ledger: after.carry?.ledger }).toEqual({ initialized: false, ledger: [entry] });
    expect(await lock.indexCheckpoint(flow)).toBeNull();

    await object.forgetIndex(flow, { carry: true });
    expect((await lock.loadIndex(flow, { groupsSince: 0 })).carry).toBeUndefined();
  });
});
