/**
 * Replays a dead letter after its cause was fixed (the flow, a reference table, master data in the target):
 * rebuilds the target document(s) from the stored source document with the current flow and tables, writes
 * them through the idempotent target client, records them in the ledger and resolves the dead letter with
 * the reason. A replay that still fails leaves the dead letter open and says why.
 */
import { BridgeError } from "../errors.ts";
import { approved } from "../observe/approval.ts";
import { composeHost } from "../compose/index.ts";
import type { BuiltDocumentLike, FlowDocumentBuilder } from "../flow/builder.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock } from "../ports.ts";
import type { DeadLetter, LedgerEntry } from "../state/records.ts";
import type { PlannedPart } from "../state/outbox-store.ts";
import type { FlowStateStore } from "../state/state-store.ts";
import type { Budget } from "./meter.ts";
import { groupLedgerKey, writtenEntries } from "./ledger-keys.ts";
import { probeOtherSplit, verifyExisting } from "./verify-existing.ts";
import { replayImages, type ReplayImages } from "./replay-images.ts";
import { heldEventImages } from "./held-event.ts";
import { TraceRecorder } from "../observe/trace.ts";
import { changeSettingsFor } from "./change-settings.ts";
import { type PeriodPolicy, writeWithPeriodPolicy } from "./periods.ts";
import { openFlow, type RunnerPorts } from "./runner.ts";
import type { SourceRow } from "./types.ts";

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
    throw new BridgeError("conflict", `flow ${flow.id} waits for approval; dead letter ${id} is not replayed`, {
      hint: "approve its plan first (POST /flows/:id/approve or the dashboard's approvals page), then replay",
    });
  }
  return { letter, flow };
}

type Checked = (
  write: {
    operation: string;
    externalKey: string;
    payload: Record<string, unknown>;
  },
  periods?: PeriodPolicy,
) => Promise<{ status: "created" | "already_exists"; targetId?: string; targetCode?: string; writtenPayload?: Record<string, unknown> }>;

/** What one replay works with once its letter, lease and flow are in hand. */
interface ReplayContext {
  id: string;
  by: string;
  runId: string;
  letter: DeadLetter;
  flow: Flow;
  store: FlowStateStore;
  ledger: Awaited<ReturnType<FlowStateStore["ledgerView"]>>;
  checked: Checked;
  clock: Clock;
  result: ReplayResult;
  /** Before-images of what the replay writes (none when the flow follows no changes). */
  images: ReplayImages | undefined;
  /** The document trace (GET /trace): a replay's writes are events like a run's (adversary finding adv16-replay-untraced). */
  trace: TraceRecorder;
  /**
   * The flow's closedPeriod "redate" policy, for documents rebuilt from their rows: a replay writes them as a run
   * would, redated when their period closed while the letter waited (adv7-unvouched-redate). Undefined for "hold".
   */
  redate?: PeriodPolicy;
}

export async function replayDeadLetter(ports: RunnerPorts, id: string, options: { by: string; budget: Budget }): Promise<ReplayResult> {
  const parts = composeHost(ports);
  const { clock, logger } = parts;
  const { meter, kv, store, tokenStore } = parts.session(options.budget);
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
  const runId = `replay-${clock.now()}`;
  const lease = await ports.lock.acquire(flow.id, runId, 5 * 60_000);
  if (!lease.acquired) {
    throw new BridgeError("flow_locked", `flow ${flow.id} is running right now`, { retryable: true, hint: "replay again when the run has finished" });
  }
  const result: ReplayResult = { id, flowId: flow.id, replayed: false, written: [], subrequests: 0 };
  const trace = new TraceRecorder({ kv, flowId: flow.id, runId, clock, logger, index: ports.env.TRACE_INDEX !== "off" });
  try {
    const { builder, target } = await openFlow(flow, ports.env, { fetch: meter.fetch, tokenStore, clock, logger, kv });
    /** A replay verifies "already exists" like a run: a conflict keeps the letter open (voiding the target's document first resolves it). */
    const checked: Checked = async (write, periods) => {
      const send = periods ? writeWithPeriodPolicy(target, write, { verifyExisting: true }, periods) : target.write(write, { verifyExisting: true });
      const written = await send.catch((error: unknown) => {
        trace.onWriteFailed(write, error);
        throw error;
      });
      const conflict = await verifyExisting(target, write, written, logger);
      if (conflict) throw conflict;
      trace.onWritten(write, written);
      return written as Awaited<ReturnType<Checked>>;
    };
    const ledger = await store.ledgerView(flow.id);
    const images = await replayImages(flow, { env: ports.env, kv, clock, builder, rows, ledger });
    const { periods } = changeSettingsFor(flow, ports.env, clock);
    const redate = periods.policy === "redate" ? periods : undefined;
    const ctx: ReplayContext = { id, by: options.by, runId, letter, flow, store, ledger, checked, clock, result, images, trace, ...(redate ? { redate } : {}) };
    if (planned) {
      // A group whose key was found under another split: that document must be gone before the parts are written.
      const taken = (letter.payload as { externalKey?: unknown } | null)?.externalKey;
      if (letter.error.code === "conflict" && typeof taken === "string" && !planned.some((p) => p.externalKey === taken)) {
        const clash = await probeOtherSplit(target, flow.target.operation, planned);
        if (clash) throw clash;
      }
      return await replayPlanned(ctx, planned, plannedUnit(letter.payload) ?? plannedUnit((letter.payload as { document?: unknown } | null)?.document));
    }
    return await replayRebuilt(ctx, builder, rows);
  } catch (error) {
    const e = error instanceof BridgeError ? error : new BridgeError("internal", String(error));
    result.error = { code: e.code, message: e.message, hint: e.hint };
    return result;
  } finally {
    await trace.flush(true);
    result.subrequests = meter.used();
    await ports.lock.release(flow.id, runId).catch(() => undefined);
  }
}

