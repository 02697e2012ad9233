/**
 * A run of several invocations (the Worker on a small budget) keeps one KV run record, written by its last invocation,
 * with `chain.runs`: every invocation's compact record (shared/state/continuation.ts). Tests that check each
 * invocation (its budget, its windows) expand the stored records back into invocations with this.
 */
export interface InvocationRecord {
  runId: string;
  subrequests: number;
  continues: boolean;
  outcome: string;
  windows: Array<{ from: number; to: number; complete: boolean }>;
}

/** Stored run records (newest first, as listRuns returns them) → their invocations, oldest first. */
export function invocationsOf(records: readonly unknown[]): InvocationRecord[] {
  return [...records].reverse().flatMap((r) => (r as { chain?: { runs: InvocationRecord[] } }).chain?.runs ?? [r as InvocationRecord]);
}
