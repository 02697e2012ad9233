/**
 * Poison documents: a write that still fails with a retryable error after the client's own retries (T+ answering
 * 500 for one payload, a KIS bill that times out every time) must not hold back the documents after it.
 *
 *  - The document is set aside for this run; the run goes on with the others. The watermark waits (the engine
 *    keeps it at the window the document came from), so the next run reads it again.
 *  - A per-document attempt count (`try:<externalKey>` in the ledger, tied to the content hash) carries across
 *    runs. It does not grow in a run that looked like a target outage (three set-asides in a row before any write
 *    succeeded): that is not N poison documents and counts for nobody. A run whose only writes are one or two
 *    retried documents does count (after a lookback re-read the others are skipped by the ledger, so "no other
 *    write succeeded" is the normal case for a poison document, not a sign of an outage).
 *  - After `maxFailedRuns` counted failures (default 3) the document is dead-lettered with its source rows and the
 *    last error (the dead-letter alert fires) and is not sent again while its content is unchanged; the next run's
 *    watermark moves on.
 *  - Three set-aside documents in a row with no success in the run is taken as an outage: the run stops as before.
 *  - A document that was tried before is written after the others in its page (so poison at the head of a page
 *    cannot look like an outage forever) and with verifyExisting (its last send may have been stored).
 */
import { BridgeError, ConfigError } from "../errors.ts";
import type { LedgerEntry } from "../state/records.ts";
import type { BuiltDocument, SourceRow } from "./types.ts";

export const DEFAULT_MAX_FAILED_RUNS = 3;
/** Consecutive set-asides with no successful write in the run that mean "the target is down". */
export const OUTAGE_AFTER_CONSECUTIVE_FAILURES = 3;

/** Ledger key of a document's failed-write count. */
export const attemptLedgerKey = (externalKey: string) => `try:${externalKey}`;

export interface SetAsideDocument {
  doc: BuiltDocument;
  rows: SourceRow[];
  error: BridgeError;
  /** Failed runs counted before this one. */
  priorAttempts: number;
}

export class PoisonBook {
  private readonly setAsideDocs = new Map<string, SetAsideDocument>();
  private consecutive = 0;
  private successes = 0;
  private windowCount = 0;
  private outage = false;

  private readonly ledgerGet: (key: string) => LedgerEntry | undefined;
  readonly maxFailedRuns: number;

  constructor(ledgerGet: (key: string) => LedgerEntry | undefined, maxFailedRuns = DEFAULT_MAX_FAILED_RUNS) {
    this.ledgerGet = ledgerGet;
    this.maxFailedRuns = maxFailedRuns;
  }

  /** Failed runs counted for this content of the document (a changed document starts afresh). */
  priorAttempts(doc: BuiltDocument): number {
    const entry = this.ledgerGet(attemptLedgerKey(doc.externalKey));
    return entry && entry.contentHash === doc.contentHash ? (entry.attempts ?? 0) : 0;
  }

  /** Tried before (failed in an earlier run): verify before sending, write after the others. */
  triedBefore(doc: BuiltDocument): boolean {
    return this.ledgerGet(attemptLedgerKey(doc.externalKey))?.contentHash === doc.contentHash;
  }

  /** Dead-lettered as poison already: not sent again while its content is unchanged. */
  exhausted(doc: BuiltDocument): boolean {
    return this.priorAttempts(doc) >= this.maxFailedRuns;
  }

  /** Documents tried before go last (stable otherwise). */
  order(docs: BuiltDocument[]): BuiltDocument[] {
    const fresh = docs.filter((d) => !this.triedBefore(d));
    return fresh.length === docs.length ? docs : [...fresh, ...docs.filter((d) => this.triedBefore(d))];
  }

  succeeded(): void {
    this.consecutive = 0;
    this.successes++;
  }

  /** Sets the document aside; returns true when the failures look like a target outage (the run should stop). */
  setAside(doc: BuiltDocument, rows: SourceRow[], error: BridgeError): boolean {
    this.setAsideDocs.set(doc.externalKey, { doc, rows, error, priorAttempts: this.priorAttempts(doc) });
    this.consecutive++;
    this.windowCount++;
    if (this.successes === 0 && this.consecutive >= OUTAGE_AFTER_CONSECUTIVE_FAILURES) this.outage = true;
    return this.outage;
  }

  /** Documents set aside since the last call (the engine holds the watermark for the window when > 0). */
  takeWindowCount(): number {
    const n = this.windowCount;
    this.windowCount = 0;
    return n;
  }

  get size(): number {
    return this.setAsideDocs.size;
  }

  /**
   * End of run: the attempt entries to record, and the documents whose count reached the limit (to dead-letter).
   * Counts do not grow in a run that looked like an outage.
   */
  settle(runId: string, at: number): { entries: LedgerEntry[]; exhausted: Array<SetAsideDocument & { attempts: number }>; setAside: Array<{ externalKey: string; attempts: number; code: string }> } {
    const counted = !this.outage;
    const entries: LedgerEntry[] = [];
    const exhausted: Array<SetAsideDocument & { attempts: number }> = [];
    const setAside: Array<{ externalKey: string; attempts: number; code: string }> = [];
    for (const item of this.setAsideDocs.values()) {
      const attempts = item.priorAttempts + (counted ? 1 : 0);
      entries.push({ externalKey: attemptLedgerKey(item.doc.externalKey), contentHash: item.doc.contentHash, attempts, writtenAt: at, runId });
      if (attempts >= this.maxFailedRuns) exhausted.push({ ...item, attempts });
      else setAside.push({ externalKey: item.doc.externalKey, attempts, code: item.error.code });
    }
    this.setAsideDocs.clear();
    return { entries, exhausted, setAside };
  }
}

/** The dead letter's error for a document that failed in too many runs. */
export function repeatedFailure(externalKey: string, attempts: number, last: BridgeError): BridgeError {
  return new BridgeError("write_failed_repeatedly", `${externalKey}: the target failed this document in ${attempts} runs (last: ${last.code}: ${last.message})`, {
    hint: "the other documents were written; check this payload against the target (a value or master data it cannot take), fix the flow, reference table or target, then replay this dead letter",
    details: { lastCode: last.code },
  });
}

/** MAX_FAILED_RUNS: failed runs after which a document that keeps failing is dead-lettered (default 3). */
export function maxFailedRunsFromEnv(env: Record<string, string | undefined>): number {
  const raw = env.MAX_FAILED_RUNS;
  if (raw === undefined || raw === "") return DEFAULT_MAX_FAILED_RUNS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new ConfigError(`MAX_FAILED_RUNS must be a whole number from 1 to 100 (got "${raw}")`, {
      hint: "unset it for the default 3: a document that fails in 3 runs is dead-lettered and the flow moves on",
    });
  }
  return n;
}
