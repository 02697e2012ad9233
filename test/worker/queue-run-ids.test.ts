import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { invocationsOf } from "../helpers/invocations.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import type { Env } from "../../worker/env.ts";
import worker from "../../worker/index.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import type { SyncMessage } from "../../worker/queue.ts";
import { actualKis, expectedKis } from "../helpers/targets.ts";
import { createStack, fillReferenceTables, fireCron, JST, kisBills, sourceDocuments, workerEnv } from "./stack.ts";

// Regression (found by the chaos suite): every delivery of a "continue" chain and every window of a fanned-out
// range ran under the same run id `<origin>-q1`, so each run record overwrote the previous one and a delivery
// could take the lease another delivery still held (a lease is re-entrant for its own run id).
const KIS = "jst-other-in-to-kis";
const KIS_CRON = "*/30 * * * *";

function recordingQueue() {
  const sent: SyncMessage[] = [];
  return {
    sent,
    async send(body: SyncMessage) {
      sent.push(body);
    },
    async sendBatch(messages: Iterable<{ body: SyncMessage }>) {
      for (const m of messages) sent.push(m.body);
    },
  };
}

async function deliver(e: Env, id: string, body: SyncMessage) {
  const batch = createMessageBatch<SyncMessage>("jst-bridge-sync", [{ id, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, e, ctx);
  return getQueueResult(batch, ctx);
}

describe("queue deliveries run under their own run ids", () => {
  it("a continue chain keeps one record per delivery (carried into its last run record's chain), and together they cover the range without a gap", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 600, [JST.salesOut]: 0 }, days: 2, limits: { perSecond: null, perMinute: null } });
    const queue = recordingQueue();
    const e = {
      ...workerEnv(stack, { MAX_SUBREQUESTS: "8", STATE_SUBREQUEST_RESERVE: "3", FLOWS: KIS, CONTINUE_WITH: "queue" }),
      SYNC_QUEUE: queue,
    } as unknown as Env;
    await fillReferenceTables(stack, e);
    await fireCron(e, KIS_CRON, Date.now());

    let deliveries = 0;
    for (let next = queue.sent.shift(); next; next = queue.sent.shift()) {
      const result = await deliver(e, `chain-${++deliveries}`, next);
      expect(result.explicitAcks).toEqual([`chain-${deliveries}`]);
      expect(deliveries).toBeLessThan(60);
    }
    expect(deliveries).toBeGreaterThan(1);

    // Continuing deliveries keep their records in the flow index; the chain's last one writes them with its own.
    const runs = invocationsOf(await new FlowStateStore(new WorkersKvStore(e.STATE)).listRuns(KIS, 200));
    expect(runs).toHaveLength(1 + deliveries);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(runs.length);
    const windows = runs.flatMap((r) => r.windows.filter((w) => w.complete)).sort((a, b) => a.from - b.from);
    let to = windows[0]!.to;
    for (const w of windows.slice(1)) {
      expect(w.from, "completed windows abut or overlap").toBeLessThanOrEqual(to);
      to = Math.max(to, w.to);
    }
    const expected = expectedKis(await sourceDocuments(stack, JST.otherInOut), windows[0]!.from, to);
    expect(expected.size).toBeGreaterThan(5);
    expect(Object.fromEntries(actualKis(await kisBills(stack)))).toEqual(Object.fromEntries(expected));
  }, 60_000);

  it("two windows of one range delivered at once do not run concurrently: one waits for the lease", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 200, [JST.salesOut]: 0 }, days: 3, limits: { perSecond: null, perMinute: null } });
    const e = { ...workerEnv(stack, { MAX_SUBREQUESTS: "10000", FLOWS: KIS }), SYNC_QUEUE: recordingQueue() } as unknown as Env;
    await fillReferenceTables(stack, e);
    // Both deliveries start together; the first Jushuitan answer is held a moment so the lease holder is still running.
    await fetch(`${stack.urls.jushuitan}/__emulator/faults`, {
      method: "POST",
      body: JSON.stringify([{ kind: "timeout", delayMs: 300, path: JST.otherInOut }]),
    });
    const to = Date.now() - 3_600_000;
    const windows = [
      { from: to - 2 * 86_400_000, to: to - 86_400_000 },
      { from: to - 86_400_000, to },
    ];
    const results = await Promise.all(
      windows.map((w, i) => deliver(e, `window-${i}`, { kind: "window", flowId: KIS, runId: "20261101T000000000Z-http", from: w.from, to: w.to })),
    );
    const acked = results.flatMap((r) => r.explicitAcks);
    const retried = results.flatMap((r) => r.retryMessages.map((m) => m.msgId));
    expect(acked).toHaveLength(1);
    expect(retried).toHaveLength(1);
    // KV is shared within this file: only this range's runs count. The skipped delivery records no run.
    const runs = (await new FlowStateStore(new WorkersKvStore(e.STATE)).listRuns(KIS, 200)).filter((r) => r.runId.startsWith("20261101T000000000Z-http"));
    expect(runs).toHaveLength(1);
  }, 60_000);
});
