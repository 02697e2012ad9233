/**
 * Replays a dead letter after its cause was fixed (the flow, a reference table, master data in the target):
 * rebuilds the target document(s) from the stored source document with the current flow and tables, writes
 * them through the idempotent target client, records them in the ledger and resolves the dead letter with
 * the reason. A replay that still fails leaves the dead letter open and says why.
 */
import { BridgeError } from "../errors.ts";
import { approved } from "../observe/approval.ts";
import type { TargetConnector, TargetWriteResult } from "../connectors/target.ts";
import { type Clock, type Logger, silentLogger, systemClock } from "../ports.ts";
import { MeteredKeyValueStore } from "../state/kv-helpers.ts";
import type { DeadLetter, LedgerEntry } from "../state/records.ts";
import type { PlannedPart } from "../state/outbox-store.ts";
import { FlowStateStore } from "../state/state-store.ts";
import { KvTokenStore } from "../state/token-store.ts";
import { type Budget, createCallMeter } from "./meter.ts";
import { type DocumentBuilder, groupLedgerKey } from "./run.ts";
import { probeOtherSplit, verifyExisting } from "./verify-existing.ts";
import { openFlow, type RunnerPorts } from "./runner.ts";
import type { BuiltDocument, SourceRow } from "./types.ts";

export interface ReplayResult {
  id: string;
  flowId: string;
  replayed: boolean;
  written: Array<{ externalKey: string; status: "created" | "already_exists" | "unchanged" }>;
  error?: { code: string; message: string; hint?: string };
  subrequests: number;
}

/** The open letter and its flow, or a clear error: unknown, already resolved, a flow not run here, or waiting for approval. */
async function replayableLetter(ports: RunnerPorts, store: FlowStateStore, id: string) {
  const letter = await store.getDeadLetter(id);
  if (!letter) throw new BridgeError("not_found", `dead letter ${id} does not exist`, { hint: "list them with GET /dead-letters" });
  if (letter.resolved) {
    throw new BridgeError("conflict", `dead letter ${id} was already resolved (${letter.resolved.reason})`, { hint: "nothing to replay" });
  }
  const flow = ports.flows[letter.flow];
  if (!flow) throw new BridgeError("not_found", `dead letter ${id} belongs to flow ${letter.flow}, which this deployment does not run`);
  // "approval: required" holds every write of the flow until approved (shared/observe/approval.ts): a replay too.
  if (!(await approved(ports.kv, flow))) {
    throw new BridgeError("conflict", `flow ${flow.id} waits for approval; dead letter ${id} is not replayed`, { hint: "approve its plan first (POST /flows/:id/approve or the dashboard's approvals page), then replay" });
  }
  return { letter, flow };
}

export async function replayDeadLetter(ports: RunnerPorts, id: string, options: { by: string; budget: Budget }): Promise<ReplayResult> {
  const clock = ports.clock ?? systemClock;
  const logger = ports.logger ?? silentLogger;
  const kv = new MeteredKeyValueStore(ports.kv);
  const store = new FlowStateStore(kv, { clock, logger });
  const { letter, flow } = await replayableLetter(ports, store, id);
  // A conflict letter wraps our document next to both sides (verify-existing.ts): its parts are under `document`.
  const planned = plannedParts(letter.payload) ?? plannedParts((letter.payload as { document?: unknown } | null)?.document);
  const rows = (Array.isArray(letter.source) ? letter.source : [letter.source]).filter(
    (r): r is SourceRow => r !== null && typeof r === "object" && !Array.isArray(r),
  );
  if (rows.length === 0 && !planned) {
    throw new BridgeError("replay_impossible", `dead letter ${id} holds no source document to rebuild from`, {
      hint: "re-run the window it came from instead (POST /flows/:id/sync with from/to), then delete this dead letter with a reason",
    });
  }

  const meter = createCallMeter(ports.fetch, options.budget, clock);
  const runId = `replay-${clock.now()}`;
  const lease = await ports.lock.acquire(flow.id, runId, 5 * 60_000);
  if (!lease.acquired) {
    throw new BridgeError("flow_locked", `flow ${flow.id} is running right now`, { retryable: true, hint: "replay again when the run has finished" });
  }
  const result: ReplayResult = { id, flowId: flow.id, replayed: false, written: [], subrequests: 0 };
  try {
    const { builder, target } = await openFlow(flow, ports.env, { fetch: meter.fetch, tokenStore: new KvTokenStore(kv), clock, logger, kv });
    const ledger = await store.ledgerView(flow.id);
    const session: ReplaySession = { id, letter, flowId: flow.id, operation: flow.target.operation, target, ledger, store, clock, logger, runId, by: options.by, result };
    if (planned) return await replayPlanned(session, planned);
    return await replayRebuilt(session, builder, rows);
  } catch (error) {
    const e = error instanceof BridgeError ? error : new BridgeError("internal", String(error));
    result.error = { code: e.code, message: e.message, hint: e.hint };
    return result;
  } finally {
    result.subrequests = meter.used();
    await ports.lock.release(flow.id, runId).catch(() => undefined);
  }
}

/** What one replay works with: the letter, the flow's target and ledger, and the result it fills in. */
interface ReplaySession {
  id: string;
  letter: DeadLetter;
  flowId: string;
  operation: string;
  target: TargetConnector;
  ledger: (externalKey: string) => LedgerEntry | undefined;
  store: FlowStateStore;
  clock: Clock;
  logger: Logger;
  runId: string;
  by: string;
  result: ReplayResult;
}

