/**
 * The merge spool in chunked keys (issue 12 item 8, engine-review finding 9). A budget-stopped run of a merge flow
 * keeps the rows it read in the window (`cursor.spool`) so the continuation need not read them again; inside the
 * checkpoint value that grew with the day's volume up to KV's 25 MiB limit. Here the spool goes to
 * `spool:<flow>:<ms13>-<n>` chunks of at most `chunkBytes` (default 4 MiB), the checkpoint carries only
 * `cursor.spoolRef { keys, rows }`, and the engine sees the same checkpoint as before (run.ts unchanged).
 *
 *  - keys are new per save (KV's one write per second per key never bites) and carry a TTL (orphans expire);
 *  - the previous save's chunks are deleted after the new checkpoint is written (a stop in between leaves orphans,
 *    never a checkpoint pointing at nothing);
 *  - a checkpoint whose chunks cannot all be read (a stale read of an older checkpoint whose chunks were deleted)
 *    loses its cursor: the window is read again from its start; the watermark has not passed it and the ledger
 *    skips what was written, so nothing is lost or doubled.
 * Cost: per budget stop of a merge flow, ⌈spool / 4 MiB⌉ writes (usually 1) + the previous stop's deletes; per resume
 * the same number of reads. Unmerged flows' spools (one page's rows) stay inline.
 */
import type { KeyValueStore, Logger } from "../ports.ts";
import type { EngineState } from "../engine/run.ts";
import type { Checkpoint, SourceRow } from "../engine/types.ts";
import { utf8Length } from "../util/utf8.ts";

export const SPOOL_PREFIX = "spool:";
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/** Spools smaller than this stay inline (one page of an unmerged flow). */
const INLINE_BYTES = 8 * 1024;
/** Orphaned chunks expire on their own (a run stopped between the checkpoint write and the deletes). */
const CHUNK_TTL_S = 14 * 86_400;

interface SpoolRef {
  keys: string[];
  rows: number;
}

export function spooledState(
  state: EngineState,
  kv: KeyValueStore,
  /** inlineBytes: spools up to this size stay in the checkpoint (default 8 KiB; more where the checkpoint lives in the flow index). */
  options: { now: () => number; logger: Logger; chunkBytes?: number; inlineBytes?: number },
): EngineState {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  /** Chunks the last loaded or saved checkpoint points at: deleted once a newer checkpoint is written. */
  const current = new Map<string, string[]>();

  const writeChunks = async (flowId: string, rows: SourceRow[]): Promise<SpoolRef> => {
    const stamp = String(options.now()).padStart(13, "0");
    const nonce = Math.random().toString(36).slice(2, 8);
    const keys: string[] = [];
    let chunk: string[] = [];
    let size = 2;
    const flush = async () => {
      const key = `${SPOOL_PREFIX}${flowId}:${stamp}-${nonce}-${keys.length}`;
      await kv.put(key, `[${chunk.join(",")}]`, { expirationTtl: CHUNK_TTL_S });
      keys.push(key);
      chunk = [];
      size = 2;
    };
    for (const row of rows) {
      const json = JSON.stringify(row);
      const bytes = utf8Length(json) + 1;
      if (chunk.length && size + bytes > chunkBytes) await flush();
      chunk.push(json);
      size += bytes;
    }
    if (chunk.length || keys.length === 0) await flush();
    return { keys, rows: rows.length };
  };

  return {
    ...state,
    loadCheckpoint: async (flowId) => {
      const cp = await state.loadCheckpoint(flowId);
      const cursor = cp?.cursor as (Checkpoint["cursor"] & { spoolRef?: SpoolRef }) | undefined;
      const ref = cursor?.spoolRef;
      if (!cp || !cursor || !ref) return cp;
      const parts = await Promise.all(ref.keys.map((k) => kv.get(k)));
      if (parts.some((p) => p === null)) {
        options.logger.warn("spool chunks of the saved cursor are gone (stale checkpoint read?); the window is read again", { flowId, keys: ref.keys.length });
        const { cursor: _dropped, ...rest } = cp;
        return rest;
      }
      const spool = parts.flatMap((p) => JSON.parse(p!) as SourceRow[]);
      current.set(flowId, ref.keys);
      const { spoolRef: _ref, ...plain } = cursor;
      return { ...cp, cursor: { ...plain, spool } };
    },
    saveCheckpoint: async (flowId, checkpoint) => {
      const previous = current.get(flowId) ?? [];
      const spool = checkpoint.cursor?.spool;
      let saved = checkpoint;
      let keys: string[] = [];
      if (spool && spool.length && utf8Length(JSON.stringify(spool)) > (options.inlineBytes ?? INLINE_BYTES)) {
        const ref = await writeChunks(flowId, spool);
        keys = ref.keys;
        const { spool: _inline, ...cursor } = checkpoint.cursor!;
        saved = { ...checkpoint, cursor: { ...cursor, spoolRef: ref } as Checkpoint["cursor"] };
      }
      await state.saveCheckpoint(flowId, saved);
      current.set(flowId, keys);
      for (const key of previous) await kv.delete(key).catch(() => undefined);
    },
  };
}
