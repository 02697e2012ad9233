/**
 * The composition root every host shares: given configuration (the env-var contract), a key/value store,
 * a lock and fetch, it builds the Jushuitan reader, the compiled flow, the target client and the state
 * adapters, takes the flow's lease, and runs the engine. The Worker, the CLI and the Action differ only
 * in the ports they pass in.
 */
import { changeSettingsFor } from "./change-settings.ts";
import { endpointByPath, type JushuitanClient, rowId } from "../connectors/jushuitan/index.ts";
import { parseJstTime } from "../connectors/jushuitan/paging.ts";
import type { ReadMode, ReadPosition } from "../connectors/jushuitan/window-scan.ts";
import type { TargetConnector } from "../connectors/target.ts";
import { BridgeError, ConfigError } from "../errors.ts";
import type { FlowDocumentBuilder } from "../flow/builder.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger, TokenStore } from "../ports.ts";
import { silentLogger, systemClock } from "../ports.ts";
import type { FlowLockPort } from "../state/lock.ts";
import { type KvOperationCounts, MeteredKeyValueStore } from "../state/kv-helpers.ts";
import { KvReferenceStore } from "../state/reference-store.ts";
import { withLearnedRedForm } from "../doctor/red-form.ts";
import { resendInDoubtFor } from "../doctor/tplus-duplicate.ts";
import { replayHeldLetters } from "./held-replay.ts";
import type { UnvouchedLater } from "./unvouched-retry.ts";
import { FlowStateStore, type LedgerCache } from "../state/state-store.ts";
import { OutboxStore } from "../state/outbox-store.ts";
import { WriteMarkerStore } from "../state/write-marker.ts";
import { LeaseKeeper } from "../state/lease-keeper.ts";
import { fencedState } from "../state/fenced-state.ts";
import { spooledState } from "../state/spool-store.ts";
import { type FlowIndexPort, INDEX_INLINE_SPOOL_BYTES, isFlowIndex } from "../state/flow-index.ts";
import { type IndexedState, indexedState, type IndexedStateOptions } from "../state/indexed-state.ts";
import { assertNoKeyCollisions, KEY_SCHEME_LEDGER_KEY, KEY_SCHEME_REFRESH_MS, keySchemeAccepted, keySchemeHash, KeySchemeChangedError } from "./key-scheme.ts";
import { KvTokenStore } from "../state/token-store.ts";
import { parseInZone, startOfDayInZone } from "../util/time.ts";
import { type Budget, createCallMeter } from "./meter.ts";
import { maxFailedRunsFromEnv } from "./poison.ts";
import { maybeResweep, type ResweepInput, resweepSettings } from "./resweep.ts";
import { type EngineState, type IncrementalSettings, runFlow, type RunResult } from "./run.ts";
import type { Checkpoint, RunSummary, RunTrigger, SourceRow, WindowSource } from "./types.ts";
import { DAY_MS } from "./window.ts";
import { observeRun, TraceRecorder } from "../observe/trace.ts";
import type { RateBudget } from "../http/rate-budget.ts";

import type { EnvVars } from "../compose/env.ts";
import { jushuitanClient, targetClient } from "../compose/connectors.ts";
import { composeHost } from "../compose/index.ts";
import { runSettingsProblem } from "../compose/run-settings.ts";
// Parameters the reader sets itself per window and page (a flow that gives its own is refused: flow/ineffective.ts).
import { WINDOW_PARAMS } from "../flow/window-params.ts";

export type { EnvVars } from "../compose/env.ts";

export interface RunnerPorts {
  env: EnvVars;
  kv: KeyValueStore;
  lock: FlowLockPort;
  fetch: FetchLike;
  clock?: Clock;
  logger?: Logger;
  /** Flows by id (the seed flows plus any the host loaded). */
  flows: Readonly<Record<string, Flow>>;
  /** The app's Jushuitan rate budget, shared with every other run of the host (http/rate-budget.ts); default: one per run. */
  rateBudget?: RateBudget;
  /** Ledger indexes kept across the host's successive runs (the CLI's backfill windows; state/state-store.ts). */
  ledgerCache?: LedgerCache;
}

export interface RunRequest {
  flowId: string;
  runId: string;
  trigger: RunTrigger;
  budget: Budget;
  /** The instant the run reasons about (cron scheduledTime); defaults to the clock. */
  now?: number;
  range?: { from: number; to: number };
  dryRun?: boolean;
  /** Longest the run may hold the flow lease; a crashed run's lease expires after it. */
  leaseMs?: number;
  onProgress?: Parameters<typeof runFlow>[1]["onProgress"];
}

