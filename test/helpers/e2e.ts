/**
 * End-to-end harness for Node tests: the three emulators on loopback HTTP sharing a manual clock, the
 * bridge's state in memory, reference tables filled the way a user would (warehouse upload, KIS materials
 * refreshed from Material/List), and the seed flows starting at a fixed instant.
 */
import { runFlowById, type RunRequest } from "../../shared/engine/runner.ts";
import { refreshReferenceTable } from "../../shared/engine/references.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import type { Flow } from "../../shared/flow/schema.ts";
import { seedFlow, SEED_FLOW_IDS } from "../../shared/flows/index.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { silentLogger } from "../../shared/ports.ts";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { actualKis, actualTplus, expectedKis, expectedTplus } from "./targets.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows, type EmulatorStackOptions } from "../emulators/stack.ts";

/** 2024-06-20 10:00 in Shanghai. */
export const E2E_START = Date.UTC(2024, 5, 20, 2, 0, 0);

export interface E2EOptions extends EmulatorStackOptions {
  otherInOut?: number;
  salesOut?: number;
  /** Days of history before E2E_START the documents span (and the flows start from). */
  days?: number;
  env?: Record<string, string>;
  /** Leave kis_materials empty (runs fill it themselves; doctor tests use emulator profiles where filling fails). */
  skipReferenceRefresh?: boolean;
}

export async function startE2E(options: E2EOptions = {}) {
  const clock = new ManualClock(E2E_START);
  const days = options.days ?? 5;
  const stack = createEmulatorStack({
    now: () => clock.now(),
    ...options,
    jushuitan: {
      seed: 7,
      documents: {
        [JST_PATHS.otherInOut]: options.otherInOut ?? 400,
        [JST_PATHS.salesOut]: options.salesOut ?? 240,
        [JST_PATHS.purchaseIn]: 0,
        [JST_PATHS.aftersaleReceived]: 0,
      },
      range: { from: E2E_START - days * DAY_MS, to: E2E_START - 2 * 3_600_000 },
      ...options.jushuitan,
    },
  });
  const servers: RunningServer[] = [];
  for (const emulator of [stack.jushuitan, stack.tplus, stack.kis]) servers.push(await serveOnLoopback(emulator.app));
  const env: Record<string, string> = {
    ...stack.env({ jushuitan: servers[0]!.url, tplus: servers[1]!.url, kis: servers[2]!.url }),
    REQUEST_TIMEOUT_MS: "400",
    ...options.env,
  };

  const kv = new MemoryKeyValueStore();
  const lock = new MemoryFlowLock(clock);
  const references = new KvReferenceStore(kv);
  const tokenStore = new KvTokenStore(kv);
  // Start the flows a few days back so the whole generated history is in range.
  const startAt = formatInZone(E2E_START - (days + 3) * DAY_MS);
  const flows: Record<string, Flow> = {};
  for (const id of SEED_FLOW_IDS) {
    const flow = structuredClone(seedFlow(id));
    flow.incremental.startAt = startAt;
    flows[id] = flow;
  }
  const fetch: FetchLike = (input, init) => globalThis.fetch(input, init);

  await references.put({ name: "warehouses", rows: warehouseReferenceRows(), updatedAt: clock.now(), source: "upload" });
  const materials = flows["jst-other-in-to-kis"]!.references.find((r) => r.name === "kis_materials")!;
  if (!options.skipReferenceRefresh) await refreshReferenceTable(materials, { env, fetch, tokenStore, references, clock, logger: silentLogger });

  const ports = { env, kv, lock, fetch, clock, logger: silentLogger, flows };
  let runs = 0;
  return {
    clock,
    stack,
    env,
    kv,
    lock,
    ports,
    flows,
    /** Runs a flow once (one invocation) with the given budget; `fetch` replaces the network (crash simulation). */
    run(flowId: string, request: Partial<RunRequest> = {}, override: { fetch?: FetchLike } = {}) {
      runs++;
      return runFlowById({ ...ports, ...override }, { flowId, runId: `test-${runs}`, trigger: "cli", budget: { maxSubrequests: 10_000 }, ...request });
    },
    /** Invocations until the flow has caught up (continues = false); returns their summaries. */
    async runToCompletion(flowId: string, request: Partial<RunRequest> = {}, maxInvocations = 500) {
      const summaries = [];
      for (let i = 0; i < maxInvocations; i++) {
        const { summary } = await this.run(flowId, request);
        summaries.push(summary);
        if (!summary.continues) return summaries;
      }
      throw new Error(`${flowId} did not complete in ${maxInvocations} invocations`);
    },
    /** A network that dies for good (never answers again) once `afterWrites` target writes were answered: an invocation killed mid-run. */
    crashingFetch(afterWrites: number): FetchLike {
      let writes = 0;
      return async (input, init) => {
        if (writes >= afterWrites) return new Promise<Response>(() => {});
        const res = await fetch(input, init);
        if (/\/(create|Create)$/.test(new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url).pathname)) writes++;
        return res;
      };
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

export type E2E = Awaited<ReturnType<typeof startE2E>>;

/** What the two seed flows must produce up to these instants (see test/helpers/targets.ts). */
export function expectedTargets(e2e: E2E, until: { kis: number; tplusDayEnd: number; tplusModifiedBefore?: number }, from = 0) {
  const jst = e2e.stack.jushuitan;
  return {
    kis: expectedKis(jst.documents(JST_PATHS.otherInOut), from, until.kis),
    tplus: expectedTplus(jst.documents(JST_PATHS.salesOut), from, until.tplusDayEnd, until.tplusModifiedBefore),
  };
}

/** What the target emulators hold, in the same shape (and the number of stored documents, to catch doubles). */
export function actualTargets(e2e: E2E) {
  const bills = e2e.stack.kis.bills();
  const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
  return { kis: actualKis(bills), tplus: actualTplus(vouchers), kisCount: bills.length, tplusCount: vouchers.length };
}
