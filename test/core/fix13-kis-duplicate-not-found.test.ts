/**
 * fix-13 (finding 3): a refusal worded exactly like "bill number exists" whose honoured FBillNo lookup finds no
 * bill is a business error (dead letter), never "already_exists" (that would record a document nobody booked).
 */
import { afterEach, describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { KisClient } from "../../shared/connectors/kis/client.ts";
import { KisOperations } from "../../shared/connectors/kis/operations.ts";
import { KisTarget } from "../../shared/connectors/kis/target.ts";
import { createKisEmulator } from "../emulators/kis/index.ts";
import { kisConfigFor, manualClock, receiptObject } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe("fix13: duplicate-bill refusal without the bill", () => {
  it("throws a business error when the honoured lookup finds nothing", async () => {
    const clock = manualClock();
    const emulator = createKisEmulator({ now: clock.now });
    const server = await serveOnLoopback(emulator.app);
    servers.push(server);
    const client = new KisClient({
      config: kisConfigFor(emulator, server.url),
      fetch: (i, init) => fetch(i, init),
      tokenStore: new MemoryTokenStore(),
      clock,
      retry: { tries: 2, baseDelayMs: 10, maxDelayMs: 20 },
    });
    const target = new KisTarget({ operations: new KisOperations(client), precheck: "after_unknown_outcome" });
    emulator.addFaults([{ kind: "bizError", path: "/create", reason: "单据编号[JST-IO-7002]已存在，不能重复保存", times: 1 }]);
    const write = { operation: "app007104/miscellaneousreceipt/create", externalKey: "JST-IO-7002", payload: { Object: receiptObject({}) } };
    await expect(target.write(write)).rejects.toMatchObject({ code: "kis_business_error" });
  });
});
