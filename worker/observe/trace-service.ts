/**
 * GET /trace and the dashboard's trace page read through here: the trace index (shared/observe/trace.ts) plus
 * the dead-letter store, which knows what happened to a letter afterwards (replayed, resolved by hand).
 */
import { BridgeError } from "../../shared/errors.ts";
import { searchTrace, type TraceResult } from "../../shared/observe/trace.ts";
import type { DeadLetter } from "../../shared/state/records.ts";
import type { Services } from "../services.ts";

export type TraceEntry =
  | TraceResult["events"][number]
  | { t: "dead_letter_status"; at: number; flow: string; run: string; letter: string; open: boolean; reason?: string; by?: string };

export interface DocumentTrace {
  q: string;
  days: number;
  events: TraceEntry[];
  /** Per document found that was completed or corrected: its chain (shared/observe/corrections-view.ts). */
  corrections: TraceResult["corrections"];
  deadLetters: Array<Pick<DeadLetter, "id" | "flow" | "runId" | "sourceId" | "externalKey" | "error" | "createdAt" | "resolved">>;
  reads: number;
}

const ID = /^[\p{L}\p{N}_.:\-/#]{1,128}$/u;

export async function traceDocument(services: Services, q: string, days?: number): Promise<DocumentTrace> {
  const token = q.trim();
  if (!ID.test(token)) {
    throw new BridgeError("invalid_request", "q must be one document id (io_id, so_id, ExternalCode or FBillNo), 1–128 letters, digits or _ . : - / #", {
      hint: "e.g. GET /trace?q=5300123",
    });
  }
  const flows = Object.keys(services.config.flows);
  const result = await searchTrace(services.kv, flows, token, { now: Date.now(), ...(days ? { days } : {}) });
  // Every id the trace tied to the document (its source ids and the target key) finds its dead letters.
  const ids = new Set<string>([token]);
  for (const e of result.events) {
    if (e.t === "read") ids.add(e.id);
    if (e.t === "write" || e.t === "write_failed" || e.t === "settled") ids.add(e.key);
    if (e.t === "dead_letter") {
      if (e.id) ids.add(e.id);
      if (e.key) ids.add(e.key);
    }
  }
  const letters = (await services.deadLetters(undefined, "all")).filter(
    (l) => (l.sourceId && ids.has(l.sourceId)) || (l.externalKey && ids.has(l.externalKey)),
  );
  const events: TraceEntry[] = [...result.events];
  for (const l of letters) {
    if (l.resolved)
      events.push({
        t: "dead_letter_status",
        at: l.resolved.at,
        flow: l.flow,
        run: l.runId,
        letter: l.id,
        open: false,
        reason: l.resolved.reason,
        by: l.resolved.by,
      });
  }
  events.sort((a, b) => a.at - b.at);
  return {
    q: token,
    days: result.days,
    events,
    corrections: result.corrections,
    deadLetters: letters.map(({ id, flow, runId, sourceId, externalKey, error, createdAt, resolved }) => ({
      id,
      flow,
      runId,
      sourceId,
      externalKey,
      error,
      createdAt,
      resolved,
    })),
    reads: result.reads + 1,
  };
}
