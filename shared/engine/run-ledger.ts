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
    error: { code: e.code, message: e.message, hint: e.hint },
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
  if (ledger.pending.length) await state.ledgerAppend(flowId, ledger.pending.splice(0));
  if (ledger.pendingDead.length) await state.addDeadLetters(flowId, ledger.pendingDead.splice(0));
  for (const unit of ledger.settledPlans.splice(0)) await state.outbox?.delete(flowId, unit);
}