export function engineStateOver(store: FlowStateStore, kvCounts?: KvOperationCounts, kv?: KeyValueStore): EngineState {
  const outbox = kv ? new OutboxStore(kv) : undefined;
  const marker = kv ? new WriteMarkerStore(kv) : undefined;
  return {
    ...(marker
      ? { writeMarker: { unsettled: (f, r) => marker.unsettled(f, r), mark: (f, r, at) => marker.mark(f, r, at), clear: (f, ids) => marker.clear(f, ids) } }
      : {}),
    ...(outbox
      ? {
          outbox: {
            list: (flowId) => outbox.list(flowId),
            put: (flowId, plan) => outbox.put(flowId, plan),
            delete: (flowId, unit) => outbox.delete(flowId, unit),
          },
        }
      : {}),
    loadCheckpoint: async (flowId) => {
      const saved = await store.getWatermark<Checkpoint & { watermark: number }>(flowId);
      return saved && typeof saved.watermark === "number" ? (saved as unknown as Checkpoint) : null;
    },
    saveCheckpoint: async (flowId, checkpoint) => {
      await store.saveCheckpoint(flowId, { ...checkpoint, cursor: checkpoint.cursor ?? null });
    },
    ledgerView: (flowId) => store.ledgerView(flowId),
    ledgerAppend: async (flowId, entries) => {
      await store.ledgerAppend(flowId, entries);
    },
    addDeadLetters: async (flowId, items) => {
      await store.addDeadLetters(flowId, items);
    },
    // The run record is the run's last write: count it in the figures it carries.
    recordRun: (summary) => store.recordRun(kvCounts ? { ...summary, kv: { ...kvCounts, writes: kvCounts.writes + 1 } } : summary),
  };
}

export function incrementalSettings(flow: Flow, now: number): IncrementalSettings {
  const zone = flow.timezone;
  const inc = flow.incremental;
  const merge = flow.operation?.type === "merge" ? flow.operation : undefined;
  // A flow merged by day closes whole days: its first run starts at the beginning of yesterday, so its first voucher
  // holds the whole day, not only what was saved after the hour of the first run (at 23:50, 40 minutes of it).
  const dayStart = merge?.period?.unit === "day" ? startOfDayInZone(now - DAY_MS, zone) : now - DAY_MS;
  let startAt = dayStart - inc.lookbackMinutes * 60_000;
  if (inc.startAt) {
    const parsed = parseInZone(inc.startAt, zone);
    if (parsed === null) {
      throw new ConfigError(`flow ${flow.id}: incremental.startAt "${inc.startAt}" is not a date`, {
        hint: "write it as yyyy-MM-dd or yyyy-MM-dd HH:mm:ss (flow timezone)",
        details: { path: "incremental.startAt" },
      });
    }
    startAt = parsed;
  }
  return {
    lookbackMs: inc.lookbackMinutes * 60_000,
    endLagMs: inc.endLagMinutes * 60_000,
    windowMs: inc.windowDays * DAY_MS,
    startAt,
    // Merged documents close whole days: windows end on day boundaries so a group never straddles two.
    alignToDays: merge?.period?.unit === "day",
    timezone: zone,
    ...(merge?.period ? { groupsOnWindowField: periodSourceField(flow, merge.period.field) === windowTimeField(flow) } : {}),
  };
}

/** The source field a merge period field comes from (through a formatResponse rename such as io_date → io_date_new). */
function periodSourceField(flow: Flow, field: string): string {
  const rule = flow.source.formatResponse?.find((r) => r.new === field);
  return rule ? rule.old : field;
}

/** The flow as a range backfill reads it: windows on `source.rangeTimeField` (date_type set to match) when given. */
export function rangeFlow(flow: Flow): Flow {
  const field = flow.source.rangeTimeField;
  if (!field || field === windowTimeField(flow)) return flow;
  return { ...flow, source: { ...flow.source, timeField: field, params: { ...flow.source.params, date_type: field === "io_date" ? 2 : 0 } } };
}

