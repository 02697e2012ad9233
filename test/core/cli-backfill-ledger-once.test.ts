/**
 * A range backfill runs one engine run per window; each used to build its own state store and so read the flow's
 * whole ledger again (100,000 documents over 60 windows: the ledger parsed 60 times, two copies alive at once).
 * The sync now shares one ledger index across its windows: a ledger key is read once per backfill, and each window
 * only lists the ledger to pick up keys another writer added. Exactly-once is unchanged (a second backfill writes nothing).
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runSync } from "../../action/cli/sync-runner.ts";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import type { KeyValueStore } from "../../shared/ports.ts";
import { silentLogger } from "../../shared/ports.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";
import { actualTargets, E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

/** The file state with every read of a ledger key counted (get and bulk getMany alike). */
class LedgerReadCounter implements KeyValueStore {
  readonly reads = new Map<string, number>();
  private readonly inner: FileKeyValueStore;
  constructor(inner: FileKeyValueStore) {
    this.inner = inner;
  }
  private count(keys: string[]) {
    for (const k of keys) if (k.startsWith("ledger:")) this.reads.set(k, (this.reads.get(k) ?? 0) + 1);
  }
  get(key: string) {
    this.count([key]);
    return this.inner.get(key);
  }
  getMany(keys: string[]) {
    this.count(keys);
    return this.inner.getMany(keys);
  }
  put(key: string, value: string, options?: { expirationTtl?: number }) {
    return this.inner.put(key, value, options);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
}

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("CLI range backfill: one ledger for all its windows", () => {
  it("reads each ledger key at most once over a 6-window backfill, and a second backfill writes nothing", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const kv = new LedgerReadCounter(new FileKeyValueStore({ dir: join(h.dir, ".jst-bridge"), now: () => h!.e2e.clock.now() }));
    const flow = seedFlow("jst-other-in-to-kis") as Flow;
    const until = startOfDayInZone(E2E_START);
    const range = { from: until - 6 * DAY_MS, to: until };
    const ports = {
      env: h.e2e.env,
      kv,
      fetch: (i: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(i, init),
      clock: h.e2e.clock,
      logger: silentLogger,
    };

    const first = await runSync({ flow, range, windowMs: DAY_MS, trigger: "cli" }, ports);
    expect(first.outcome, JSON.stringify(first.error)).toBe("success");
    expect(first.windows.length).toBe(6);
    expect(first.counts.written).toBeGreaterThan(20);
    const readTwice = [...kv.reads].filter(([, n]) => n > 1).map(([k]) => k);
    expect(readTwice).toEqual([]);

    const written = actualTargets(h.e2e).kisCount;
    const second = await runSync({ flow, range, windowMs: DAY_MS, trigger: "cli" }, ports);
    expect(second.outcome).toBe("success");
    expect(second.counts.written).toBe(0);
    expect(second.counts.skipped).toBe(first.counts.written);
    expect(actualTargets(h.e2e).kisCount).toBe(written);
  });
});
