/**
 * The saved position of a reference refresh that ran out of subrequests (Workers Free: 50 per invocation; a KIS
 * catalogue read item by item needs ~1 call per material). The next run continues from it instead of starting
 * over, so a catalogue larger than one invocation still fills in a few runs. Kept in its own KV key next to the
 * table (ref:<table>:progress); dropped once the table is written, and ignored when older than the TTL (the
 * catalogue may have changed too much for the pages to line up).
 */
import type { MaterialRefreshProgress } from "../connectors/kis/operations.ts";
import type { KeyValueStore } from "../ports.ts";
import { stateKeys } from "../state/keys.ts";

interface SavedProgress {
  v: 1;
  /** "<type> <operation>" the progress belongs to. */
  source: string;
  startedAt: number;
  savedAt: number;
  progress: MaterialRefreshProgress;
}

export async function loadRefreshProgress(
  kv: KeyValueStore | undefined,
  table: string,
  source: string,
  now: number,
  maxAgeMs: number,
): Promise<{ startedAt: number; progress: MaterialRefreshProgress } | null> {
  if (!kv) return null;
  const raw = await kv.get(stateKeys.referenceProgress(table));
  if (raw === null) return null;
  try {
    const saved = JSON.parse(raw) as SavedProgress;
    const p = saved?.progress;
    const valid =
      saved?.v === 1 &&
      saved.source === source &&
      Number.isFinite(saved.startedAt) &&
      p &&
      Number.isInteger(p.nextPage) &&
      p.nextPage >= 1 &&
      typeof p.listDone === "boolean" &&
      Array.isArray(p.listed) &&
      Array.isArray(p.detailed) &&
      p.detailState !== null &&
      typeof p.detailState === "object";
    if (!valid || now - saved.startedAt > Math.max(maxAgeMs, 3_600_000)) return null;
    return { startedAt: saved.startedAt, progress: p };
  } catch {
    return null; // unreadable: start over
  }
}

export async function saveRefreshProgress(
  kv: KeyValueStore | undefined,
  table: string,
  source: string,
  startedAt: number,
  now: number,
  progress: MaterialRefreshProgress,
): Promise<void> {
  if (!kv) return;
  const saved: SavedProgress = { v: 1, source, startedAt, savedAt: now, progress };
  await kv.put(stateKeys.referenceProgress(table), JSON.stringify(saved));
}

export async function dropRefreshProgress(kv: KeyValueStore | undefined, table: string): Promise<void> {
  if (!kv) return;
  await kv.delete(stateKeys.referenceProgress(table));
}
