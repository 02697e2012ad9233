/**
 * Poison documents: a write that still fails with a retryable error after the client's own retries (T+ answering
 * 500 for one payload, a KIS bill that times out every time) must not hold back the documents after it.
 *
 *  - The document is set aside for this run; the run goes on with the others. The watermark waits (the engine
 *    keeps it at the window the document came from), so the next run reads it again.
 *  - A per-document attempt count (`try:<externalKey>` in the ledger, tied to the content hash) carries across
 *    runs. It does not grow in a run that looked like a target outage: that is not N poison documents and counts for
 *    nobody.
 *  - Outage, at any point in the run (not only before the first success: a target that goes down mid-run is still
 *    down): three set-asides in a row of documents never tried before (a target that takes nothing new fails every
 *    fresh document, whatever a read says); three in a row of documents tried before when a known-good read of
 *    the target (TargetConnector.probe, a lookup) fails too (no probe: when no create was seen to work); or any
 *    set-aside that nothing vouches for (no create seen, below) when that read fails too. The run then stops as
 *    before and counts nothing. When the probe answers, the run goes on with the other documents (later windows):
 *    poison alone in its window no longer stops every run before anything can prove the target up. A run in which
 *    the target took no create and no failure counted reports "failed" (run-record.ts).
 *  - A failure counts only where the target is shown to be up. (a) It took a create: in this run, or, for a document
 *    tried before, in a run since it first failed (`createsSeen` on its attempt entry, carried from run to run).
 *    A run that ended as an outage records no `createsSeen` (adv6-outage-after-create: one create taken just before
 *    a create-only outage made every later run count the bills waiting through it).
 *    (b) Else (chaos seed 9147: the bill arrived after every other bill was written, so no create could ever be
 *    seen again, its count stayed at 1 and the flow was blocked for good): the known-good read answered in this
 *    run and fewer than three documents failed in a row. The read is asked once per run, before such a document is
 *    sent (`beforeRetry`: the evidence exists even if the write's retries spend a tiny budget) or when a fresh one
 *    fails. One or two documents the target keeps refusing while it reads are poison; three or more with nothing
 *    taken look like a target that takes no create at all (a create-only outage) and count for nobody, as do
 *    failures in a run whose read failed (a real outage: every create and read failing). (c) A target with no such
 *    read: a fresh document's failure counts when no outage was seen (as before). (T+ without FindVoucherList has
 *    one: a one-row warehouse/Query, connectors/tplus/operations.ts probe; adv7-tplus-poison-no-query.)
 *    Each count is one run (an invocation that continues a run skips what an earlier one set aside), so a document
 *    is dead-lettered after `maxFailedRuns` runs, at the schedule's pace (30 min apart by default).
 *    A create-only outage met only by one or two documents waiting (or, after creates were seen, by documents tried
 *    before with no fresh one failing alongside) cannot be told from poison and counts them. Their letters heal by
 *    themselves (adv6-create-outage): a letter filed when no create was seen since the document first failed
 *    (`vouched` false) is marked `unvouched` and retried after each run's read for a day, verified first, and resolved
 *    when written (unvouched-retry.ts); a real poison document fails each retry and its letter stays open. Counts
 *    spaced in wall-clock time were the other choice: an outage longer than the spacing would still exhaust them.
 *    Back-to-back manual runs are counted like scheduled ones (no spacing in wall-clock time).
 *  - After `maxFailedRuns` counted failures (default 3) the document is dead-lettered with its source rows and the
 *    last error (the dead-letter alert fires) and is not sent again while its content is unchanged; the next run's
 *    watermark moves on. A 5xx may have committed: the target is read back under the key first, and a document it
 *    holds with our lines is not lettered but recorded by the next run (poison-verify.ts); a letter's replay
 *    verifies existence before it sends (replay.ts).
 *  - A document that was tried before is written after the others in its page (so poison at the head of a page
 *    cannot look like an outage forever) and with verifyExisting (its last send may have been stored).
 */
import { type EnvVars, numberFromEnv } from "../compose/env.ts";
import { BridgeError } from "../errors.ts";
import type { LedgerEntry } from "../state/records.ts";
import { deadLetterMarker } from "./ledger-keys.ts";
import type { BuiltDocument, SourceRow } from "./types.ts";

