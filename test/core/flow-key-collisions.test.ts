/**
 * Two loaded flows that can produce the same external key for the same target document kind swallow each other's
 * documents ("already exists"; engine-review finding 3, K1). They are refused at start, naming both flows and templates.
 */
import { describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { keyCollisions } from "../../shared/engine/key-scheme.ts";
import { seedFlow, seedFlows } from "../../shared/flows/index.ts";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";

const TPLUS = "jst-sales-out-to-tplus";

function copyForShop(id: string, keyTemplate?: string) {
  const flow = structuredClone(seedFlow(TPLUS));
  flow.id = id;
  if (keyTemplate && flow.operation?.type === "merge") flow.operation.keyTemplate = keyTemplate;
  return flow;
}

describe("key collisions across loaded flows (engine-review finding 3, K1)", () => {
  it("the seed flows do not collide; a copy of the T+ seed flow with the same key template does, and a namespaced one does not", () => {
    expect(keyCollisions(seedFlows())).toEqual([]);
    const clash = keyCollisions([seedFlow(TPLUS), copyForShop("shop2-sales-out")]);
    expect(clash).toHaveLength(1);
    expect(clash[0]!.message).toContain(TPLUS);
    expect(clash[0]!.message).toContain("shop2-sales-out");
    expect(clash[0]!.message).toContain("SO-{io_date_new}-{wms_co_id}");
    expect(keyCollisions([seedFlow(TPLUS), copyForShop("shop2-sales-out", "S2-{io_date_new}-{wms_co_id}")])).toEqual([]);
    // A prefix that the other template's placeholders could still produce is a possible collision.
    expect(keyCollisions([seedFlow(TPLUS), copyForShop("shop2-sales-out", "SO-2{io_date_new}-{wms_co_id}")])).toHaveLength(1);
  });

  it("a run is refused at start when another loaded flow can produce the same keys", async () => {
    const flows = { [TPLUS]: seedFlow(TPLUS), "shop2-sales-out": copyForShop("shop2-sales-out") };
    const ports = { env: {}, kv: new MemoryKeyValueStore(), lock: new MemoryFlowLock(), fetch: async () => new Response("no network", { status: 599 }), flows };
    await expect(runFlowById(ports, { flowId: TPLUS, runId: "r1", trigger: "cli", budget: { maxSubrequests: 10 } })).rejects.toThrow(/shop2-sales-out/);
  });
});
