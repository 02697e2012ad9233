/**
 * "Writes in flight" markers, so recovery follows from state and not only from a lease takeover (engine-review
 * finding 6, tests-audit F5):
 *
 *   wip:<flow>:<runId>   put before the run's first target write (a new key per run: no same-key write rate)
 *
 * The run's record (`run:<flow>:<runId>`, written at its end anyway) says `writesSettled: true` when its ledger
 * was saved and it did not fail after writes. The next run lists the markers: a marker whose run record says
 * settled is deleted; any other (no record: killed; failed after writes; ledger not saved) makes that run verify
 * every write in the target before sending it, through its budget continuations, until a run of the chain ends
 * cleanly and deletes the markers it inherited.
 * Cost: per run one list; per writing run one put, and one read and one delete in a later run.
 */
import type { KeyValueStore } from "../ports.ts";
import { checkFlowId, stateKeys } from "./keys.ts";

export const WRITE_MARKER_PREFIX = "wip:";

const markerPrefix = (flow: string) => `${WRITE_MARKER_PREFIX}${checkFlowId(flow)}:`;

export class WriteMarkerStore {
  private readonly kv: KeyValueStore;

  constructor(kv: KeyValueStore) {
    this.kv = kv;
  }

  /** Run ids whose writes are not known to be settled (their markers stay); settled markers are deleted. */
  async unsettled(flow: string, ownRunId: string): Promise<string[]> {
    const keys = await this.kv.list(markerPrefix(flow));
    const open: string[] = [];
    for (const key of keys) {
      const runId = key.slice(markerPrefix(flow).length);
      if (runId === ownRunId) continue;
      let settled = false;
      try {
        const raw = await this.kv.get(stateKeys.run(flow, runId));
        settled = raw !== null && (JSON.parse(raw) as { writesSettled?: unknown }).writesSettled === true;
      } catch {
        settled = false;
      }
      if (settled) await this.kv.delete(key);
      else open.push(runId);
    }
    return open;
  }

  async mark(flow: string, runId: string, at: number): Promise<void> {
    await this.kv.put(`${markerPrefix(flow)}${runId}`, JSON.stringify({ runId, at }));
  }

  /** Deletes markers a recovering run inherited, once it settled everything they stood for. */
  async clear(flow: string, runIds: readonly string[]): Promise<void> {
    for (const runId of runIds) await this.kv.delete(`${markerPrefix(flow)}${runId}`);
  }
}