export const DEFAULT_MAX_FAILED_RUNS = 3;
/** Consecutive set-asides that mean "the target is down" (for documents tried before: when the probe fails too). */
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
  /** Set-asides in a row (reset by a successful write) of documents never tried before / tried before. */
  private consecutiveFresh = 0;
  private consecutiveRetried = 0;
  private successes = 0;
  /** A create succeeded in an earlier invocation of this run (the cursor carries it). */
  private runCreates = false;
  private windowCount = 0;
  private outage = false;
  /** The known-good read's answer in this run, asked at most once ("none": the target offers no such read). */
  private probed: "unknown" | "up" | "down" | "none" = "unknown";
  /** The longest run of set-asides with no successful write between them. */
  private longestStreak = 0;
  /** A document tried before that failed in this run had seen the target take creates since it first failed. */
  private retriedCreatesSeen = false;

  private readonly ledgerGet: (key: string) => LedgerEntry | undefined;
  private readonly probe: (() => Promise<boolean | undefined>) | undefined;
  readonly maxFailedRuns: number;

  /** `probe`: a known-good read of the target; true when it answered, false when it failed, undefined when there is none. */
  constructor(ledgerGet: (key: string) => LedgerEntry | undefined, maxFailedRuns = DEFAULT_MAX_FAILED_RUNS, probe?: () => Promise<boolean | undefined>) {
    this.ledgerGet = ledgerGet;
    this.maxFailedRuns = maxFailedRuns;
    this.probe = probe;
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
    if (this.priorAttempts(doc) < this.maxFailedRuns) return false;
    // Only once its letter is stored (chaos seed 4254): flushState saves the `dead:` marker after the letter but the
    // attempt entry regardless, so a failed letter write left "exhausted" with no letter and every later run skipped
    // the document: never written, never lettered. Without a marker as new as the count, it is tried (and lettered) again.
    const marker = this.ledgerGet(deadLetterMarker(doc.externalKey));
    return marker !== undefined && marker.writtenAt >= (this.ledgerGet(attemptLedgerKey(doc.externalKey))?.writtenAt ?? 0);
  }

  /** Documents tried before go last (stable otherwise). */
  order(docs: BuiltDocument[]): BuiltDocument[] {
    const fresh = docs.filter((d) => !this.triedBefore(d));
    return fresh.length === docs.length ? docs : [...fresh, ...docs.filter((d) => this.triedBefore(d))];
  }

  /** An earlier invocation of this run saw the target take a create (WindowCursor.createsSeen). */
  inheritRunCreates(seen: boolean): void {
    this.runCreates = seen;
  }

  /** Creates succeeded in this invocation. */
  get createsInInvocation(): number {
    return this.successes;
  }

  /** This run (this invocation or an earlier one of it) saw the target take a create. */
  get createsSeenInRun(): boolean {
    return this.successes > 0 || this.runCreates;
  }

  /** This invocation's failures looked like a target outage (its creates vouch for nobody). */
  get sawOutage(): boolean {
    return this.outage;
  }

  /** Keys of the documents set aside in this invocation so far. */
  setAsideKeys(): string[] {
    return [...this.setAsideDocs.keys()];
  }

  succeeded(): void {
    this.consecutiveFresh = 0;
    this.consecutiveRetried = 0;
    this.successes++;
    if (this.probed === "down") this.probed = "unknown"; // it answered after all: ask again when it matters
  }

  /** Whether a failure of `doc` in this run could count only on the known-good read (no create seen to vouch for it). */
  private needsRead(doc: BuiltDocument): boolean {
    return !this.createsSeenInRun && this.ledgerGet(attemptLedgerKey(doc.externalKey))?.createsSeen !== true;
  }

  /** The known-good read, asked once per run; a budget stop escapes (the read was not made). */
  private async probeOnce(): Promise<"up" | "down" | "none"> {
    if (this.probed !== "unknown") return this.probed;
    const answered = this.probe ? await this.probe() : undefined;
    this.probed = answered === true ? "up" : answered === false ? "down" : "none";
    return this.probed;
  }

  /**
   * Before sending a document tried before when nothing vouches that the target takes creates (none seen in this run
   * nor since it first failed; chaos seed 9147): ask the known-good read first, so the evidence exists even when
   * the write's retries spend the rest of a tiny budget.
   */
  async beforeRetry(doc: BuiltDocument): Promise<void> {
    if (this.triedBefore(doc) && this.needsRead(doc)) await this.probeOnce();
  }

  /** Sets the document aside; resolves true when the failures look like a target outage (the run should stop). */
  async setAside(doc: BuiltDocument, rows: SourceRow[], error: BridgeError): Promise<boolean> {
    const retried = this.triedBefore(doc);
    this.setAsideDocs.set(doc.externalKey, { doc, rows, error, priorAttempts: this.priorAttempts(doc) });
    this.windowCount++;
    if (!retried) this.consecutiveFresh++;
    else {
      this.consecutiveRetried++;
      if (this.ledgerGet(attemptLedgerKey(doc.externalKey))?.createsSeen === true) this.retriedCreatesSeen = true;
    }
    this.longestStreak = Math.max(this.longestStreak, this.consecutiveFresh + this.consecutiveRetried);
    if (this.consecutiveFresh >= OUTAGE_AFTER_CONSECUTIVE_FAILURES) this.outage = true;
    else if (retried && this.consecutiveRetried >= OUTAGE_AFTER_CONSECUTIVE_FAILURES) {
      const read = await this.probeOnce();
      // No probe: as before, failures with no create seen to work are an outage. The target answers: go on with the
      // rest of the run; whether these failures count is decided at settle.
      if (read === "down" || (read === "none" && this.successes === 0 && !this.retriedCreatesSeen)) this.outage = true;
    } else if (this.needsRead(doc) && (await this.probeOnce()) === "down") this.outage = true; // reads fail too: down
    return this.outage;
  }

  /**
   * Whether a failure of this run counts against the document: never in an outage; when the target was seen to take a
   * create (in this run, or for a document tried before since it first failed); else when the known-good read
   * answered and fewer than OUTAGE_AFTER_CONSECUTIVE_FAILURES documents failed in a row (one or two documents the
   * target refuses while it is up, not a target that takes no create at all); with no such read, a fresh document's.
   */
  private counts(retried: boolean, createsSeen: boolean): boolean {
    if (this.outage) return false;
    if (createsSeen) return true;
    if (this.probed === "up") return this.longestStreak < OUTAGE_AFTER_CONSECUTIVE_FAILURES;
    return !retried && (this.probed === "none" || this.probe === undefined);
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
  settle(
    runId: string,
    at: number,
  ): {
    entries: LedgerEntry[];
    /** `vouched`: a create was seen since it first failed (else its letter is retried by the runs: unvouched-retry.ts). */
    exhausted: Array<SetAsideDocument & { attempts: number; vouched: boolean }>;
    setAside: Array<{ externalKey: string; attempts: number; code: string }>;
    /** No write succeeded in the run and no failure counted: the target took nothing (the last error says why). */
    tookNothing?: BridgeError;
  } {
    const entries: LedgerEntry[] = [];
    const exhausted: Array<SetAsideDocument & { attempts: number; vouched: boolean }> = [];
    const setAside: Array<{ externalKey: string; attempts: number; code: string }> = [];
    for (const item of this.setAsideDocs.values()) {
      const prior = this.ledgerGet(attemptLedgerKey(item.doc.externalKey));
      const retried = prior?.contentHash === item.doc.contentHash;
      // A run that ended as an outage vouches for nothing (adv6-outage-after-create): a create taken before the
      // target stopped taking them is no evidence for later runs, so it is not recorded on the entry.
      const createsSeen = (!this.outage && this.createsSeenInRun) || (retried && prior?.createsSeen === true);
      const attempts = item.priorAttempts + (this.counts(retried, createsSeen) ? 1 : 0);
      entries.push({
        externalKey: attemptLedgerKey(item.doc.externalKey),
        contentHash: item.doc.contentHash,
        attempts,
        ...(createsSeen ? { createsSeen } : {}),
        writtenAt: at,
        runId,
      });
      if (attempts >= this.maxFailedRuns) exhausted.push({ ...item, attempts, vouched: createsSeen });
      else setAside.push({ externalKey: item.doc.externalKey, attempts, code: item.error.code });
    }
    const last = [...this.setAsideDocs.values()].at(-1)?.error;
    const countedAny = exhausted.length > 0 || setAside.some((d) => d.attempts > (this.setAsideDocs.get(d.externalKey)?.priorAttempts ?? 0));
    this.setAsideDocs.clear();
    return { entries, exhausted, setAside, ...(this.successes === 0 && !countedAny && last ? { tookNothing: last } : {}) };
  }
}

