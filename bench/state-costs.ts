/**
 * State costs per 1,000 documents (issue 12 item 2, issue 18 item 5), both seed flows, with the Workers Free budget
 * (50 subrequests − the Worker's state reserve) and one unlimited invocation:
 *   KV reads / writes / deletes / lists, and flow-coordinator (Durable Object) requests and storage rows read/written.
 * Two state layouts: "kv" (everything in KV; the lock only leases: the CLI, and the Worker before the flow index) and
 * "index" (checkpoint, registry, plans, markers in the flow's Durable Object: the Worker now). The coordinator's
 * requests are counted at the port (each is one Durable Object request), its storage rows by its in-memory model
 * (MemoryFlowCoordinator counts the rows the SQLite object reads and writes for the same calls).
 *   node bench/state-costs.ts [--json] [--docs N]
 */
import { DAY_MS } from "../shared/engine/window.ts";
import { runFlowById } from "../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../shared/state/flow-index.ts";
import { type FlowLockPort, MemoryFlowLock } from "../shared/state/lock.ts";
import { startE2E } from "../test/helpers/e2e.ts";

const json = process.argv.includes("--json");
const docsArg = process.argv.indexOf("--docs");
/** Generated source documents per flow (the KIS flow takes the other-in kind of them, the T+ flow merges them per day and warehouse). */
const docs = docsArg > 0 ? Number(process.argv[docsArg + 1]) : 12_000;
const log = (...args: unknown[]) => {
  if (!json) console.log(...args);
};

/** Counts requests to the coordinator (each call is one Durable Object request in the Worker). */
function countingLock<T extends FlowLockPort>(lock: T): { lock: T; requests: () => number } {
  let requests = 0;
  const proxy = new Proxy(lock, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "constructor") return value;
      return (...args: unknown[]) => {
        requests++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { lock: proxy, requests: () => requests };
}

const FLOWS = [
  { id: "jst-other-in-to-kis", otherInOut: docs, salesOut: 0 },
  { id: "jst-sales-out-to-tplus", otherInOut: 0, salesOut: Math.round(docs / 3) },
] as const;

const out: Record<string, number> = {};
for (const layout of (process.argv.includes("--index-only") ? ["index"] : ["kv", "index"]) as Array<"kv" | "index">)
  for (const f of FLOWS) {
    /** Source documents of the flow: what one unlimited invocation reads (the same seed data for both budgets). */
    let sourceDocs = 0;
    for (const [label, budget] of [
      ["unlimited", 100_000],
      ["free", 50 - 15],
    ] as const) {
      const e2e = await startE2E({ otherInOut: f.otherInOut, salesOut: f.salesOut, days: 5 });
      // Past the last generated day, so merged days are closed.
      e2e.clock.advance(DAY_MS);
      const base: FlowLockPort & { rows?: () => { read: number; written: number } } =
        layout === "index" ? new MemoryFlowCoordinator(e2e.clock) : new MemoryFlowLock(e2e.clock);
      const counted = countingLock(base);
      const summaries = [];
      for (let i = 0; i < 5000; i++) {
        const { summary } = await runFlowById(
          { ...e2e.ports, lock: counted.lock },
          { flowId: f.id, runId: `bench-${i}`, trigger: "cli", budget: { maxSubrequests: budget } },
        );
        summaries.push(summary);
        if (!summary.continues) break;
        e2e.clock.advance(60_000);
      }
      const written = summaries.reduce((n, s) => n + s.counts.written + s.counts.alreadyExisted, 0);
      if (label === "unlimited") sourceDocs = summaries.reduce((n, s) => n + s.counts.read, 0);
      const kv = summaries.reduce(
        (acc, s) => ({
          reads: acc.reads + (s.kv?.reads ?? 0),
          writes: acc.writes + (s.kv?.writes ?? 0),
          deletes: acc.deletes + (s.kv?.deletes ?? 0),
          lists: acc.lists + (s.kv?.lists ?? 0),
        }),
        { reads: 0, writes: 0, deletes: 0, lists: 0 },
      );
      const per = (n: number) => Math.round((n / Math.max(1, sourceDocs)) * 1000 * 10) / 10;
      const rows = (base as { rows?: () => { read: number; written: number } }).rows?.() ?? { read: 0, written: 0 };
      const key = `${layout}.${f.id}.${label}`;
      Object.assign(out, {
        [`${key}.sourceDocuments`]: sourceDocs,
        [`${key}.targetDocuments`]: written,
        [`${key}.invocations`]: summaries.length,
        [`${key}.kvReadsPer1000`]: per(kv.reads),
        [`${key}.kvWritesPer1000`]: per(kv.writes),
        [`${key}.kvDeletesPer1000`]: per(kv.deletes),
        [`${key}.kvListsPer1000`]: per(kv.lists),
        [`${key}.doRequestsPer1000`]: per(counted.requests()),
        [`${key}.doRowsReadPer1000`]: per(rows.read),
        [`${key}.doRowsWrittenPer1000`]: per(rows.written),
      });
      log(
        `${key}: ${sourceDocs} source documents → ${written} target documents, ${summaries.length} invocation(s), last ${summaries.at(-1)?.outcome}; per 1,000 source documents: KV ${per(kv.reads)} reads, ${per(kv.writes)} writes, ${per(kv.deletes)} deletes, ${per(kv.lists)} lists; DO ${per(counted.requests())} requests, ${per(rows.read)} rows read, ${per(rows.written)} rows written`,
      );
      await e2e.close();
    }
  }
if (json) console.log(JSON.stringify(out));
