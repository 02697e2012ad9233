/**
 * The run's ledger side (split out of run.ts): entries settled in this run shadow the stored ledger until they are
 * saved, dead letters are filed once per failing content, and flushState saves both with the settled outbox plans.
 */
import type { DeadLetterInput, LedgerEntry } from "../state/records.ts";
import { contentHash } from "./hash.ts";
import { deadLetterMarker, groupLedgerKey } from "./ledger-keys.ts";
import type { FlowRun } from "./run-context.ts";
import { toBridgeError } from "./run-errors.ts";
import { TargetConflictError } from "./verify-existing.ts";

const isDeadLetterMarker = (key: string) => key.startsWith(deadLetterMarker(""));

/** The run's view of the flow ledger: entries settled in this run shadow the stored one until flushState saves them. */
export class RunLedger {
  view?: (key: string) => LedgerEntry | undefined;
  /** Entries settled in this run, newest last. */
  private readonly settled = new Map<string, LedgerEntry>();
  readonly pending: LedgerEntry[] = [];
  readonly pendingDead: DeadLetterInput[] = [];
  /** Outbox plans settled (all parts written or dead-lettered): deleted once the ledger holds their registry entry. */
  readonly settledPlans: string[] = [];

  get(key: string): LedgerEntry | undefined {
    return this.settled.get(key) ?? this.view?.(key);
  }

  remember(entry: LedgerEntry): void {
    this.settled.set(entry.externalKey, entry);
    this.pending.push(entry);
  }

  /** What was already written for a merge group (its registry entry). */
  writtenGroup(groupKey: string): { members: string[]; supplements: number } | undefined {
    const entry = this.get(groupLedgerKey(groupKey));
    return entry ? { members: entry.members ?? [], supplements: entry.supplements ?? 0 } : undefined;
  }
}

/** The extra a dead letter can carry: the document's key and the payload that failed. */
export type DeadLetterExtra = { externalKey?: string; payload?: unknown };

/**
 * Files a dead letter once: a marker in the ledger (id + content hash) keeps the lookback overlap and
 * re-reads from filing the same failure again; a changed source document is tried afresh.
 */
export function fileDeadLetter(run: FlowRun, sourceId: string, source: unknown, error: unknown, extra: DeadLetterExtra = {}): void {
  const { clock, logger } = run.deps;
  const e = toBridgeError(error);
  const marker = deadLetterMarker(extra.externalKey ?? sourceId);
  // A conflict shows both sides (verify-existing.ts) and is filed once per pair of sides, whichever path found it.
  if (e instanceof TargetConflictError) extra = { ...extra, payload: { ...e.sides, document: extra.payload } };
  const hash = e instanceof TargetConflictError ? contentHash(["conflict", e.sides]) : contentHash([source ?? null, extra.payload ?? null, e.code]);
  if (run.ledger.get(marker)?.contentHash === hash) {
    run.counts.skipped++;
    return;
  }
  run.counts.deadLettered++;
  run.deadLetterCodes[e.code] = (run.deadLetterCodes[e.code] ?? 0) + 1;
  if (run.dryRun) return;
  run.ledger.remember({ externalKey: marker, contentHash: hash, writtenAt: clock.now(), runId: run.runId });
  run.ledger.pendingDead.push({
    flowId: run.flowId,
    runId: run.runId,
    sourceId,
    externalKey: extra.externalKey,
    source,
    payload: extra.payload,
    // Details stay out of letters (they may hold raw answers); only the mark a run retries by (unvouched-retry.ts).
    error: { code: e.code, message: e.message, hint: e.hint, ...(e.details?.unvouched === true ? { details: { unvouched: true } } : {}) },
    at: clock.now(),
  });
  logger.warn("document dead-lettered", { flowId: run.flowId, sourceId, code: e.code });
}

/** Saves what the run settled: ledger entries, dead letters, and the deletion of settled outbox plans. */
export async function flushState(run: FlowRun): Promise<void> {
  if (run.dryRun) return;
  const { state, lease } = run.deps;
  const { ledger, flowId } = run;
  await lease?.keep();
  // Letters before their markers: a `dead:` marker makes later runs skip the document as filed, so it is saved only
  // once its letter is stored. A failed letter write keeps letters and markers pending (failRun's flush tries again;
  // a run that ends without them files them afresh); the other entries (written documents) are saved regardless.
  let letterError: unknown;
  if (ledger.pendingDead.length) {
    const letters = [...ledger.pendingDead];
    try {
      await state.addDeadLetters(flowId, letters);
      ledger.pendingDead.splice(0, letters.length);
    } catch (error) {
      letterError = error;
    }
  }
  const entries = letterError === undefined ? [...ledger.pending] : ledger.pending.filter((e) => !isDeadLetterMarker(e.externalKey));
  if (entries.length) {
    await state.ledgerAppend(flowId, entries);
    // Pending entries stay until saved: a failed save is tried again by failRun's flush.
    const saved = new Set(entries);
    const kept = ledger.pending.filter((e) => !saved.has(e));
    ledger.pending.splice(0, ledger.pending.length, ...kept);
  }
  if (letterError !== undefined) throw letterError;
  for (const unit of ledger.settledPlans.splice(0)) await state.outbox?.delete(flowId, unit);
}
