/**
 * Continuation carry (issue 18 item 5): an invocation that stops on its budget and continues (the Workers Free plan:
 * 50 subrequests, a few pages per invocation) keeps what it would have written to KV in the flow index instead —
 * its ledger entries, its trace (events, tokens, freshness lags) and a compact run record — and the invocation that
 * ends the run (or finds the carry grown past CARRY_MAX_CHARS / CARRY_MAX_INVOCATIONS) writes them to KV at once:
 * one ledger segment, one trace chunk and day map, one freshness rollup, one checkpoint view and one run record
 * (with `chain`: the invocations it sums). KV allows 1,000 writes a day on Free; the Durable Object 100,000 rows.
 *
 * Nothing lost: a carried ledger entry is committed to the index (fenced, strongly consistent) where the KV segment
 * used to be written, before the checkpoint moves past its document; the next invocation's ledger view holds it.
 * The carry is dropped only after its KV copy is written (a failed KV write leaves it for the next invocation; a
 * crash between the two writes the same entries again: a duplicate ledger entry, which loads as one).
 * Nothing doubled: the carried entries are in the view of every later invocation, as a KV segment was.
 * What lags: dashboards and /trace see a continuing run's documents when the run ends (its run record, checkpoint
 * view, trace), as the brief allows ("a view written once per run"); the ledger itself is current in the index.
 */
import type { EngineState } from "../engine/run.ts";
import type { RunSummary } from "../engine/types.ts";
import type { CarriedRun, CarrySummary, FlowIndexCommit, FlowIndexPort, FlowIndexSnapshot } from "./flow-index.ts";
import { mergeGroupEntry } from "./flow-index.ts";
import type { LedgerEntry } from "./records.ts";

/** The carry is written to KV once it holds this much JSON (the load of every invocation reads its ledger part). */
export const CARRY_MAX_CHARS = 1_000_000;
/** …or this many invocations' run records. */
export const CARRY_MAX_INVOCATIONS = 100;

/** The trace side of the carry (observe/trace.ts implements it). */
export interface ContinuationPort {
  /** Whether this invocation keeps its trace and run record in the index (it continues, and the carry is small). */
  carries(summary: RunSummary): Promise<boolean>;
  /** This invocation's unwritten trace, committed with its run record. */
  keepTrace(trace: unknown): void;
  /** The traces earlier invocations carried, oldest first: the invocation that ends the run writes them. */
  carriedTraces(): Promise<unknown[]>;
}

/** Entries of one external key: registry entries merge as a union, others latest-written wins (as LedgerIndex does). */
export function mergeLedgerEntry(current: LedgerEntry | undefined, next: LedgerEntry): LedgerEntry {
  if (next.externalKey.startsWith("group:")) return mergeGroupEntry(current, next);
  return current && current.writtenAt > next.writtenAt ? current : next;
}

/** A plain budget stop: nothing in its record that a dashboard or an alert must see before the run ends. */
function plainContinuation(summary: RunSummary): boolean {
  return (
    summary.continues &&
    !summary.dryRun &&
    !summary.error &&
    !summary.setAside?.length &&
    !summary.corrections?.length &&
    !Object.keys(summary.deadLetterCodes ?? {}).length
  );
}

function compactRun(summary: RunSummary): CarriedRun {
  return {
    runId: summary.runId,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    outcome: summary.outcome,
    counts: { ...summary.counts },
    subrequests: summary.subrequests,
    continues: summary.continues,
    windows: summary.windows.map((w) => ({ from: w.from, to: w.to, complete: w.complete })),
  };
}

/** The run's invocations the final record sums (carried ones plus itself). */
export function chainOf(runs: CarriedRun[], last: RunSummary) {
  const all = [...runs, compactRun(last)];
  const counts: Record<string, number> = {};
  for (const r of all) for (const [k, v] of Object.entries(r.counts)) counts[k] = (counts[k] ?? 0) + v;
  return {
    invocations: all.length,
    runIds: all.map((r) => r.runId),
    /** Every invocation's compact record (its own budget, windows and counts), the last one's included. */
    runs: all,
    startedAt: all[0]!.startedAt,
    counts,
    subrequests: all.reduce((n, r) => n + r.subrequests, 0),
  };
}

