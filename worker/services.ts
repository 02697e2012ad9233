/**
 * What the HTTP API and the dashboard show and do, over the Worker's bindings: flows with their schedule,
 * watermark and last run; runs; dead letters and their replay; the API catalog; on-demand and fanned-out
 * syncs; previews; reference tables. Routes and pages stay thin on top of this.
 */
import { JST_DEFAULT_BASE_URL } from "../shared/compose/connectors.ts";
import { KIS_DEFAULT_BASE_URL } from "../shared/connectors/kis/config.ts";
import { DEFAULT_CLOUD_BASE_URL } from "../shared/connectors/tplus/cloud.ts";
import { isStateLabel, percentile } from "../shared/engine/meter.ts";
import { refreshReferenceTable } from "../shared/engine/references.ts";
import { DOCTOR_RESULT_KEY, runDoctor, type DoctorReport } from "../shared/doctor/index.ts";
import { replayDeadLetter } from "../shared/engine/replay.ts";
import { incrementalSettings, kisPrecheckFromEnv, loadReferenceTables } from "../shared/engine/runner.ts";
import { chooseKisPrecheck } from "../shared/doctor/findings.ts";
import { readLearnedRedForm, redFormOf, type RedFormChoice } from "../shared/doctor/red-form.ts";
import type { RunSummary } from "../shared/engine/types.ts";
import { planWindows } from "../shared/engine/window.ts";
import { BridgeError } from "../shared/errors.ts";
import { nextCronTime } from "../shared/flow/cron-next.ts";
import { preview } from "../shared/flow/preview.ts";
import type { FieldMapping, Flow } from "../shared/flow/schema.ts";
import { makeRunId } from "../shared/state/keys.ts";
import type { KvReferenceStore } from "../shared/state/reference-store.ts";
import type { RunRecord } from "../shared/state/records.ts";
import type { FlowStateStore } from "../shared/state/state-store.ts";
import { currentCheckpoint } from "../shared/state/checkpoint-view.ts";
import { DEFAULT_ZONE } from "../shared/util/time.ts";
import type { WorkerConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { runFlowInWorker, workerHost } from "./runtime.ts";
import { freshnessOfFlow } from "./observe/freshness-service.ts";
import type { FlowFreshness } from "../shared/observe/freshness.ts";

/** Ranges up to this many windows run inline; longer ones fan out through the queue. */
export const INLINE_SYNC_MAX_WINDOWS = 2;
/** Longest range one request may sync (security review #4): longer backfills belong to the CLI / Action. */
export const MAX_SYNC_RANGE_DAYS = 366;
/** How far past now a range may end (clock skew, a day boundary in another zone). */
export const MAX_SYNC_FUTURE_MS = 86_400_000;
/** Cloudflare Queues accepts at most 100 messages per sendBatch (developers.cloudflare.com/queues/platform/limits). */
export const QUEUE_BATCH_MAX = 100;

/** A stored run record: a full run summary, or a manual action (e.g. a dead letter resolved by hand). */
export type StoredRun = RunRecord & Partial<Omit<RunSummary, keyof RunRecord>>;

export interface ApiCatalogEntry {
  endpoint: string;
  system: "jushuitan" | "tplus" | "kis";
  flows: string[];
  calls: number;
  errors: number;
  throttles: number;
  p50Ms: number;
  p95Ms: number;
  runs: number;
}

export function runPublicId(flowId: string, runId: string) {
  return `${flowId}~${runId}`;
}

/** host + base path of a configured base URL, as the metered fetch labels calls (no trailing slash). */
function hostOf(url: string | undefined, fallback: string) {
  try {
    const u = new URL(url || fallback);
    return `${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return fallback;
  }
}

/** The external endpoints a flow uses, as the metered fetch labels them (host + path). */
export function flowEndpoints(flow: Flow, env: Env): Array<{ endpoint: string; system: ApiCatalogEntry["system"] }> {
  const out: Array<{ endpoint: string; system: ApiCatalogEntry["system"] }> = [
    { endpoint: `${hostOf(env.JST_BASE_URL, JST_DEFAULT_BASE_URL)}${flow.source.endpoint}`, system: "jushuitan" },
  ];
  if (flow.target.type === "tplus") {
    out.push({ endpoint: `${hostOf(env.TPLUS_BASE_URL, DEFAULT_CLOUD_BASE_URL)}/tplus/api/v2/${flow.target.operation}`, system: "tplus" });
  } else {
    const [app, ...rest] = flow.target.operation.split("/");
    out.push({ endpoint: `${hostOf(env.KIS_BASE_URL, KIS_DEFAULT_BASE_URL)}/koas/${app}/api/${rest.join("/")}`, system: "kis" });
  }
  return out;
}

/** A flow of this deployment by id; not_found otherwise. */
function configuredFlow(config: WorkerConfig, id: string): Flow {
  // Own properties only: "constructor", "__proto__", "toString" are not flows (security review #5).
  const flow = Object.hasOwn(config.flows, id) ? config.flows[id] : undefined;
  if (!flow) throw new BridgeError("not_found", `no flow "${id}"`, { hint: `this deployment runs: ${Object.keys(config.flows).join(", ")}` });
  return flow;
}

/** What each group of services works with: the Worker's parts from the composition root (shared/compose). */
interface ServiceContext {
  env: Env;
  config: WorkerConfig;
  parts: ReturnType<typeof workerHost>;
  store: FlowStateStore;
  references: KvReferenceStore;
  flowOrThrow(id: string): Flow;
  scheduleOf(flow: Flow): { cron: string; next: number | null } | null;
}

export function createServices(env: Env, config: WorkerConfig) {
  const parts = workerHost(env, config);
  const store = parts.stateStore();
  const ctx: ServiceContext = {
    env,
    config,
    parts,
    store,
    references: parts.referenceStore(),
    flowOrThrow: (id) => configuredFlow(config, id),
    scheduleOf: (flow) => {
      for (const [cron, ids] of config.schedules) if (ids.includes(flow.id)) return { cron, next: nextCronTime(cron, Date.now()) };
      return null;
    },
  };
  return {
    config,
    store,
    /** The Worker's KV port from the composition root (behind the deployment's redactor): routes never build their own. */
    kv: parts.kv,
    ...flowViews(ctx),
    ...runViews(ctx),
    ...deadLetterServices(ctx),
    apiCatalog: () => apiCatalog(ctx),
    sync: (flowId: string, request: SyncRequest) => syncFlow(ctx, flowId, request),
    /** The zone a flow's wall-clock dates are read in (throws not_found for an unknown flow). */
    flowZone: (flowId: string) => ctx.flowOrThrow(flowId).timezone ?? DEFAULT_ZONE,
    ...referenceServices(ctx),
    ...doctorServices(ctx),
  };
}

/** Flows with their schedule, watermark, last run, open dead letters and freshness (the dashboard's home page, GET /flows). */
function flowViews({ env, config, parts, store, flowOrThrow, scheduleOf }: ServiceContext) {
  return {
    async flows() {
      return Promise.all(
        Object.values(config.flows).map(async (flow) => {
          const [checkpoint, runs, open, precheck, learnedRed] = await Promise.all([
            currentCheckpoint(store, parts.lock, flow.id), // the index's: current while a run continues
            store.listRuns(flow.id, 5),
            store.listDeadLetters(flow.id),
            flow.target.type === "kis" ? chooseKisPrecheck(kisPrecheckFromEnv(env as unknown as Record<string, string | undefined>), parts.kv) : undefined,
            readLearnedRedForm(parts.kv),
          ]);
          // Manual actions (a dead letter resolved by hand) are run records too; "last run" means the last sync.
          const lastSync = (runs as unknown as StoredRun[]).find((r) => r.counts !== undefined);
          const watermark = typeof checkpoint?.watermark === "number" ? checkpoint.watermark : null;
          return {
            id: flow.id,
            name: flow.name,
            description: flow.description,
            source: { type: flow.source.type, endpoint: flow.source.endpoint },
            target: {
              type: flow.target.type,
              operation: flow.target.operation,
              ...(precheck ? { precheck: precheck.mode, precheckSource: precheck.source } : {}),
              ...({ redForm: redFormOf(flow, env as unknown as Record<string, string | undefined>, learnedRed) } as {
                redForm?: RedFormChoice | { error: string };
              }),
            },
            merge: flow.operation?.type === "merge" ? { groupBy: flow.operation.groupBy, lines: flow.operation.lines } : null,
            schedule: scheduleOf(flow),
            watermark,
            resumeCursor: Boolean(checkpoint?.cursor),
            lastRun: lastSync ?? null,
            openDeadLetters: open.length,
            ...({ freshness: await freshnessOfFlow(parts.kv, flow, { cron: scheduleOf(flow)?.cron ?? null, watermark, runs }) } as {
              freshness?: FlowFreshness;
            }),
          };
        }),
      );
    },

    async flow(id: string) {
      const flow = flowOrThrow(id);
      const [checkpoint, runs, lease] = await Promise.all([
        currentCheckpoint(store, parts.lock, flow.id),
        store.listRuns(flow.id, 10),
        parts.lock.inspect(flow.id),
      ]);
      return {
        flow,
        schedule: scheduleOf(flow),
        watermark: typeof checkpoint?.watermark === "number" ? checkpoint.watermark : null,
        checkpoint,
        lease,
        runs: runs as unknown as StoredRun[],
        mapping: mappingRows(flow.target.fields),
      };
    },
  };
}

/** Run records (GET /runs, /runs/:id). */
function runViews({ store, flowOrThrow }: ServiceContext) {
  return {
    async runs(flow: string | undefined, limit: number) {
      if (flow) flowOrThrow(flow);
      return ((await store.listRuns(flow, limit)) as unknown as StoredRun[]).map((r) => ({ id: runPublicId(r.flowId, r.runId), ...r }));
    },

    async run(publicId: string) {
      const [flowId, runId] = publicId.split("~");
      if (!flowId || !runId) throw new BridgeError("invalid_request", `run id "${publicId}" is not <flow>~<run>`, { hint: "take ids from GET /runs" });
      const run = await store.getRun(flowId, runId);
      if (!run) throw new BridgeError("not_found", `no run ${publicId}`, { hint: "run records expire after 30 days" });
      return { id: publicId, ...(run as unknown as StoredRun) };
    },
  };
}

/** Dead letters: list, replay, resolve by hand. */
function deadLetterServices({ config, parts, store, flowOrThrow }: ServiceContext) {
  return {
    deadLetters(flow: string | undefined, status: "open" | "resolved" | "all") {
      if (flow) flowOrThrow(flow);
      return store.listDeadLetters(flow, { status });
    },

    replay(id: string, by: string) {
      return replayDeadLetter(parts, id, { by, budget: { maxSubrequests: Math.max(1, config.maxSubrequests - config.stateReserve) } });
    },

    async resolve(id: string, reason: string, by: string) {
      const letter = await store.resolveDeadLetter(id, { reason, by });
      // Kept in the run history: a manual resolution is recorded as its own run record.
      const at = Date.now();
      await store.recordRun({
        runId: makeRunId(at, "resolve"),
        flowId: letter.flow,
        trigger: "http",
        startedAt: at,
        finishedAt: at,
        outcome: "resolved",
        resolvedDeadLetters: [{ id, reason, by, at }],
      });
      return letter;
    },
  };
}

/** The external endpoints the flows use, with the calls, errors, throttles and latencies of the last 100 runs. */
async function apiCatalog({ env, config, store }: ServiceContext): Promise<ApiCatalogEntry[]> {
  const entries = new Map<string, ApiCatalogEntry & { latencies: number[] }>();
  const entry = (endpoint: string, system: ApiCatalogEntry["system"]) =>
    entries.get(endpoint) ?? {
      endpoint,
      system,
      flows: [] as string[],
      calls: 0,
      errors: 0,
      throttles: 0,
      p50Ms: 0,
      p95Ms: 0,
      runs: 0,
      latencies: [] as number[],
    };
  for (const flow of Object.values(config.flows)) {
    for (const { endpoint, system } of flowEndpoints(flow, env)) {
      const e = entry(endpoint, system);
      if (!e.flows.includes(flow.id)) e.flows.push(flow.id);
      entries.set(endpoint, e);
    }
  }
  const runs = (await store.listRuns(undefined, 100)) as unknown as StoredRun[];
  for (const run of runs) {
    for (const api of run.api ?? []) {
      if (isStateLabel(api.endpoint)) continue; // a state call charged to the budget (CallMeter.charge), not a vendor endpoint
      const system: ApiCatalogEntry["system"] = api.endpoint.includes("/koas/")
        ? "kis"
        : api.endpoint.includes("/tplus/") || api.endpoint.includes("/auth/")
          ? "tplus"
          : "jushuitan";
      const e = entry(api.endpoint, system);
      e.calls += api.calls;
      e.errors += api.errors;
      e.throttles += api.throttles;
      e.runs++;
      if (!e.flows.includes(run.flowId)) e.flows.push(run.flowId);
      e.latencies.push(...(api.latenciesMs ?? []));
      entries.set(api.endpoint, e);
    }
  }
  return [...entries.values()].map(({ latencies, ...e }) => ({ ...e, p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95) }));
}

type SyncRequest = { from?: number; to?: number; dryRun?: boolean };

/**
 * On-demand sync. No range: an incremental run (like a cron tick). A short range runs inline; a long one
 * is queued window by window (each message its own invocation budget) and answered 202.
 */
async function syncFlow({ env, config, flowOrThrow }: ServiceContext, flowId: string, request: SyncRequest) {
  const flow = flowOrThrow(flowId);
  const at = Date.now();
  const runId = makeRunId(at, request.dryRun ? "dryrun" : "http");
  if (request.from === undefined || request.to === undefined) {
    const result = await runFlowInWorker(env, config, { flowId, runId, trigger: "http", now: at, dryRun: request.dryRun });
    return { status: 200 as const, run: result.summary, planned: request.dryRun ? result.planned : undefined };
  }
  const windows = rangeWindows(flow, { from: request.from, to: request.to }, at);
  if (windows.length <= INLINE_SYNC_MAX_WINDOWS) {
    const result = await runFlowInWorker(env, config, {
      flowId,
      runId,
      trigger: "http",
      now: at,
      range: { from: request.from, to: request.to },
      dryRun: request.dryRun,
    });
    return { status: 200 as const, run: result.summary, planned: request.dryRun ? result.planned : undefined };
  }
  if (request.dryRun) {
    throw new BridgeError("invalid_request", `a dry run covers at most ${INLINE_SYNC_MAX_WINDOWS} windows (this range has ${windows.length})`, {
      hint: "preview a shorter range, or use the CLI: jst-bridge sync <flow> --from … --to … --dry-run",
    });
  }
  if (!env.SYNC_QUEUE) {
    throw new BridgeError("invalid_request", `the range spans ${windows.length} windows and no queue is configured to fan it out`, {
      hint: `split it into ranges of ${INLINE_SYNC_MAX_WINDOWS} windows, add the SYNC_QUEUE binding (wrangler.toml), or backfill with the CLI / GitHub Action`,
    });
  }
  const messages = windows.map((w) => ({ body: { kind: "window" as const, flowId, runId, from: w.from, to: w.to } }));
  // Chunks of at most 100 (the Queues limit per sendBatch; each message is ~150 bytes, far under 256 KB).
  for (let i = 0; i < messages.length; i += QUEUE_BATCH_MAX) await env.SYNC_QUEUE.sendBatch(messages.slice(i, i + QUEUE_BATCH_MAX));
  return { status: 202 as const, accepted: { runId, windows: windows.length, firstWindow: windows[0], lastWindow: windows.at(-1) } };
}

/** The windows of a requested range, bounded before any is planned: an unbounded range would build millions (security review #4). */
function rangeWindows(flow: Flow, range: { from: number; to: number }, at: number) {
  if (range.to <= range.from) throw new BridgeError("invalid_request", "`to` must be after `from`");
  if (range.to > at + MAX_SYNC_FUTURE_MS) {
    throw new BridgeError("invalid_request", "`to` is in the future", {
      hint: "end the range today or earlier; incremental runs (no range) pick up new documents",
    });
  }
  if (range.to - range.from > MAX_SYNC_RANGE_DAYS * 86_400_000) {
    throw new BridgeError("invalid_request", `the range spans more than ${MAX_SYNC_RANGE_DAYS} days`, {
      hint: `split it into ranges of at most ${MAX_SYNC_RANGE_DAYS} days, or backfill with the CLI / GitHub Action`,
    });
  }
  const settings = incrementalSettings(flow, at);
  return planWindows({
    watermark: range.from,
    now: range.to,
    lookbackMs: 0,
    endLagMs: 0,
    maxWindowMs: settings.windowMs,
    alignToDays: settings.alignToDays,
    timezone: settings.timezone,
  }).windows;
}

/** Previews and reference tables: list, upload, refresh from their source. */
function referenceServices({ config, parts, references, flowOrThrow }: ServiceContext) {
  return {
    async preview(flowId: string, documents: Record<string, unknown>[], tables?: Record<string, Record<string, unknown>[]>) {
      const flow = flowOrThrow(flowId);
      const stored = await loadReferenceTables({ ...flow, references: flow.references.filter((r) => !tables?.[r.name]) }, references).catch(
        (error: unknown) => {
          throw error instanceof BridgeError ? error : new BridgeError("internal", String(error));
        },
      );
      const now = Date.now();
      return preview(flow, documents, { tables: { ...stored, ...tables }, vars: { lastSyncTime: now, currentTime: now }, trace: true });
    },

    async references() {
      const names = await references.list();
      return Promise.all(
        names.map(async (name) => {
          const meta = await references.describe(name);
          return {
            name,
            ...meta,
            usedBy: Object.values(config.flows)
              .filter((f) => f.references.some((r) => r.name === name))
              .map((f) => f.id),
          };
        }),
      );
    },

    async uploadReference(table: string, rows: Record<string, unknown>[]) {
      const declared = Object.values(config.flows)
        .flatMap((f) => f.references)
        .find((r) => r.name === table);
      if (declared && rows.some((r) => r[declared.keyField] === undefined || r[declared.keyField] === "")) {
        throw new BridgeError("invalid_request", `every row of "${table}" needs its key column "${declared.keyField}"`, {
          hint: "add the column to the CSV header / JSON objects",
        });
      }
      await references.put({ name: table, rows, updatedAt: Date.now(), source: "upload" });
      return { table, rows: rows.length };
    },

    async refreshReference(table: string) {
      const ref = Object.values(config.flows)
        .flatMap((f) => f.references)
        .find((r) => r.name === table && r.source);
      if (!ref) {
        throw new BridgeError("not_found", `no flow fills reference table "${table}" from a source`, {
          hint: "upload it instead with POST /reference/" + table,
        });
      }
      return refreshReferenceTable(ref, {
        env: parts.env,
        fetch: parts.fetch,
        tokenStore: parts.tokenStore(),
        references,
        clock: parts.clock,
        logger: parts.logger,
      });
    },
  };
}

/** The go-live checklist: the last stored one, and a fresh read-only run. */
function doctorServices({ config, parts }: ServiceContext) {
  return {
    /** The last stored checklist (GET /doctor, CLI or Action doctor against the same KV), for the dashboard. */
    async lastDoctor(): Promise<DoctorReport | null> {
      const raw = await parts.kv.get(DOCTOR_RESULT_KEY);
      if (!raw) return null;
      try {
        return JSON.parse(raw) as DoctorReport;
      } catch {
        return null;
      }
    },

    /** Read-only go-live checklist (shared/doctor); the write probe stays a CLI/Action step. */
    async doctor() {
      return runDoctor(
        { env: parts.env, fetch: parts.fetch, kv: parts.kv, clock: parts.clock, logger: parts.logger, flows: config.flows, rateBudget: parts.rateBudget },
        { exerciseRefresh: true },
      );
    },
  };
}

export type Services = ReturnType<typeof createServices>;

/** The field mapping as flat rows (field path, label, value) for the dashboard and GET /flows/:id. */
export function mappingRows(fields: readonly FieldMapping[], prefix = ""): Array<{ path: string; label?: string; type: string; value?: string }> {
  const rows: Array<{ path: string; label?: string; type: string; value?: string }> = [];
  for (const f of fields) {
    const path = prefix ? `${prefix}.${f.field}` : f.field;
    rows.push({ path: f.type === "array" ? `${path}[]` : path, label: f.label, type: f.type, value: f.value });
    if (f.children) rows.push(...mappingRows(f.children, f.type === "array" ? `${path}[]` : path));
  }
  return rows;
}
