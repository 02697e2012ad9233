/**
 * The checkpoint dashboards and alerts show (GET /flows, the freshness tick). The KV checkpoint is a view a run writes
 * at its end (and a continuing run at its first invocation, indexed-state.ts); while a run of many Free-plan
 * invocations continues, only the flow index (the Worker's Durable Object) knows where it is now. Reading the KV view
 * alone reported a moving watermark as stalled (adv18-carry-stall-alert), so hosts with an index read it here.
 */
import type { Checkpoint } from "../engine/types.ts";

/** The index's checkpoint in brief (no cursor body: it may hold an inline spool). */
export interface IndexCheckpointView {
  watermark: number;
  runId: string;
  updatedAt: number;
  /** The checkpoint holds a cursor: a run resumes mid-window. */
  resume: boolean;
}

export interface IndexCheckpointReader {
  indexCheckpoint(flowId: string): Promise<IndexCheckpointView | null>;
}

export function briefCheckpoint(checkpoint: Checkpoint | null): IndexCheckpointView | null {
  if (!checkpoint) return null;
  return { watermark: checkpoint.watermark, runId: checkpoint.runId, updatedAt: checkpoint.updatedAt, resume: Boolean(checkpoint.cursor) };
}

function isIndexCheckpointReader(value: unknown): value is IndexCheckpointReader {
  return typeof (value as Partial<IndexCheckpointReader> | null)?.indexCheckpoint === "function";
}

/** What GET /flows and the alerts read of a checkpoint. */
export interface CheckpointView {
  watermark: number | string | null;
  runId?: string;
  cursor?: unknown;
}

/**
 * The flow's current checkpoint: the index's where the host has one and it holds a checkpoint, else the KV view.
 * A failed index read falls back to the KV view (the dashboard still answers).
 */
export async function currentCheckpoint<V extends CheckpointView>(
  store: { getWatermark(flowId: string): Promise<V | null> },
  lock: unknown,
  flowId: string,
): Promise<V | CheckpointView | null> {
  const [view, indexed] = await Promise.all([
    store.getWatermark(flowId),
    isIndexCheckpointReader(lock) ? lock.indexCheckpoint(flowId).catch(() => null) : null,
  ]);
  if (!indexed) return view;
  return { ...(view ?? {}), watermark: indexed.watermark, runId: indexed.runId, cursor: indexed.resume ? (view?.cursor ?? {}) : null };
}
