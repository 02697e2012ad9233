/**
 * Per-document processing of a run (split out of run.ts): what a built document needs (skip, correction, dead
 * letter, write), the write itself (once, verified, marked in flight) and what a failed write means for the run:
 * a refusal is this document's dead letter, a transient failure sets it aside, a budget stop or an outage stops
 * the run (the caller's one stop path).
 */
import { BridgeError, BudgetExhaustedError } from "../errors.ts";
import { isAccountError, type TargetWriteResult } from "../connectors/target.ts";
import { writtenEntries } from "./ledger-keys.ts";
import { settleThroughOutbox } from "./outbox-writer.ts";
import { type RedatedWriteResult, writeWithPeriodPolicy } from "./periods.ts";
import type { FlowRun } from "./run-context.ts";
import { fileDeadLetter } from "./run-ledger.ts";
import { notePendingOriginal } from "./pending-writes.ts";
import type { RunResult } from "./run.ts";
import type { BuildResult, BuiltDocument, SourceRow } from "./types.ts";
import { verifyExisting } from "./verify-existing.ts";
import { adoptedOnDuplicate, closeWriteIntents, openWriteIntents, redatedIntent, resolveWriteIntents } from "./write-intents.ts";

type PlannedStatus = RunResult["planned"][number]["status"];

/** Settles a build: counts and letters its failures, reviews corrections, then writes what is new. */
export async function settleDocuments(run: FlowRun, built: BuildResult, rowsById: Map<string, SourceRow>): Promise<void> {
  run.unresolved = built.unresolved ?? [];
  run.counts.dropped += built.dropped.length;
  run.counts.skipped += built.skipped?.length ?? 0;
  for (const f of built.failures) fileDeadLetter(run, f.sourceId, f.source, f.error, { payload: f.payload });
  let intent: string | undefined;
  try {
    await resolveWriteIntents(run, built); // what a killed invocation sent of these documents (write-intents.ts)
    await run.changeWriter?.reviewBuilt(built, rowsById, run.deps.builder.merges);
    const documents = run.outbox ? await settleThroughOutbox(run.outbox, built.documents, rowsById) : built.documents;
    intent = await openWriteIntents(run, documents);
    for (const doc of run.poison.order(documents)) await settleDocument(run, doc, rowsById);
  } finally {
    await closeWriteIntents(run, intent); // settled, or a stop: only a killed invocation leaves one
  }
}

/** One built document: skipped when the ledger has it, a correction or a changed-after-write case, else written. */
async function settleDocument(run: FlowRun, doc: BuiltDocument, rowsById: Map<string, SourceRow>): Promise<void> {
  const known = run.ledger.get(doc.externalKey);
  if (run.changeWriter && doc.groupKey === undefined) {
    if (await run.changeWriter.reviewDocument(doc, known, rowsById)) return;
  } else if (known) {
    if (known.contentHash === doc.contentHash) {
      run.counts.skipped++;
      if (run.dryRun) run.planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status: "unchanged" });
      else if (doc.groupKey !== undefined) rememberGroupMembers(run, doc, known.targetId, rowsById);
      return;
    }
    changedAfterWrite(run, doc, rowsById);
    return;
  }
  if (!run.dryRun && run.poison.exhausted(doc)) {
    run.counts.skipped++; // dead-lettered after failing in maxFailedRuns runs; replay it once fixed
    return;
  }
  // Set aside by an earlier invocation of this run (the cursor holds the watermark for it): the next run retries it.
  if (run.earlierSetAside.includes(doc.externalKey)) return;
  const status = (doc.supplement ?? 0) > 0 ? "supplement" : "new";
  let adopted = false;
  await writeOne(run, doc, rowsOf(doc, rowsById), status, (result) => {
    adopted = adoptedOnDuplicate(run, doc, result); // a killed invocation's write the target could not be asked about
    if (!adopted) recordWritten(run, doc, rowsById, result);
  });
  // Recorded with the lines the killed invocation sent: what changed since is corrected like any posted document.
  if (adopted) await run.changeWriter?.reviewDocument(doc, run.ledger.get(doc.externalKey), rowsById);
}