export function jushuitanWindowSource(
  client: JushuitanClient,
  flow: Flow,
  params: (window: { from: number; to: number }) => Record<string, unknown>,
): WindowSource {
  const endpoint = endpointByPath(flow.source.endpoint);
  if (!endpoint) {
    throw new ConfigError(`flow ${flow.id}: source.endpoint ${flow.source.endpoint} is not a Jushuitan endpoint jst-bridge knows`, {
      hint: "use one of /open/other/inout/query, /open/orders/out/simple/query, /open/purchasein/query, /open/aftersale/received/query, /open/sku/query, /open/inventory/query",
      details: { path: "source.endpoint" },
    });
  }
  const idField = flow.source.idField;
  const timeField = windowTimeField(flow);
  // The mode the run's windows settled on: a failed rowversion probe is not repeated for every window.
  let preferred: ReadMode | undefined;
  return {
    async *readWindow(window, _startPage, resume) {
      const biz = params(window);
      for await (const page of client.scanWindow(flow.source.endpoint, biz, {
        window,
        pageSize: flow.source.paging.pageSize,
        timeField,
        resume: resume as ReadPosition | undefined,
        preferred,
      })) {
        // A failed rowversion probe is not repeated, but one window's unordered answers do not put later windows in offset mode.
        preferred = page.mode === "offset" ? "keyset" : page.mode;
        yield {
          rows: page.rows as SourceRow[],
          pageIndex: page.requestIndex,
          dataCount: page.dataCount,
          hasMore: page.hasNext,
          mode: page.mode,
          position: page.position,
        };
      }
    },
    idOf: (row) => (idField === endpoint.idField ? rowId(endpoint, row) : String(row[idField] ?? "")),
    timeOf: (row) => parseJstTime(row[timeField], flow.timezone),
    clockSkewMs: () => client.clockSkewMs(),
    // Keyset reads the last second of every page again: count on (page size − 1) new rows per request (adv11:
    // a window of exactly cap × page size rows needed one request more than the cap on every run).
    maxWindowRows: client.maxRequestsPerWindow * Math.max(1, (flow.source.paging.pageSize ?? endpoint.maxPageSize) - 1),
  };
}

/** The field a flow's windows filter by: source.timeField, else what date_type selects (2 = io_date, otherwise modified). */
export function windowTimeField(flow: Flow): "modified" | "io_date" {
  if (flow.source.timeField) return flow.source.timeField;
  return String(flow.source.params?.date_type ?? "0") === "2" ? "io_date" : "modified";
}

/** A flow's target connector (built by the composition root, shared/compose/connectors.ts). */
export function createTarget(
  flow: Flow,
  env: EnvVars,
  deps: { fetch: FetchLike; tokenStore: TokenStore; clock: Clock; logger: Logger },
  options: { kisPrecheck?: "always" | "after_unknown_outcome" } = {},
): TargetConnector {
  return targetClient(flow, env, deps, options);
}

// The env settings moved to the composition root (shared/compose/env.ts); re-exported for existing importers.
export { kisPrecheck, kisPrecheckFromEnv, ledgerOptions, maxPagesPerWindow, requestTimeoutMs } from "../compose/env.ts";

/** Loads the reference tables a flow declares; a missing one is a configuration error, not N dead letters. */
export async function loadReferenceTables(flow: Flow, store: KvReferenceStore) {
  const tables: Record<string, ReadonlyArray<Record<string, unknown>>> = {};
  for (const ref of flow.references) {
    const table = await store.get(ref.name);
    if (!table || table.rows.length === 0) {
      throw new ConfigError(`flow ${flow.id} needs reference table "${ref.name}", which is empty`, {
        hint: ref.source
          ? `fill it with POST /reference/${ref.name}/refresh (from ${ref.source.type} ${ref.source.operation}) or upload it with POST /reference/${ref.name}`
          : `upload it (CSV or JSON rows with a "${ref.keyField}" column) with POST /reference/${ref.name} or \`jst-bridge reference upload\``,
        details: { table: ref.name },
      });
    }
    tables[ref.name] = table.rows;
  }
  return tables;
}

/** The compiled flow (with its reference tables loaded) and its target client: built by the composition root (shared/compose/flow.ts). */
import { openFlow } from "../compose/flow.ts";

export { openFlow };

/** The run's Jushuitan client: credentials, tokens and paging limits from the environment, calls through the run's meter. */
function jushuitanClientFor(
  env: EnvVars,
  deps: { tokenStore: KvTokenStore; fetch: FetchLike; clock: Clock; logger: Logger; rateBudget?: RateBudget },
): JushuitanClient {
  const { rateBudget, ...clientDeps } = deps;
  return jushuitanClient(env, clientDeps, rateBudget ? { rateBudget } : {});
}

