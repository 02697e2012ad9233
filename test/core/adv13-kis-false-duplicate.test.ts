/**
 * adv-13: KIS refusals that only LOOK like "bill number exists". The duplicate-bill text is not public
 * (wire-evidence.md §3 "Duplicate-bill / auth errcodes: no evidence found"), so the matcher is a loose guess:
 * DEFAULT_DUPLICATE_BILL_PATTERNS accepts any "编号 … 重复/已存在", e.g. a line-level "物料编号…重复" or
 * "序列号…已存在". KisTarget.onDuplicate then answers "already_exists" for FBillNo keys EVEN WHEN its own
 * lookup — with the FBillNo filter honoured — says the bill certainly does not exist. The engine records the
 * document as booked; it never is (lost document, no dead letter, no alert).
 */
import { afterEach, describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { KisClient } from "../../shared/connectors/kis/client.ts";
import { KisOperations } from "../../shared/connectors/kis/operations.ts";
import { KisTarget } from "../../shared/connectors/kis/target.ts";
import type { TargetWrite } from "../../shared/connectors/target.ts";
import { createKisEmulator } from "../emulators/kis/index.ts";
import { kisConfigFor, manualClock, receiptObject } from "../emulators/kis/fixtures.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const receipt = (key: string): TargetWrite => ({
  operation: "app007104/miscellaneousreceipt/create",
  externalKey: key,
  payload: { Object: receiptObject({}) },
});

describe("adv13: a refusal that matches the duplicate pattern but the bill does not exist", () => {
  for (const reason of ["第2行物料编号1.01.0001重复，同一物料不能重复录入", "序列号编号SN0001已存在"]) {
    it(`"${reason}" is not recorded as already_exists`, async () => {
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
      emulator.addFaults([{ kind: "bizError", path: "/create", reason, times: 1 }]);
      const outcome = await target.write(receipt("JST-IO-7001")).then(
        (r) => r.status,
        (e: unknown) => `error:${(e as { code?: string }).code}`,
      );
      expect(emulator.bills().filter((b) => JSON.stringify(b).includes("JST-IO-7001"))).toHaveLength(0);
      // Nothing was booked, so the write must not report the bill as existing.
      expect(outcome).not.toBe("already_exists");
    });
  }
});