/** A written document in the ledger (and, for a merged one, its group's registry entry), with its before-images. */
function recordWritten(run: FlowRun, doc: BuiltDocument, rowsById: Map<string, SourceRow>, result: TargetWriteResult | undefined): void {
  const { ledger, runId } = run;
  const previous = doc.groupKey === undefined ? undefined : ledger.writtenGroup(doc.groupKey);
  const [entry, group] = writtenEntries(doc, result?.targetId ?? result?.targetCode, previous, run.deps.clock.now(), runId);
  ledger.remember(entry!);
  const writtenPayload = (result as RedatedWriteResult | undefined)?.writtenPayload; // redated (periods.ts): image what was booked
  run.changeWriter?.imagesOf(writtenPayload ? { ...doc, payload: writtenPayload } : doc, rowsById);
  if (group) ledger.remember(group);
}

/**
 * Writes one document (a dry run only plans it). Returns when it is settled, refused (dead letter or `onRefused`) or
 * set aside; throws BudgetExhausted / an account or outage error to stop the run.
 */
export async function writeOne(
  run: FlowRun,
  doc: BuiltDocument,
  rows: SourceRow[],
  status: PlannedStatus,
  onSettled: (result?: TargetWriteResult) => void,
  onRefused?: (error: BridgeError) => void,
): Promise<void> {
  if (run.dryRun) {
    run.planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status });
    return;
  }
  await run.deps.lease?.keep(); // outside the try: a lost lease stops the run, it is not this document's failure
  try {
    const result = await writeVerified(run, doc);
    if (result.status === "created") {
      run.counts.written++;
      noteLateRows(run, rows);
    } else run.counts.alreadyExisted++;
    run.poison.succeeded();
    onSettled(result);
  } catch (error) {
    await writeFailed(run, doc, rows, error, onRefused);
  }
}

/** The write, marked in flight first; "already exists" is verified to hold this document, not other lines. */
async function writeVerified(run: FlowRun, doc: BuiltDocument): Promise<TargetWriteResult> {
  const { deps, recovery } = run;
  if (!recovery.markedWriting && deps.state.writeMarker) {
    await deps.state.writeMarker.mark(run.flowId, run.runId, deps.clock.now());
    recovery.markedWriting = true;
  }
  const write = { operation: deps.targetOperation, externalKey: doc.externalKey, payload: doc.payload };
  // After an unclean stop (flag or markers left in state) every write verifies existence first.
  const verifyAll = (run.options.recovering ?? false) || recovery.uncleanBefore;
  const writeOptions = { verifyExisting: verifyAll || run.poison.triedBefore(doc) };
  await run.poison.beforeRetry(doc); // poison.ts: the known-good read a count may need, asked before the budget goes
  const redating = (payload: Record<string, unknown>) => redatedIntent(run, doc.externalKey, payload);
  const result = await (deps.periods
    ? writeWithPeriodPolicy(deps.target, write, writeOptions, deps.periods, redating)
    : deps.target.write(write, writeOptions));
  const conflict = await verifyExisting(deps.target, write, result, deps.logger);
  if (conflict) throw conflict; // the key holds other lines: a conflict dead letter, never "written"
  return result;
}

