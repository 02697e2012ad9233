/**
 * Sync benchmarks against the emulators over loopback HTTP (node bench/sync.ts [--json]):
 *  1. API calls per sync against the theoretical minimum (the pages the source's rows need per window + the documents
 *     that pass the flow's condition, counted from the source, never from the run judged);
 *  2. KV writes per 1,000 documents, with one unlimited invocation and with the Workers Free budget (50), in the
 *     Worker's state layout (flow index in the Durable Object: a continuing run's carry stays there, state/continuation.ts);
 *  3. wall time of a rate-bound sync under the real Jushuitan limits (5/s, 100/min) against the floor they impose.
 */
import { isStateLabel } from "../shared/engine/meter.ts";
import { runFlowById } from "../shared/engine/runner.ts";
import { DAY_MS } from "../shared/engine/window.ts";
import { seedFlow } from "../shared/flows/index.ts";
import { silentLogger, systemClock } from "../shared/ports.ts";
import { MemoryFlowCoordinator } from "../shared/state/flow-index.ts";
import { MemoryFlowLock } from "../shared/state/lock.ts";
import { MemoryKeyValueStore } from "../shared/state/memory-kv.ts";
import { KvReferenceStore } from "../shared/state/reference-store.ts";
import { formatInZone } from "../shared/util/time.ts";
import { JST_PATHS } from "../test/emulators/jushuitan/index.ts";
import { serveOnLoopback } from "../test/emulators/node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows } from "../test/emulators/stack.ts";
import { startE2E } from "../test/helpers/e2e.ts";
import { expectedKis } from "../test/helpers/targets.ts";
import { type SourceFacts, syncFigures } from "./honesty.ts";

const json = process.argv.includes("--json");
const log = (...args: unknown[]) => {
  if (!json) console.log(...args);
};

interface JstLogEntry {
  path: string;
  rows?: number;
}
type JstRow = Record<string, any>;

/** Generated other in/out documents (BENCH_SYNC_DOCUMENTS for a smoke run). */
const DOCUMENTS = Number(process.env.BENCH_SYNC_DOCUMENTS ?? 12_000);
const parseShanghai = (s: unknown) => Date.parse(`${String(s).replace(" ", "T")}+08:00`);

/**
 * The minimum's inputs from the source's own numbers, not from the run judged (bench/honesty.ts): per window the flow
 * reads, the rows the source holds there for the flow's query (type 其它退货, modified in the window's [from, to), as
 * the engine keeps them), and the documents that pass the flow's condition (confirmed: test/helpers/targets.ts).
 * The windows are the ones the unlimited run planned (one day each; the source decides how many pages each needs).
 */
function sourceFacts(rows: JstRow[], windows: Array<{ from: number; to: number }>, pageSize: number, env: Record<string, unknown>): SourceFacts {
  const ofType = rows.filter((r) => r.type === "其它退货").map((r) => parseShanghai(r.modified));
  return {
    rowsPerWindow: windows.map((w) => ofType.filter((t) => t >= w.from && t < w.to).length),
    pageSize,
    documentsToWrite: expectedKis(rows, -Infinity, Infinity).size,
    // The configured precheck (shared/compose/env.ts: "always" unless KIS_PRECHECK says otherwise; no doctor result here).
    prechecksPerWrite: (env.KIS_PRECHECK ?? "always") === "always" ? 1 : 0,
  };
}

async function callsAndKvWrites() {
  const out: Record<string, number> = {};
  let source: SourceFacts | undefined;
  for (const [label, budget] of [
    ["unlimited", 100_000],
    ["free", 50 - 15],
  ] as const) {
    const e2e = await startE2E({ otherInOut: DOCUMENTS, salesOut: 0, days: 5 });
    // The Worker's layout: checkpoint, registry and a continuing run's carry in the flow's Durable Object (its model).
    e2e.ports.lock = new MemoryFlowCoordinator(e2e.clock);
    const summaries = await e2e.runToCompletion("jst-other-in-to-kis", { budget: { maxSubrequests: budget } }, 2000);
    const written = summaries.reduce((n, s) => n + s.counts.written, 0);
    const kvWrites = summaries.reduce((n, s) => n + (s.kv?.writes ?? 0), 0);
    // Vendor API calls: the state calls a run charges to its budget (write intents, `state:…`) are not API calls.
    const stateCalls = summaries.reduce((n, s) => n + (s.api ?? []).filter((a) => isStateLabel(a.endpoint)).reduce((m, a) => m + a.calls, 0), 0);
    const calls = summaries.reduce((n, s) => n + s.subrequests, 0) - stateCalls;
    const jstRequests = (e2e.stack.jushuitan.requests() as JstLogEntry[]).filter((r) => r.path === JST_PATHS.otherInOut).length;
    const flow = seedFlow("jst-other-in-to-kis");
    source ??= sourceFacts(
      e2e.stack.jushuitan.documents(JST_PATHS.otherInOut),
      summaries.flatMap((s) => s.windows),
      flow.source.paging?.pageSize ?? 30,
      e2e.ports.env,
    );
    // The minimum: every page of every window read once, every document that passes the condition written once.
    const { minimum, minimumPages, keysetPages, kvWritesPer1000 } = syncFigures(source, { calls, pagesRead: jstRequests, written, kvWrites });
    out[`${label}.documents`] = written;
    out[`${label}.documentsToWrite`] = source.documentsToWrite;
    out[`${label}.invocations`] = summaries.length;
    out[`${label}.calls`] = calls;
    out[`${label}.minimum`] = minimum;
    out[`${label}.kvWrites`] = kvWrites;
    out[`${label}.kvWritesPer1000`] = kvWritesPer1000;
    log(
      `${label}: ${written} of ${source.documentsToWrite} documents written in ${summaries.length} invocation(s); ${calls} API calls (${jstRequests} page reads, ${keysetPages} by the keyset protocol's own minimum; minimum ${minimum} = ${minimumPages} pages + ${source.documentsToWrite} writes × ${1 + source.prechecksPerWrite} with the KIS precheck); ${kvWrites} KV writes = ${kvWritesPer1000.toFixed(1)} per 1,000 documents`,
    );
    await e2e.close();
  }
  return out;
}