/** A replay verifies "already exists" like a run: a conflict keeps the letter open (voiding the target's document first resolves it). */
async function writeChecked(s: ReplaySession, externalKey: string, payload: Record<string, unknown>): Promise<TargetWriteResult> {
  const write = { operation: s.operation, externalKey, payload };
  const written = await s.target.write(write, { verifyExisting: true });
  const conflict = await verifyExisting(s.target, write, written, s.logger);
  if (conflict) throw conflict;
  return written;
}

/** Saves the replay's ledger entries and resolves the letter with what was written. */
async function resolveReplayed(s: ReplaySession, entries: LedgerEntry[], nothing = ""): Promise<ReplayResult> {
  if (entries.length) await s.store.ledgerAppend(s.flowId, entries);
  await s.store.resolveDeadLetter(s.id, { reason: `replayed: ${s.result.written.map((w) => `${w.externalKey} ${w.status}`).join(", ") || nothing}`, by: s.by });
  s.result.replayed = true;
  return s.result;
}

/**
 * The remainder of a merged group's outbox plan: written exactly as planned (the group registry already counts its
 * members, so rebuilding from rows would write nothing or a different layout).
 */
async function replayPlanned(s: ReplaySession, planned: PlannedPart[]): Promise<ReplayResult> {
  // A group whose key was found under another split: that document must be gone before the parts are written.
  const taken = (s.letter.payload as { externalKey?: unknown } | null)?.externalKey;
  if (s.letter.error.code === "conflict" && typeof taken === "string" && !planned.some((p) => p.externalKey === taken)) {
    const clash = await probeOtherSplit(s.target, s.operation, planned);
    if (clash) throw clash;
  }
  const entries: LedgerEntry[] = [];
  for (const part of planned) {
    if (s.ledger(part.externalKey)?.contentHash === part.contentHash) {
      s.result.written.push({ externalKey: part.externalKey, status: "unchanged" });
      continue;
    }
    const written = await writeChecked(s, part.externalKey, part.payload);
    s.result.written.push({ externalKey: part.externalKey, status: written.status });
    entries.push({ externalKey: part.externalKey, contentHash: part.contentHash, targetId: written.targetId ?? written.targetCode, members: part.members, writtenAt: s.clock.now(), runId: s.runId });
  }
  return resolveReplayed(s, entries);
}

/** Rebuilds the letter's document(s) from its source rows with the current flow and tables, and writes what is new. */
async function replayRebuilt(s: ReplaySession, builder: DocumentBuilder, rows: SourceRow[]): Promise<ReplayResult> {
  const { result, ledger, id } = s;
  const now = s.clock.now();
  const built = builder.build(rows, {
    lastSyncTime: now,
    currentTime: now,
    written: (groupKey) => {
      const entry = ledger(groupLedgerKey(groupKey));
      return entry ? { members: entry.members ?? [], supplements: entry.supplements ?? 0 } : undefined;
    },
  });
  const failure = built.failures[0];
  if (failure) {
    result.error = { code: failure.error.code, message: failure.error.message, hint: failure.error.hint };
    return result;
  }
  if (builder.merges && built.documents.length === 0) {
    // The group registry already counts these members, so a rebuild writes nothing; resolving would lose the
    // lines the letter stands for (a letter filed with only a part's payload before the outbox remainder rule).
    result.error = {
      code: "replay_impossible",
      message: `dead letter ${id} is a merged group's document whose members the group registry already counts; rebuilding it writes nothing`,
      hint: "book the missing lines in the target by hand (the letter's payload shows them), then delete this dead letter with a reason",
    };
    return result;
  }
  const entries: LedgerEntry[] = [];
  for (const doc of built.documents) {
    const known = ledger(doc.externalKey);
    if (known?.contentHash === doc.contentHash) {
      result.written.push({ externalKey: doc.externalKey, status: "unchanged" });
      continue;
    }
    if (known) {
      result.error = {
        code: "changed_after_write",
        message: `document ${doc.externalKey} is already in the target with other content`,
        hint: "correct it in the target by hand, then delete this dead letter with a reason",
      };
      return result;
    }
    const written = await writeChecked(s, doc.externalKey, doc.payload);
    result.written.push({ externalKey: doc.externalKey, status: written.status });
    entries.push(...writtenEntries(s, doc, written));
  }
  return resolveReplayed(s, entries, "nothing left to write");
}

/** A rebuilt document's ledger entry and, for a merged one, its group's registry entry. */
function writtenEntries(s: ReplaySession, doc: BuiltDocument, written: TargetWriteResult): LedgerEntry[] {
  const at = s.clock.now();
  const entries: LedgerEntry[] = [{ externalKey: doc.externalKey, contentHash: doc.contentHash, targetId: written.targetId ?? written.targetCode, members: doc.members, writtenAt: at, runId: s.runId }];
  if (doc.groupKey === undefined) return entries;
  const previous = s.ledger(groupLedgerKey(doc.groupKey));
  entries.push({
    externalKey: groupLedgerKey(doc.groupKey),
    contentHash: "group",
    members: [...new Set([...(previous?.members ?? []), ...doc.members])],
    supplements: Math.max(previous?.supplements ?? 0, doc.supplement ?? 0),
    writtenAt: at,
    runId: s.runId,
  });
  return entries;
}

/** The parts of a merged group's outbox plan a dead letter holds (engine run.ts writePlan), if it holds them. */
function plannedParts(payload: unknown): PlannedPart[] | undefined {
  const parts = (payload as { outbox?: { parts?: unknown } } | null)?.outbox?.parts;
  if (!Array.isArray(parts) || parts.length === 0) return undefined;
  const ok = parts.every(
    (p) => p && typeof p === "object" && typeof (p as PlannedPart).externalKey === "string" && typeof (p as PlannedPart).contentHash === "string" && typeof (p as PlannedPart).payload === "object",
  );
  return ok ? (parts as PlannedPart[]) : undefined;
}