/** A window's request parameters without the window fields the source sets itself; a range read by rangeTimeField keeps its date_type. */
function windowParams(flow: Flow, readFlow: Flow, compiled: FlowDocumentBuilder["compiled"]) {
  return (window: { from: number; to: number }) => {
    const all = compiled.requestParams({ lastSyncTime: window.from, currentTime: window.to, timezone: flow.timezone });
    if (readFlow !== flow) all.date_type = readFlow.source.params.date_type;
    return Object.fromEntries(Object.entries(all).filter(([k]) => !WINDOW_PARAMS.has(k)));
  };
}

/** The engine's state for one run: over the flow's index when the lock is one, with the merge spool in chunked keys. */
function runState(
  lock: FlowLockPort,
  store: FlowStateStore,
  kv: MeteredKeyValueStore,
  run: { flowId: string; runId: string; epoch: number | undefined; clock: Clock; logger: Logger; range?: unknown },
) {
  const { flowId, runId, epoch, clock, logger } = run;
  // Worker: checkpoint, registry, plans and markers live in the flow's Durable Object (state/indexed-state.ts).
  const indexed = isFlowIndex(lock)
    ? indexedState(engineStateOver(store, kv.counts, kv), {
        ...indexOptions(lock, store, flowId, runId, epoch, clock, logger),
        carries: run.range === undefined, // the carry is the incremental run's (continuation.ts)
      })
    : undefined;
  // The merge spool goes to chunked keys, not into the checkpoint value (state/spool-store.ts).
  // With the index, a page's spool (an unmerged flow's continuation) stays in the checkpoint there: no KV write per stop.
  const state = spooledState(indexed ?? engineStateOver(store, kv.counts, kv), kv, {
    now: () => clock.now(),
    logger,
    ...(indexed ? { inlineBytes: INDEX_INLINE_SPOOL_BYTES } : {}),
  });
  return { indexed, state };
}

/** Configuration problems surface before any document moves: recorded as a failed run. */
async function failedRun(
  error: unknown,
  flowId: string,
  request: RunRequest,
  run: { clock: Clock; meter: ReturnType<typeof createCallMeter>; state: EngineState; kvCounts: KvOperationCounts },
): Promise<RunResult> {
  const e = error instanceof BridgeError ? error : new BridgeError("internal", String(error));
  const summary = skippedSummary(flowId, request, run.clock);
  summary.outcome = "failed";
  summary.error = { code: e.code, message: e.message, hint: e.hint };
  summary.subrequests = run.meter.used();
  if (!request.dryRun) await run.state.recordRun(summary);
  return { summary: { ...summary, kv: { ...run.kvCounts } }, planned: [] };
}

/** A run refused before it starts: recorded (through a store without the setting that failed) as a failed run. */
async function refusedRun(error: BridgeError, request: RunRequest, ports: RunnerPorts & { clock: Clock }): Promise<RunResult> {
  const { meter, kv, store } = composeHost(ports).session(request.budget, { ledgerRetention: false });
  return failedRun(error, request.flowId, request, { clock: ports.clock, meter, state: engineStateOver(store, kv.counts, kv), kvCounts: kv.counts });
}

export async function runFlowById(ports: RunnerPorts, request: RunRequest): Promise<RunResult> {
  // Unvouched letters are retried once the run has read the source and released the flow's lock (unvouched-retry.ts).
  const later: UnvouchedLater = {};
  const result = await invokeFlow(ports, request, later);
  await later.retry?.(result.summary);
  return result;
}

/** The engine's options for this request; `recovering`: the lease was taken over from a run that did not end cleanly. */
function runOptionsFor(request: RunRequest, now: number, incremental: IncrementalSettings, recovering: boolean, env: EnvVars): Parameters<typeof runFlow>[1] {
  return {
    runId: request.runId,
    trigger: request.trigger,
    now,
    incremental,
    range: request.range,
    dryRun: request.dryRun,
    recovering,
    maxFailedRuns: maxFailedRunsFromEnv(env),
    onProgress: request.onProgress,
  };
}

