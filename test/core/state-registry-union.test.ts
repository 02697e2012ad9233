/**
 * The merge-group registry (`group:<key>` ledger entries) is merged as a union, not last-writer-wins by the
 * writing host's clock (engine-review finding 3, KV2: a CLI host 10 minutes ahead hid a Worker's newer entry).
 */
import { describe, expect, it } from "vitest";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

const FLOW = "jst-sales-out-to-tplus";
const T0 = Date.UTC(2024, 5, 20);

describe("group registry merge", () => {
  it("members are a union and supplements the maximum, whatever the writers' clocks said", async () => {
    const kv = new MemoryKeyValueStore();
    const cli = new FlowStateStore(kv, { clock: { now: () => T0 + 10 * 60_000, sleep: async () => {} } });
    const worker = new FlowStateStore(kv, { clock: { now: () => T0 + 60_000, sleep: async () => {} } });
    // The CLI (clock 10 min ahead) writes the group's original; later the Worker writes supplement 1 with a late member.
    await cli.ledgerAppend(FLOW, [
      { externalKey: "group:SO-1", contentHash: "group", members: ["1", "2"], supplements: 0, writtenAt: T0 + 10 * 60_000, runId: "cli" },
    ]);
    await worker.ledgerAppend(FLOW, [
      { externalKey: "group:SO-1", contentHash: "group", members: ["1", "2", "3"], supplements: 1, writtenAt: T0 + 60_000, runId: "cron" },
    ]);
    const view = await new FlowStateStore(kv).ledgerView(FLOW);
    const entry = view("group:SO-1")!;
    expect([...entry.members!].sort()).toEqual(["1", "2", "3"]);
    expect(entry.supplements).toBe(1);
  });

  it("compaction keeps the union", async () => {
    const kv = new MemoryKeyValueStore();
    let now = T0;
    const store = new FlowStateStore(kv, { clock: { now: () => now, sleep: async (ms) => void (now += ms) }, ledger: { compactAfterSegments: 2 } });
    await store.ledgerAppend(FLOW, [
      { externalKey: "group:SO-1", contentHash: "group", members: ["1", "4"], supplements: 2, writtenAt: T0 + 10 * 60_000, runId: "cli" },
    ]);
    now += 2000;
    await store.ledgerAppend(FLOW, [
      { externalKey: "group:SO-1", contentHash: "group", members: ["1", "2", "3"], supplements: 1, writtenAt: T0 + 60_000, runId: "cron" },
    ]);
    now += 2000;
    await store.ledgerAppend(FLOW, [{ externalKey: "SO-1", contentHash: "h", writtenAt: now, runId: "cron" }]);
    now += 2000;
    const view = await new FlowStateStore(kv, { ledger: { compactAfterSegments: 2 } }).ledgerView(FLOW);
    const entry = view("group:SO-1")!;
    expect([...entry.members!].sort()).toEqual(["1", "2", "3", "4"]);
    expect(entry.supplements).toBe(2);
  });
});
