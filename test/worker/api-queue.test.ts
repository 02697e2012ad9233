import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env.ts";
import worker from "../../worker/index.ts";
import type { SyncMessage } from "../../worker/queue.ts";
import { actualKis, expectedKis } from "../helpers/targets.ts";
import { callApi, createStack, fillReferenceTables, JST, kisBills, sourceDocuments, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";
const DAY = 86_400_000;

/** Records what the Worker sends to its queue (the platform's delivery is Cloudflare's; our producer and consumer are what is tested). */
function recordingQueue() {
  const sent: SyncMessage[] = [];
  const queue = {
    sent,
    async send(body: SyncMessage) {
      sent.push(body);
    },
    async sendBatch(messages: Iterable<{ body: SyncMessage }>) {
      for (const m of messages) sent.push(m.body);
    },
  };
  return queue;
}

describe("queue fan-out of a long range (inside workerd)", () => {
  it("a 60-day range returns 202, fans out one message per window, and the consumer settles every window", async () => {
    // Emulator limits off: 120 invocations back to back would otherwise wait out the real 100/min quota.
    const stack = await createStack({ documents: { [JST.otherInOut]: 1500, [JST.salesOut]: 0 }, days: 62, limits: { perSecond: null, perMinute: null } });
    const queue = recordingQueue();
    const e = { ...workerEnv(stack, { MAX_SUBREQUESTS: "10000" }), SYNC_QUEUE: queue } as unknown as Env;
    await fillReferenceTables(stack, e);
    const to = Date.now() - 3_600_000;
    const from = to - 60 * DAY;

    const res = await callApi(e, "POST", `/flows/${KIS}/sync`, { body: { from, to } });
    expect(res.status).toBe(202);
    expect(res.json.accepted.windows).toBe(60);
    expect(queue.sent).toHaveLength(60);
    expect(queue.sent.every((m) => m.kind === "window" && m.to - m.from <= DAY)).toBe(true);
    // Windows abut exactly and cover the range.
    const windows = queue.sent.map((m) => m as Extract<SyncMessage, { kind: "window" }>).sort((a, b) => a.from - b.from);
    expect(windows[0]!.from).toBe(from);
    expect(windows.at(-1)!.to).toBe(to);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.from).toBe(windows[i - 1]!.to);

    // Deliver in a shuffled order, one message per batch (max_batch_size = 1), and once more (at-least-once).
    const order = [...windows.keys()].sort((a, b) => ((a * 7919) % 61) - ((b * 7919) % 61));
    for (const round of [1, 2]) {
      for (const i of order) {
        const batch = createMessageBatch<SyncMessage>("jst-bridge-sync", [{ id: `m${i}-${round}`, timestamp: Date.now(), attempts: round, body: windows[i]! }]);
        const ctx = createExecutionContext();
        await worker.queue(batch, e, ctx);
        const result = await getQueueResult(batch, ctx);
        expect(result.explicitAcks, `window ${i} round ${round}`).toEqual([`m${i}-${round}`]);
      }
    }
    const expected = expectedKis(await sourceDocuments(stack, JST.otherInOut), from, to);
    expect(expected.size).toBeGreaterThan(50);
    const bills = await kisBills(stack);
    expect(Object.fromEntries(actualKis(bills))).toEqual(Object.fromEntries(expected));
    expect(bills).toHaveLength(expected.size);

    // A range never moves the watermark: the flow's incremental schedule is untouched by a backfill.
    const flow = await callApi(e, "GET", `/flows/${KIS}`);
    expect(flow.json.watermark).toBeNull();
  }, 60_000);

  it("a long range without a queue binding is refused with a hint, and a long dry run too", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 10, [JST.salesOut]: 0 }, days: 2 });
    const e = workerEnv(stack, {});
    const to = Date.now();
    const noQueue = await callApi({ ...e, SYNC_QUEUE: undefined } as Env, "POST", `/flows/${KIS}/sync`, { body: { from: to - 10 * DAY, to } });
    expect(noQueue.status).toBe(400);
    expect(noQueue.json.error.hint).toContain("SYNC_QUEUE");
    const dry = await callApi({ ...e, SYNC_QUEUE: recordingQueue() } as unknown as Env, "POST", `/flows/${KIS}/sync`, {
      body: { from: to - 10 * DAY, to, dryRun: true },
    });
    expect(dry.status).toBe(400);
  });
});