async function invokeFlow(ports: RunnerPorts, request: RunRequest, later: UnvouchedLater): Promise<RunResult> {
  const clock = ports.clock ?? systemClock;
  const logger = ports.logger ?? silentLogger;
  const flow = ports.flows[request.flowId];
  if (!flow) {
    throw new ConfigError(`unknown flow "${request.flowId}"`, { hint: `known flows: ${Object.keys(ports.flows).join(", ")}` });
  }
  // Two loaded flows that can produce the same key would swallow each other's documents: refused before anything runs.
  assertNoKeyCollisions(Object.values(ports.flows));
  // A setting that cannot be read or is unsafe for this flow (LEDGER_RETENTION_DAYS) is a recorded failed run, not a throw.
  const refused = runSettingsProblem(flow, ports.env);
  if (refused) return await refusedRun(refused, request, { ...ports, clock, logger });
  const now = request.now ?? clock.now();
  // Held period_closed letters first, when their period reopened (held-replay.ts); the run gets the budget they left.
  const { budget, held } = await replayHeldLetters(ports, flow.id, request, { clock, logger, later });
  // The run's metered fetch, counted KV, state and token stores, from the composition root (shared/compose).
  const { meter, kv, store, tokenStore } = composeHost({ ...ports, clock, logger }).session(budget);

  const leaseMs = request.leaseMs ?? 15 * 60_000;
  const lease = request.dryRun ? { acquired: true } : await ports.lock.acquire(flow.id, request.runId, leaseMs);
  if (!lease.acquired) {
    logger.info("flow is running elsewhere; skipped", { flowId: flow.id, holder: "holder" in lease ? lease.holder : undefined });
    return { summary: skippedSummary(flow.id, request, clock), planned: [] };
  }
  const epoch = "epoch" in lease ? lease.epoch : undefined;
  const { indexed, state } = runState(ports.lock, store, kv, { flowId: flow.id, runId: request.runId, epoch, clock, logger, range: request.range });
  try {
    // A range backfill of a flow with source.rangeTimeField reads by that field (whole days of a merged flow).
    const readFlow = request.range ? rangeFlow(flow) : flow;
    const settings = incrementalSettings(readFlow, now);
    if (!request.range && !request.dryRun && !flow.incremental.startAt) await refuseLostCheckpoint(flow.id, store, indexed);
    const { builder, target } = await openFlow(flow, ports.env, { fetch: meter.fetch, tokenStore, clock, logger, kv });
    if (!request.dryRun && (await checkKeyScheme(flow, ports.env, store, request, clock, logger)) === "accepted") settings.lookbackMs = 0;
    const jst = jushuitanClientFor(ports.env, { tokenStore, fetch: meter.fetch, clock, logger, ...(ports.rateBudget ? { rateBudget: ports.rateBudget } : {}) });
    const params = windowParams(flow, readFlow, builder.compiled);
    // Renewals and state commits carry the lease's epoch (state/fenced-state.ts): a run that lost the lease stops.
    const keeper = request.dryRun
      ? undefined
      : new LeaseKeeper({ lock: ports.lock, flowId: flow.id, runId: request.runId, leaseMs, clock, ...(epoch !== undefined ? { epoch } : {}) });
    const runDeps: Parameters<typeof runFlow>[0] = {
      flowId: flow.id,
      targetOperation: flow.target.operation,
      source: jushuitanWindowSource(jst, readFlow, params),
      builder,
      onChanged: flow.target.onExisting === "error" ? "deadLetter" : "skip",
      ...changeSettingsFor(flow, await withLearnedRedForm(ports.env, kv, flow.target.operation), clock),
      target,
      // The index fences its own commits; without it, fenced-state.ts renews before the commits that need it.
      state: keeper && !indexed ? fencedState(state, { lock: ports.lock, keeper, runId: request.runId }) : state,
      meter,
      clock,
      logger,
      lease: keeper,
      ...(held ? { held } : {}),
      ...resendInDoubtFor(flow, kv),
    };
    // Document trace and freshness (shared/observe/trace.ts): listens to the source, target and state; ≤ 2 KV writes a page.
    if (!request.dryRun)
      Object.assign(
        runDeps,
        observeRun(runDeps, new TraceRecorder({ kv, flowId: flow.id, runId: request.runId, clock, logger, index: ports.env.TRACE_INDEX !== "off" })),
      );
    const runOptions = runOptionsFor(request, now, settings, "tookOverFrom" in lease && lease.tookOverFrom !== undefined, ports.env);
    const result = await runFlow(runDeps, runOptions);
    if (!request.range)
      await resweepAfter(result.summary, { env: ports.env, flowId: flow.id, runId: request.runId, kv, meter, clock, logger, state }, (range, runId, sweptTo) =>
        runFlow(runDeps, { ...runOptions, runId, range, recovering: false, lateBefore: sweptTo }),
      );
    result.summary.kv = { ...kv.counts };
    return result;
  } catch (error) {
    return await failedRun(error, flow.id, request, { clock, meter, state, kvCounts: kv.counts });
  } finally {
    if (!request.dryRun) await ports.lock.release(flow.id, request.runId).catch(() => undefined);
  }
}