/**
 * A document's letters were withdrawn (stale-letters.ts: cancelled before it was posted): its failure count and
 * `dead:` marker start afresh, else `exhausted` kept skipping it once it is confirmed again, with no letter open
 * (adv7-withdrawn-reconfirmed). Later than the entries they replace (the ledger keeps the latest per key).
 */
export function withdrawnEntries(keys: string[], at: number, runId: string): LedgerEntry[] {
  return keys.flatMap((key) => [
    { externalKey: attemptLedgerKey(key), contentHash: "withdrawn", attempts: 0, writtenAt: at, runId },
    { externalKey: deadLetterMarker(key), contentHash: "withdrawn", writtenAt: at, runId },
  ]);
}

/** The dead letter's error for a document that failed in too many runs. */
export function repeatedFailure(externalKey: string, attempts: number, last: BridgeError, vouched = true): BridgeError {
  const fix =
    "check this payload against the target (a value or master data it cannot take), fix the flow, reference table or target, then replay this dead letter";
  return new BridgeError(
    "write_failed_repeatedly",
    `${externalKey}: the target failed this document in ${attempts} runs (last: ${last.code}: ${last.message})`,
    {
      hint: vouched
        ? `the other documents were written; ${fix}`
        : `the target took no other create while it failed (it may have been a create-only outage): the runs retry it by themselves for a day (verified first, so nothing is booked twice) and resolve this letter when it is written; if it stays open, ${fix}`,
      details: { lastCode: last.code, ...(vouched ? {} : { unvouched: true }) },
    },
  );
}

/** MAX_FAILED_RUNS: failed runs after which a document that keeps failing is dead-lettered (default 3). */
export function maxFailedRunsFromEnv(env: EnvVars): number {
  return (
    numberFromEnv(env, "MAX_FAILED_RUNS", {
      whole: true,
      min: 1,
      max: 100,
      must: "a whole number from 1 to 100",
      hint: "unset it for the default 3: a document that fails in 3 runs is dead-lettered and the flow moves on",
    }) ?? DEFAULT_MAX_FAILED_RUNS
  );
}