/** The floor the Jushuitan limits impose on n requests: 5 per second and 100 per minute, sliding windows. */
export function rateFloorMs(n: number, perSecond = 5, perMinute = 100): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = times.length ? times[times.length - 1]! : 0;
    if (i >= perSecond) t = Math.max(t, times[i - perSecond]! + 1000);
    if (i >= perMinute) t = Math.max(t, times[i - perMinute]! + 60_000);
    times.push(t);
  }
  return times.length ? times[times.length - 1]! : 0;
}

async function wallTimeUnderLimits() {
  const now = Date.now();
  const stack = createEmulatorStack({
    jushuitan: {
      seed: 11,
      documents: { [JST_PATHS.otherInOut]: 0, [JST_PATHS.salesOut]: 8_000, [JST_PATHS.purchaseIn]: 0, [JST_PATHS.aftersaleReceived]: 0 },
      range: { from: now - 3 * DAY_MS, to: now - 2 * 3_600_000 },
      // The real limits: 5 per second and 100 per minute per app key.
    },
  });
  const servers = await Promise.all([stack.jushuitan, stack.tplus, stack.kis].map((e) => serveOnLoopback(e.app)));
  const env = stack.env({ jushuitan: servers[0]!.url, tplus: servers[1]!.url, kis: servers[2]!.url });
  const kv = new MemoryKeyValueStore();
  await new KvReferenceStore(kv).put({ name: "warehouses", rows: warehouseReferenceRows(), updatedAt: now, source: "upload" });
  const flow = structuredClone(seedFlow("jst-sales-out-to-tplus"));
  flow.incremental.startAt = formatInZone(now - 4 * DAY_MS, "YYYY-MM-DD");
  const started = performance.now();
  const { summary } = await runFlowById(
    {
      env,
      kv,
      lock: new MemoryFlowLock(systemClock),
      fetch: (i, init) => fetch(i, init),
      clock: systemClock,
      logger: silentLogger,
      flows: { [flow.id]: flow },
    },
    { flowId: flow.id, runId: "bench-wall", trigger: "cli", budget: { maxSubrequests: 100_000 } },
  );
  const wallMs = performance.now() - started;
  const jst = summary.api.filter((a) => a.endpoint.includes("/open/"));
  const jstCalls = jst.reduce((n, a) => n + a.calls, 0);
  const throttles = summary.api.reduce((n, a) => n + a.throttles, 0);
  const latencySum = summary.api.reduce((n, a) => n + (a.latenciesMs ?? []).reduce((x, y) => x + y, 0), 0);
  // The floor: the rate limits for the Jushuitan requests, or the time the requests themselves take, whichever is more.
  const floorMs = Math.max(rateFloorMs(jstCalls), latencySum);
  await Promise.all(servers.map((s) => s.close()));
  log(
    `rate-bound sync: ${jstCalls} Jushuitan requests + ${summary.counts.written} T+ writes, ${throttles} throttled answers; wall ${(wallMs / 1000).toFixed(2)} s, floor ${(floorMs / 1000).toFixed(2)} s → ${(wallMs / floorMs).toFixed(2)}×`,
  );
  return { wallMs, floorMs, ratio: wallMs / floorMs, jstCalls, throttles, outcome: summary.outcome };
}

const calls = await callsAndKvWrites();
// BENCH_SYNC_SKIP_WALL=1: a smoke run of the call and KV rows only (the rate-bound sync takes minutes of real time).
const wall = process.env.BENCH_SYNC_SKIP_WALL ? null : await wallTimeUnderLimits();
if (json) console.log(JSON.stringify({ ...calls, wall }));