/** The late-document re-sweep after an incremental run (engine/resweep.ts). A failed re-sweep is logged (and its own run
 * record says why); it never turns the finished run into a failure. */
async function resweepAfter(
  done: RunSummary,
  ctx: Pick<ResweepInput, "flowId" | "runId" | "kv" | "meter" | "clock" | "logger"> & { env: EnvVars; state: EngineState },
  runRange: ResweepInput["runRange"],
): Promise<void> {
  const { env, state, ...ports } = ctx;
  await maybeResweep({ settings: resweepSettings(env), ...ports, incremental: done, runRange, recordRun: (summary) => state.recordRun(summary) }).catch(
    (error: unknown) => ctx.logger.error("re-sweep failed", { flowId: ctx.flowId, message: error instanceof Error ? error.message : String(error) }),
  );
}

/** Refuses a run whose flow changed its external-key templates since it last wrote (engine/key-scheme.ts). */
async function checkKeyScheme(
  flow: Flow,
  env: EnvVars,
  store: FlowStateStore,
  request: RunRequest,
  clock: Clock,
  logger: Logger,
): Promise<"same" | "accepted"> {
  const hash = keySchemeHash(flow);
  const recorded = (await store.ledgerView(flow.id))(KEY_SCHEME_LEDGER_KEY);
  let result: "same" | "accepted" = "same";
  if (recorded && recorded.contentHash !== hash) {
    if (request.range || !keySchemeAccepted(env, flow.id, hash)) throw new KeySchemeChangedError(flow.id, hash, request.range !== undefined);
    logger.warn("key scheme change accepted: this run reads with lookback 0 and records the new scheme", { flowId: flow.id, keyScheme: hash });
    result = "accepted";
  }
  if (!recorded || result === "accepted" || clock.now() - recorded.writtenAt > KEY_SCHEME_REFRESH_MS) {
    try {
      await store.ledgerAppend(flow.id, [{ externalKey: KEY_SCHEME_LEDGER_KEY, contentHash: hash, writtenAt: clock.now(), runId: request.runId }]);
    } catch (error) {
      // Not fatal: the scheme is recorded by a later run (the run's own ledger saves decide its outcome).
      logger.warn("could not record the key scheme", { flowId: flow.id, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return result;
}

/**
 * A flow without a checkpoint but with a ledger has run before and lost its place (a namespace swap, a deleted
 * key): starting at now − 1 day would silently skip whatever changed since the last run. Ask for startAt.
 * (The ledger load is cached: the run reuses it.)
 */
async function refuseLostCheckpoint(flowId: string, store: FlowStateStore, indexed?: IndexedState) {
  if (indexed ? await indexed.hasCheckpoint(flowId) : await store.getWatermark(flowId)) return;
  const { entries } = await store.loadLedger(flowId);
  if (entries === 0) return;
  throw new BridgeError(
    "checkpoint_missing",
    `flow ${flowId} has no checkpoint but its ledger holds ${entries} written document(s): it ran before and lost its place`,
    {
      retryable: false,
      hint: "set the flow's incremental.startAt to where it should resume (the last run record's watermarkAfter, or earlier: the ledger skips what is already written), or run a range backfill (once a checkpoint exists, startAt is ignored)",
      details: { flowId, ledgerEntries: entries },
    },
  );
}

function indexOptions(
  index: FlowIndexPort,
  store: FlowStateStore,
  flowId: string,
  runId: string,
  epoch: number | undefined,
  clock: Clock,
  logger: Logger,
): IndexedStateOptions {
  const runSettled = (flow: string, id: string) =>
    store.getRun(flow, id).then(
      (r) => r?.writesSettled === true,
      () => false,
    );
  return { index, flowId, runId, epoch, now: () => clock.now(), logger, runSettled };
}

function skippedSummary(flowId: string, request: RunRequest, clock: Clock): RunSummary {
  const at = clock.now();
  return {
    runId: request.runId,
    flowId,
    trigger: request.trigger,
    dryRun: request.dryRun ?? false,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
    outcome: "skipped_locked",
    counts: { read: 0, written: 0, alreadyExisted: 0, skipped: 0, deadLettered: 0, dropped: 0 },
    windows: [],
    api: [],
    subrequests: 0,
    // Not read: the run never reached its checkpoint.
    watermarkBefore: 0,
    watermarkAfter: 0,
    continues: false,
  };
}
