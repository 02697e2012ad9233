/**
 * "Writes in flight" marker, so recovery follows from state and not only from a lease takeover (engine-review
 * finding 6, tests-audit F5):
 *
 *   wip:<flow>   { state: "writing" | "unclean", runId, at }
 *
 * A run puts `writing` before its first target write and deletes the marker when it ends cleanly (ledger saved,
 * outcome not failed). A run that fails after writes, or whose ledger save fails, turns it into `unclean`; a killed
 * invocation leaves `writing` behind. Either way the next run (of any host) verifies every write in the target
 * before sending it, and keeps doing so across budget continuations until a run of the chain completes cleanly.
 * Cost: one read per run; one write and one delete per run that writes.
 */
import type { Clock, KeyValueStore } from "../ports.ts";
import { checkFlowId } from "./keys.ts";

export const WRITE_MARKER_PREFIX = "wip:";

export interface WriteMarker {
  state: "writing" | "unclean";
  runId: string;
  at: number;
}

export class WriteMarkerStore {
  private readonly kv: KeyValueStore;
  private readonly clock: Clock;
  /** KV takes one write per second per key: a delete right after the put waits out the second. */
  private lastWrite = new Map<string, number>();

  constructor(kv: KeyValueStore, clock: Clock) {
    this.kv = kv;
    this.clock = clock;
  }

  async read(flow: string): Promise<WriteMarker | null> {
    const raw = await this.kv.get(`${WRITE_MARKER_PREFIX}${checkFlowId(flow)}`);
    if (raw === null) return null;
    try {
      const m = JSON.parse(raw) as WriteMarker;
      return m && (m.state === "writing" || m.state === "unclean") ? m : { state: "unclean", runId: "?", at: 0 };
    } catch {
      return { state: "unclean", runId: "?", at: 0 }; // unreadable: be safe
    }
  }

  async mark(flow: string, marker: WriteMarker): Promise<void> {
    const key = `${WRITE_MARKER_PREFIX}${checkFlowId(flow)}`;
    await this.space(key);
    await this.kv.put(key, JSON.stringify(marker));
    this.lastWrite.set(key, this.clock.now());
  }

  async clear(flow: string): Promise<void> {
    const key = `${WRITE_MARKER_PREFIX}${checkFlowId(flow)}`;
    await this.space(key);
    await this.kv.delete(key);
    this.lastWrite.set(key, this.clock.now());
  }

  private async space(key: string): Promise<void> {
    const last = this.lastWrite.get(key);
    if (last === undefined) return;
    const wait = 1000 - (this.clock.now() - last);
    if (wait > 0) await this.clock.sleep(wait);
  }
}