/**
 * The remainder of a merged group's outbox plan: written exactly as planned (the group registry already
 * counts its members, so rebuilding from rows would write nothing or a different layout).
 */
async function replayPlanned(ctx: ReplayContext, planned: PlannedPart[], unit: string | undefined): Promise<ReplayResult> {
  const { flow, ledger, result } = ctx;
  const entries: LedgerEntry[] = [];
  const writtenParts: PlannedPart[] = [];
  for (const part of planned) {
    if (ledger(part.externalKey)?.contentHash === part.contentHash) {
      result.written.push({ externalKey: part.externalKey, status: "unchanged" });
      continue;
    }
    const written = await ctx.checked({ operation: flow.target.operation, externalKey: part.externalKey, payload: part.payload });
    result.written.push({ externalKey: part.externalKey, status: written.status });
    entries.push({
      externalKey: part.externalKey,
      contentHash: part.contentHash,
      targetId: written.targetId ?? written.targetCode,
      members: part.members,
      writtenAt: ctx.clock.now(),
      runId: ctx.runId,
    });
    writtenParts.push(part);
  }
  if (ctx.images) entries.push(...ctx.images.ofPlanned(unit, writtenParts, ctx.clock.now(), ctx.runId));
  // A held correction event: its images move as the run would have moved them (held-event.ts).
  const payload = ctx.letter.payload as { document?: unknown } | null;
  entries.push(...heldEventImages(plannedParts(payload) ? payload : payload?.document, ledger, ctx.clock.now(), ctx.runId));
  if (entries.length) await ctx.store.ledgerAppend(flow.id, entries);
  ctx.trace.onLedger(entries);
  await ctx.store.resolveDeadLetter(ctx.id, { reason: `replayed: ${result.written.map((w) => `${w.externalKey} ${w.status}`).join(", ")}`, by: ctx.by });
  result.replayed = true;
  return result;
}

/** Rebuilds the letter's document(s) from its source rows with the current flow and tables, and writes what is new. */
async function replayRebuilt(ctx: ReplayContext, builder: FlowDocumentBuilder, rows: SourceRow[]): Promise<ReplayResult> {
  const { id, flow, ledger, result } = ctx;
  const now = ctx.clock.now();
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
    const written = await ctx.checked({ operation: flow.target.operation, externalKey: doc.externalKey, payload: doc.payload }, ctx.redate);
    result.written.push({ externalKey: doc.externalKey, status: written.status });
    entries.push(
      ...writtenEntries(
        doc,
        written.targetId ?? written.targetCode,
        doc.groupKey === undefined ? undefined : ledger(groupLedgerKey(doc.groupKey)),
        ctx.clock.now(),
        ctx.runId,
      ),
    );
    // Redated: image what the target booked (as document-writer.ts recordWritten does).
    const booked = written.writtenPayload ? { ...doc, payload: written.writtenPayload } : doc;
    if (ctx.images) entries.push(...ctx.images.ofDocument(booked, ctx.clock.now(), ctx.runId));
  }
  if (entries.length) await ctx.store.ledgerAppend(flow.id, entries);
  ctx.trace.onLedger(entries);
  await ctx.store.resolveDeadLetter(id, {
    reason: `replayed: ${result.written.map((w) => `${w.externalKey} ${w.status}`).join(", ") || "nothing left to write"}`,
    by: ctx.by,
  });
  result.replayed = true;
  return result;
}

/** The outbox unit of a letter's plan (`<groupKey>#S<n>`, or `correction:<key>`), if it names one. */
function plannedUnit(payload: unknown): string | undefined {
  const unit = (payload as { outbox?: { unit?: unknown } } | null)?.outbox?.unit;
  return typeof unit === "string" ? unit : undefined;
}

/** The parts of a merged group's outbox plan a dead letter holds (engine run.ts writePlan), if it holds them. */
function plannedParts(payload: unknown): PlannedPart[] | undefined {
  const parts = (payload as { outbox?: { parts?: unknown } } | null)?.outbox?.parts;
  if (!Array.isArray(parts) || parts.length === 0) return undefined;
  const ok = parts.every(
    (p) =>
      p &&
      typeof p === "object" &&
      typeof (p as PlannedPart).externalKey === "string" &&
      typeof (p as PlannedPart).contentHash === "string" &&
      typeof (p as PlannedPart).payload === "object",
  );
  return ok ? (parts as PlannedPart[]) : undefined;
}