/** What a failed write means: returns when the document is dealt with (letter, refusal, set aside), throws to stop the run. */
async function writeFailed(run: FlowRun, doc: BuiltDocument, rows: SourceRow[], error: unknown, onRefused?: (error: BridgeError) => void): Promise<void> {
  await notePendingOriginal(run, doc, error); // its answer may be lost: resolved by the next run (pending-writes.ts)
  if (error instanceof BudgetExhaustedError) {
    // The budget ran out while retrying this document after a retryable failure (a budget smaller than one
    // write's retries, chaos seed 9053): set it aside for this run, so the continuation goes on with the others
    // instead of spending every invocation on it; the next run tries it again.
    const cause = error.after;
    if (cause instanceof BridgeError && cause.retryable && !isAccountError(cause)) {
      await run.poison.setAside(doc, rows, cause).catch((e: unknown) => {
        if (!(e instanceof BudgetExhaustedError)) throw e;
      });
    }
    throw error;
  }
  if (error instanceof BridgeError && !error.retryable && !isAccountError(error)) {
    if (onRefused) return onRefused(error);
    // The source rows (every member's, for a merged document), so the letter can be replayed once the cause is fixed.
    const source = doc.groupKey === undefined && rows.length === 1 ? rows[0] : rows;
    fileDeadLetter(run, doc.members[0] ?? doc.externalKey, source, error, { externalKey: doc.externalKey, payload: doc.payload });
    return;
  }
  // Transient and out of retries for this document: set it aside and go on (poison.ts), unless the failures
  // look like an outage. About the account (credentials, quota) rather than this document: stop here.
  if (error instanceof BridgeError && error.retryable && !isAccountError(error)) {
    if (!(await run.poison.setAside(doc, rows, error))) {
      run.deps.logger.warn("write failed after retries; document set aside for this run", {
        flowId: run.flowId,
        externalKey: doc.externalKey,
        code: error.code,
      });
      return;
    }
  }
  throw error;
}

/**
 * Same key, different content: the target already holds a posted document. Never overwritten silently: surfaced as
 * a dead letter, or skipped with a warning when the flow says onExisting: "skip" (a dry run plans it as "changed").
 */
function changedAfterWrite(run: FlowRun, doc: BuiltDocument, rowsById: Map<string, SourceRow>): void {
  if (run.dryRun) {
    run.planned.push({ externalKey: doc.externalKey, payload: doc.payload, members: doc.members, status: "changed" });
    return;
  }
  if (run.deps.onChanged === "skip") {
    run.counts.skipped++;
    run.deps.logger.warn("document changed after it was written; skipped (onExisting: skip)", { flowId: run.flowId, externalKey: doc.externalKey });
    return;
  }
  fileDeadLetter(
    run,
    doc.members[0] ?? doc.externalKey,
    doc.members.length === 1 ? rowsById.get(doc.members[0]!) : doc.members.map((m) => rowsById.get(m)),
    new BridgeError("changed_after_write", `document ${doc.externalKey} changed after it was written to the target`, {
      hint: "post the correction in the target by hand (or a red/reversal document), then resolve this dead letter",
    }),
    { externalKey: doc.externalKey, payload: doc.payload },
  );
}

/** Counts rows written now that earlier runs read past without seeing (read before `late.before`), and their least lag. */
function noteLateRows(run: FlowRun, rows: SourceRow[]): void {
  const { late } = run;
  if (late.before === undefined) return;
  for (const row of rows) {
    const at = run.deps.source.timeOf?.(row);
    if (at === undefined || at >= late.before) continue;
    late.rows++;
    late.minLagMs = Math.max(late.minLagMs, late.before - at + Math.max(0, run.options.incremental.endLagMs));
  }
}

function rowsOf(doc: BuiltDocument, rowsById: Map<string, SourceRow>): SourceRow[] {
  return doc.members.map((m) => rowsById.get(m)).filter((r): r is SourceRow => r !== undefined);
}

/**
 * A merged part the ledger holds unchanged, met outside the outbox (its plan lost, or written before the outbox): its
 * members join the group's registry as a closed plan's would, so a re-read of one is skipped, not booked again as a
 * supplement (the parts written beside it only register their own members). Built at all only because the registry
 * lacks its members (merge-policy.ts skips registered ones), so it is always saved. Its members are imaged too, as a
 * written part's are (recordWritten): the lost plan held their images, and a registered member without one adopts
 * its lines when read again, so a later edit or cancellation of it was never corrected (adv16d-lost-plan-images).
 * The part rebuilds to the hash it was written with, so its members' lines now are what it booked.
 */
function rememberGroupMembers(run: FlowRun, doc: BuiltDocument, targetId: string | undefined, rowsById: Map<string, SourceRow>): void {
  const [, group] = writtenEntries(doc, targetId, run.ledger.writtenGroup(doc.groupKey!), run.deps.clock.now(), run.runId);
  run.changeWriter?.imagesOf(doc, rowsById);
  run.ledger.remember(group!);
}