export interface Carry extends ContinuationPort {
  /** Loads the carried entries (with the index snapshot) before the first view. */
  ready(): Promise<CarrySummary>;
  /** Carried and this invocation's ledger entries of the key (merged). */
  view(key: string): LedgerEntry | undefined;
  /** Entries appended by this invocation (committed to the index with the append). */
  appended(entries: LedgerEntry[]): void;
  /** Keeps the run record (and the trace) in the index when the invocation continues; false when the run must flush. */
  keep(summary: RunSummary, commit: (c: FlowIndexCommit) => Promise<void>): Promise<boolean>;
  /** Writes the carried and own ledger entries to KV; returns what the index may forget and the chain for the run record. */
  flush(summary: RunSummary): Promise<{ drop?: FlowIndexCommit["dropCarry"]; chain?: ReturnType<typeof chainOf> }>;
}

export function openCarry(
  o: { index: FlowIndexPort; flowId: string },
  snapshot: () => Promise<FlowIndexSnapshot>,
  base: Pick<EngineState, "ledgerAppend">,
): Carry {
  let loaded: CarrySummary | undefined;
  /** Carried (not yet in KV) entries by key, this invocation's included. */
  const entries = new Map<string, LedgerEntry>();
  /** This invocation's entries, in order. */
  const own: LedgerEntry[] = [];
  let ownChars = 0;
  let trace: unknown;
  let tracesTaken = false;
  const carry = async () => {
    if (!loaded) {
      loaded = (await snapshot()).carry ?? { ledger: [], runs: [], chars: 0 };
      for (const e of loaded.ledger) entries.set(e.externalKey, mergeLedgerEntry(entries.get(e.externalKey), e));
    }
    return loaded;
  };
  const carries = async (summary: RunSummary) => {
    const c = await carry();
    return plainContinuation(summary) && c.runs.length + 1 < CARRY_MAX_INVOCATIONS && c.chars + ownChars < CARRY_MAX_CHARS;
  };
  return {
    ready: carry,
    view: (key) => entries.get(key),
    appended: (list) => {
      for (const e of list) {
        own.push(e);
        entries.set(e.externalKey, mergeLedgerEntry(entries.get(e.externalKey), e));
      }
      ownChars += JSON.stringify(list).length;
    },
    carries,
    keepTrace: (t) => {
      trace = t;
    },
    carriedTraces: async () => {
      const traces = await o.index.loadCarriedTraces(o.flowId);
      // Taken (dropped from the index by flush) only once read: a failed read leaves them for the next run.
      tracesTaken = true;
      return traces;
    },
    keep: async (summary, commit) => {
      if (!(await carries(summary))) return false;
      await commit({ carry: { run: compactRun(summary), ...(trace !== undefined ? { trace } : {}) } });
      trace = undefined;
      own.length = 0;
      return true;
    },
    flush: async (summary) => {
      const c = await carry();
      const all = [...c.ledger, ...own];
      if (all.length) await base.ledgerAppend(o.flowId, all);
      const chain = c.runs.length ? chainOf(c.runs, summary) : undefined;
      // Traces the run did not take (a run failed before its trace was written) stay for the next one.
      const drop: FlowIndexCommit["dropCarry"] = c.chars > 0 || all.length > 0 ? (tracesTaken ? ["ledger", "run", "trace"] : ["ledger", "run"]) : undefined;
      loaded = { ledger: [], runs: [], chars: 0 };
      own.length = 0;
      ownChars = 0;
      entries.clear();
      return { ...(drop ? { drop } : {}), ...(chain ? { chain } : {}) };
    },
  };
}
