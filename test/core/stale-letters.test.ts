/**
 * Issue 16, adv16b-stale-letter-cancelled: the run's open-letter view withdraws an ordinary document letter when its
 * document is read cancelled before it was ever posted, and leaves alone the letters a cancellation never settles
 * (about a document already in the target). The real FlowStateStore over the in-memory KV.
 */
import { describe, expect, it } from "vitest";
import { withStaleLetters } from "../../shared/engine/stale-letters.ts";
import { silentLogger } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

const FLOW = "jst-other-in-to-kis";

describe("ordinary letters follow the source", () => {
  it("withdraws a refused document's letter on cancellation; keeps change_unknown / change_unfollowed / conflict letters", async () => {
    const store = new FlowStateStore(new MemoryKeyValueStore());
    const codes = ["kis_refused", "change_unknown", "change_unfollowed", "conflict"];
    await store.addDeadLetters(
      FLOW,
      codes.map((code, i) => ({
        flowId: FLOW,
        runId: "r",
        sourceId: `D${i}`,
        externalKey: `D${i}`,
        source: { io_id: `D${i}`, status: "Confirmed" },
        payload: { Head: { FBillNo: `D${i}` } },
        error: { code, message: code },
      })),
    );
    const open = await store.listDeadLetters(FLOW);
    expect(open).toHaveLength(4);
    const view = withStaleLetters(undefined, open, (id, r) => store.resolveDeadLetter(id, r), silentLogger);
    for (let i = 0; i < codes.length; i++) await view!.dropped(`D${i}`);
    const left = await store.listDeadLetters(FLOW);
    expect(left.map((l) => l.error.code).sort()).toEqual(["change_unfollowed", "change_unknown", "conflict"]);
    const [withdrawn] = await store.listDeadLetters(FLOW, { status: "resolved" });
    expect(withdrawn!.resolved!.reason).toMatch(/withdrawn: D0 no longer passes/);
  });
});
