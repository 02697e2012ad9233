/**
 * `jst-bridge doctor` / `GET /doctor`: read-only checks against the configured systems that settle what only a
 * real account can (../shared/docs/wire-evidence.md §7), printed as a go-live checklist: each line ✓ / ✗ / ? with
 * the fix. Nothing is written to Jushuitan, KIS or T+ unless `writeProbe` is asked for explicitly (and then only
 * with a named test account or probe date): it writes one marked document twice to learn how the target answers a
 * duplicate key. Results are stored under DOCTOR_RESULT_KEY so the engine and the dashboard can use them.
 * Platform-free: the CLI, the Action and the Worker pass their own ports.
 */
import type { JushuitanClient } from "../connectors/jushuitan/index.ts";
import { kisConfigFromEnv, type KisOperations } from "../connectors/kis/index.ts";
import { parseKisOperation, type KisBillObject } from "../connectors/kis/operations.ts";
import { KisBusinessError, KisDuplicateBillError } from "../connectors/kis/errors.ts";
import { resolveOperation, type TplusClient } from "../connectors/tplus/operations.ts";
import { jushuitanClient, kisOperations, tplusClient as tplusClientOf } from "../compose/connectors.ts";
import { composeHost } from "../compose/index.ts";
import { TPLUS_ERROR, TplusError } from "../connectors/tplus/errors.ts";
import { TplusCloudTransport } from "../connectors/tplus/cloud.ts";
import { ensureReferenceTables } from "../engine/references.ts";
import type { EnvVars } from "../compose/env.ts";
import { BridgeError } from "../errors.ts";
import { createDocumentBuilder } from "../flow/builder.ts";
import { lookupTables } from "../flow/preview.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../ports.ts";
import type { KvTokenStore } from "../state/token-store.ts";
import type { RateBudget } from "../http/rate-budget.ts";
import { formatInZone } from "../util/time.ts";
import { DOCTOR_RESULT_KEY } from "./findings.ts";
import { storeTplusDuplicate } from "./tplus-duplicate.ts";

import { probeKisRedForm, probeTplusRedForm, type RedProbeResult } from "./red-probe.ts";
import { mergeLearned, readLearnedRedForm, redFormChoice, storeLearnedRedForm, type LearnedRedForm } from "./red-form.ts";
import { envNameChecks } from "./env-names.ts";
export { chooseKisPrecheck, DOCTOR_RESULT_KEY, kisPrecheckFromFindings, type KisPrecheckChoice } from "./findings.ts";
export { RED_FORM_KEY, readLearnedRedForm, redFormChoice, withLearnedRedForm, type LearnedRedForm, type RedFormChoice } from "./red-form.ts";

export type CheckStatus = "ok" | "fail" | "unknown";

export interface DoctorCheck {
  system: "jushuitan" | "kis" | "tplus" | "bridge";
  flowId?: string;
  title: string;
  status: CheckStatus;
  detail?: string;
  fix?: string;
}

/** What the checks learned that the engine can use (e.g. the KIS precheck mode). */
export interface DoctorFindings {
  jstRowsCarryTs?: Record<string, boolean>;
  kisBillListFiltersHonoured?: boolean;
  kisMaterialKeyField?: { field: string; present: boolean };
  tplusVoucherFilterHonoured?: boolean;
  /** From --write-probe: how KIS answered a second bill with the same FBillNo. */
  kisDuplicateBillNo?: "refused" | "accepted";
  kisBillNoHonoured?: boolean;
  /** From --write-probe: the T+ answer to a duplicate ExternalCode, and whether our matcher recognises it. */
  tplusDuplicate?: { code: string | undefined; message: string; recognised: boolean };
  /** From --write-probe: the red document form each target accepted (red-probe.ts), also kept under RED_FORM_KEY. */
  redForm?: LearnedRedForm;
}

export interface DoctorReport {
  checkedAt: number;
  ok: boolean;
  checks: DoctorCheck[];
  findings: DoctorFindings;
}

export interface DoctorPorts {
  env: EnvVars;
  fetch: FetchLike;
  kv: KeyValueStore;
  clock: Clock;
  logger: Logger;
  flows: Record<string, Flow>;
  /** The host's Jushuitan rate budget, shared with its runs (http/rate-budget.ts); default: the client's own limiter. */
  rateBudget?: RateBudget;
}

export interface DoctorOptions {
  /** Only these flows (default all). */
  flowIds?: string[];
  /** Write one marked document twice per target to learn the duplicate answer. Refused without testAccount or probeDate. */
  writeProbe?: { testAccount?: boolean; probeDate?: string };
  /** Days of source documents sampled for the code checks (default 3, at most 7: one Jushuitan window). */
  sampleDays?: number;
  /**
   * Really refresh the KIS and T+ credentials (the rotated ones are saved to `kv`). Only where `kv` is the state
   * the flows use (the Worker, CLI/Action with --state kv): a T+ refresh kills the old pair, so rotating into a
   * local file store would stop a deployed Worker that still holds the old one. Default false: the line is "?".
   */
  exerciseRefresh?: boolean;
}

/** Clock skew beyond which signed requests fail (Jushuitan 140: timestamp outside its window; KIS-Timestamp). */
const MAX_SKEW_MS = 5 * 60_000;
const PROBE_MISSING_KEY = "JSTB-DOCTOR-NO-SUCH-KEY";

/** Records the HTTP Date of every answer, per host, to measure clock skew without an extra call. */
function dateRecordingFetch(fetch: FetchLike, hostNow: () => number) {
  const skew = new Map<string, number>();
  const wrapped: FetchLike = async (input, init) => {
    const res = await fetch(input, init);
    const date = res.headers.get("date");
    const at = date ? Date.parse(date) : NaN;
    if (Number.isFinite(at)) {
      const host = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url).host;
      const diff = hostNow() - at;
      if (!skew.has(host) || Math.abs(diff) > Math.abs(skew.get(host)!)) skew.set(host, diff);
    }
    return res;
  };
  return { fetch: wrapped, skew };
}

function describe(error: unknown): { detail: string; fix?: string } {
  if (error instanceof BridgeError) return { detail: `${error.code}: ${error.message}`, ...(error.hint ? { fix: error.hint } : {}) };
  return { detail: error instanceof Error ? error.message : String(error) };
}

/** What the doctor's clients share: the date-recording fetch, the token store, the clock and the logger. */
type ClientDeps = { fetch: FetchLike; tokenStore: KvTokenStore; clock: Clock; logger: Logger; rateBudget?: RateBudget };

/** The three vendors' clients from the environment (shared/compose); a client that cannot be configured is undefined (its checks say so). */
function openClients(env: EnvVars, deps: ClientDeps, add: Add) {
  const attempt = <T>(build: () => T, onError?: (error: unknown) => void): T | undefined => {
    try {
      return build();
    } catch (error) {
      onError?.(error);
      return undefined;
    }
  };
  const jst = attempt(
    () => jushuitanClient(env, deps, deps.rateBudget ? { rateBudget: deps.rateBudget } : {}),
    (error) => add({ system: "jushuitan", title: "credentials", status: "fail", ...describe(error) }),
  );
  const kisClient = attempt(() => kisOperations(env, deps));
  const tplusClient = attempt(() => tplusClientOf(env, deps, { retry: { tries: 2 } }));
  return { jst, kisClient, tplusClient };
}

/** Source check of one flow: credentials and permission for its endpoint (190), whether rows carry ts, and the first
 * page of the last `sampleDays` days as a sample for the code checks. */
async function sampleSource(
  jst: JushuitanClient,
  flow: Flow,
  now: number,
  sampleDays: number,
  add: Add,
  findings: DoctorFindings,
): Promise<Record<string, unknown>[]> {
  const builder = createDocumentBuilder(flow);
  const to = now;
  const from = now - sampleDays * 86_400_000;
  try {
    const params = builder.compiled.requestParams({ lastSyncTime: from, currentTime: to, timezone: flow.timezone });
    const pageSize = flow.source.paging.pageSize ?? 30;
    const data = (await jst.call<{ datas?: unknown[] } | null>(flow.source.endpoint, { ...params, page_index: 1, page_size: pageSize })) ?? {};
    const rows = (Array.isArray(data.datas) ? data.datas : []).filter((r): r is Record<string, unknown> => !!r && typeof r === "object");
    add({
      system: "jushuitan",
      flowId: flow.id,
      title: `credentials and API permission for ${flow.source.endpoint}`,
      status: "ok",
      detail: `${rows.length} document(s) in the last ${sampleDays} days (first page)`,
    });
    const carryTs = rows.length === 0 ? undefined : rows.every((r) => r.ts !== undefined && r.ts !== null);
    if (carryTs !== undefined) (findings.jstRowsCarryTs ??= {})[flow.source.endpoint] = carryTs;
    add({
      system: "jushuitan",
      flowId: flow.id,
      title: `rows of ${flow.source.endpoint} carry ts`,
      status: carryTs === undefined ? "unknown" : "ok",
      detail:
        carryTs === undefined
          ? "no documents to look at"
          : carryTs
            ? "yes (the engine can read by rowversion)"
            : "no (the engine reads by keyset or offset instead)",
    });
    return rows;
  } catch (error) {
    add({ system: "jushuitan", flowId: flow.id, title: `credentials and API permission for ${flow.source.endpoint}`, status: "fail", ...describe(error) });
    return [];
  }
}

export async function runDoctor(ports: DoctorPorts, options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const findings: DoctorFindings = {};
  const add = (c: DoctorCheck) => checks.push(c);
  const now = ports.clock.now();
  const recorder = dateRecordingFetch(ports.fetch, () => ports.clock.now());
  const parts = composeHost(ports);
  const deps = { fetch: recorder.fetch, tokenStore: parts.tokenStore(), clock: ports.clock, logger: ports.logger, rateBudget: ports.rateBudget };
  const references = parts.referenceStore();
  const flows = Object.values(ports.flows).filter((f) => !options.flowIds || options.flowIds.includes(f.id));
  const sampleDays = Math.min(7, Math.max(1, options.sampleDays ?? 3));

  if (options.writeProbe && !options.writeProbe.testAccount && !options.writeProbe.probeDate) {
    throw new BridgeError("invalid_request", "doctor --write-probe writes real documents: name a test account or a probe date", {
      hint: "add --test-account (this is a test/sandbox 账套) or --probe-date YYYY-MM-DD (a date you will delete the probe documents from)",
    });
  }

  const { jst, kisClient, tplusClient } = openClients(ports.env, deps, add);
  const targetsChecked = new Set<string>();

  let learned = await readLearnedRedForm(ports.kv);
  for (const flow of flows) {
    const correction = correctionCheck(flow, ports.env, learned);
    add(correction);
    const sampled: Record<string, unknown>[] = [];
    // Source: permission per endpoint (190), rows carry ts, a sample for the code checks.
    if (jst) sampled.push(...(await sampleSource(jst, flow, now, sampleDays, add, findings)));

    // Reference tables (fills the ones with a source, as the first run would).
    const tables = await referenceTablesCheck(flow, { env: ports.env, ...deps, references }, add);

    // Target checks, once per target system.
    if (flow.target.type === "kis" && !targetsChecked.has("kis")) {
      targetsChecked.add("kis");
      await kisChecks(flow, kisClient, ports.env, add, findings, options.exerciseRefresh === true);
    }
    if (flow.target.type === "tplus" && !targetsChecked.has("tplus")) {
      targetsChecked.add("tplus");
      await tplusChecks(flow, tplusClient, add, findings, options.exerciseRefresh === true);
    }

    // Codes the sampled documents need exist.
    if (tables && sampled.length > 0) {
      const built = await sampledDocumentsCheck(flow, tables, sampled, { now, sampleDays }, tplusClient, add);
      if (options.writeProbe && built.documents[0]) {
        await writeProbe(flow, built.documents[0].payload, { kis: kisClient, tplus: tplusClient }, options.writeProbe, { env: ports.env, now, add, findings });
        if (findings.redForm) learned = await storeLearnedRedForm(ports.kv, findings.redForm);
        if (findings.tplusDuplicate) await storeTplusDuplicate(ports.kv, findings.tplusDuplicate, now);
        Object.assign(correction, correctionCheck(flow, ports.env, learned));
      }
    } else if (options.writeProbe) {
      add({
        system: "bridge",
        flowId: flow.id,
        title: "write probe",
        status: "unknown",
        detail: "no sampled source document to build a probe from",
        fix: "run doctor when the source has a recent document, or widen --sample-days",
      });
    }
  }

  clockSkewChecks(recorder.skew, add);
  for (const check of envNameChecks(ports.env)) add(check);

  const report: DoctorReport = { checkedAt: now, ok: checks.every((c) => c.status !== "fail"), checks, findings };
  await ports.kv.put(DOCTOR_RESULT_KEY, JSON.stringify(report));
  return report;
}

type Add = (c: DoctorCheck) => void;

type ReferenceTables = Record<string, ReadonlyArray<Record<string, unknown>>>;

/** The flow's reference tables, filled from their sources as the first run would; undefined when that fails (the check says why). */
async function referenceTablesCheck(flow: Flow, deps: Parameters<typeof ensureReferenceTables>[1], add: Add): Promise<ReferenceTables | undefined> {
  try {
    const tables = await ensureReferenceTables(flow, deps);
    add({
      system: "bridge",
      flowId: flow.id,
      title: "reference tables",
      status: "ok",
      detail:
        Object.entries(tables)
          .map(([n, r]) => `${n}: ${r.length} rows`)
          .join(", ") || "none",
    });
    return tables;
  } catch (error) {
    add({ system: "bridge", flowId: flow.id, title: "reference tables", status: "fail", ...describe(error) });
    return undefined;
  }
}

/** Builds the sampled source rows into documents: every code they need must exist (in the tables, and in T+ itself). */
async function sampledDocumentsCheck(
  flow: Flow,
  tables: ReferenceTables,
  sampled: Record<string, unknown>[],
  { now, sampleDays }: { now: number; sampleDays: number },
  tplusClient: TplusClient | undefined,
  add: Add,
) {
  const builder = createDocumentBuilder(flow, { lookups: lookupTables(tables) });
  const built = builder.build(sampled, { lastSyncTime: now - sampleDays * 86_400_000, currentTime: now, closedBefore: now + 400 * 86_400_000 });
  const misses = built.failures.map((f) => f.error.message);
  add({
    system: "bridge",
    flowId: flow.id,
    title: `sampled documents map (${sampled.length} source rows)`,
    status: misses.length === 0 ? "ok" : "fail",
    detail: misses.length === 0 ? `${built.documents.length} documents built` : [...new Set(misses)].slice(0, 5).join("; "),
    ...(misses.length ? { fix: "add the missing rows to the reference table named (the message gives the source value), then run doctor again" } : {}),
  });
  if (flow.target.type === "tplus" && tplusClient)
    await tplusCodesExist(
      flow,
      tplusClient,
      built.documents.map((d) => d.payload),
      add,
    );
  return built;
}

/** One line per host that answered with an HTTP Date: signed requests fail when the clocks are minutes apart. */
function clockSkewChecks(skew: ReadonlyMap<string, number>, add: Add): void {
  for (const [host, diff] of skew) {
    const bad = Math.abs(diff) > MAX_SKEW_MS;
    add({
      system: "bridge",
      title: `clock skew against ${host}`,
      status: bad ? "fail" : "ok",
      detail: `${Math.round(diff / 1000)} s (HTTP Date)`,
      ...(bad ? { fix: "sync this machine's clock (NTP): signed requests carry a timestamp the vendors reject when it is minutes off" } : {}),
    });
  }
}

async function kisChecks(flow: Flow, ops: KisOperations | undefined, env: EnvVars, add: Add, findings: DoctorFindings, exerciseRefresh: boolean) {
  if (!ops) {
    try {
      kisConfigFromEnv(env);
    } catch (error) {
      add({ system: "kis", title: "credentials", status: "fail", ...describe(error) });
    }
    return;
  }
  let listed: Awaited<ReturnType<KisOperations["listMaterials"]>>;
  try {
    listed = await ops.listMaterials(1, 5);
    add({ system: "kis", title: "credentials (APP006992 Material/List)", status: "ok" });
  } catch (error) {
    add({ system: "kis", title: "credentials (APP006992 Material/List)", status: "fail", ...describe(error) });
    return;
  }
  await kisRefreshCheck(ops, add, exerciseRefresh);
  await kisAccountDbCheck(ops, env, add);
  // The custom field the flow keys its material lookups on (the seed: F_103) must come back from List or the details.
  for (const ref of flow.references.filter((r) => r.source?.type === "kis" && r.source.operation === "Material/List")) {
    try {
      const leaves = listed.rows.filter((m) => m.FDetail !== false);
      const details = await ops.materialDetails(leaves.map((m) => m.FItemID));
      const rows = leaves.map((m) => ({ ...m, ...details.find((d) => d.FItemID === m.FItemID) }));
      const present = rows.some((r) => r[ref.keyField] !== undefined && r[ref.keyField] !== "");
      const unit = rows.some((r) => r.FUnitID !== undefined);
      findings.kisMaterialKeyField = { field: ref.keyField, present };
      add({
        system: "kis",
        title: `material field ${ref.keyField} (the key of ${ref.name}) and FUnitID`,
        status: rows.length === 0 ? "unknown" : present && unit ? "ok" : "fail",
        detail:
          rows.length === 0
            ? "no materials listed"
            : `${ref.keyField}: ${present ? "present" : "missing"}, FUnitID: ${unit ? "present" : "missing"} (List + GetListDetails/GetDetail)`,
        ...(!present ? { fix: `create the custom field ${ref.keyField} on KIS materials holding the Jushuitan sku_id, or upload ${ref.name} as CSV` } : {}),
      });
    } catch (error) {
      add({ system: "kis", title: `material details (GetListDetails/GetDetail)`, status: "fail", ...describe(error) });
    }
  }
  // Bill list filters (FBillNo/StartDate/EndDate): no public source names them (wire-evidence.md §3).
  try {
    const { bill } = parseKisOperation(flow.target.operation);
    const any = await ops.listBills(bill, { ItemsOfPage: 5 });
    const filtered = await ops.listBills(bill, { FBillNo: PROBE_MISSING_KEY, ItemsOfPage: 5 });
    const honoured = any.rows.length === 0 ? undefined : filtered.rows.every((r) => r.FBillNo === PROBE_MISSING_KEY);
    if (honoured !== undefined) findings.kisBillListFiltersHonoured = honoured;
    add({
      system: "kis",
      title: `${bill}/list honours the FBillNo filter`,
      status: honoured === undefined ? "unknown" : honoured ? "ok" : "fail",
      detail: honoured === undefined ? "no bills yet to test against" : honoured ? "yes" : "no: the list ignored FBillNo",
      ...(honoured === false
        ? {
            fix: "lookups by bill number would scan pages and may give up; keep KIS_PRECHECK unset only if --write-probe shows KIS refuses a duplicate FBillNo",
          }
        : {}),
    });
  } catch (error) {
    add({ system: "kis", title: "bill list", status: "fail", ...describe(error) });
  }
}

/**
 * Exercises the refresh the flows depend on when the access token / auth data expire: a refresh credential
 * rotated elsewhere otherwise passes the checklist and the flows stop days later. The rotated credentials are
 * persisted to the token store by the client (the flows read them from there), so this costs one rotation.
 */
const REFRESH_NOT_EXERCISED = {
  status: "unknown" as const,
  detail: "not exercised: this doctor does not write to the state the flows use",
  fix: "run doctor where the flows keep their tokens (Worker GET /doctor, or the CLI/Action with --state kv) to really refresh once; a refresh into a separate store would rotate the credentials away from the deployed Worker",
};

async function kisRefreshCheck(ops: KisOperations, add: Add, exercise: boolean) {
  const title = "token refresh (refresh_login_access_token / refresh_auth_data)";
  if (!exercise) {
    add({ system: "kis", title, ...REFRESH_NOT_EXERCISED });
    return;
  }
  const tokens = await ops.client.currentTokens();
  if (!tokens.extra?.sessionId && !tokens.extra?.refreshAuthDataToken) {
    add({
      system: "kis",
      title,
      status: "unknown",
      detail: "neither KIS_SESSION_ID nor KIS_REFRESH_AUTH_DATA_TOKEN is set: nothing to refresh with",
      fix: "set KIS_SESSION_ID and KIS_REFRESH_AUTH_DATA_TOKEN (docs/targets-kis.md), or the flows stop when the credentials expire",
    });
    return;
  }
  try {
    await ops.client.refresh("unknown");
    await ops.listMaterials(1, 1);
    add({ system: "kis", title, status: "ok", detail: "refreshed, saved to the token store and used once" });
  } catch (error) {
    add({
      system: "kis",
      title,
      status: "fail",
      ...describe(error),
      fix: "the refresh credentials were refused (rotated by another deployment?): re-run the KIS authorization (docs/targets-kis.md) and update KIS_SESSION_ID / KIS_REFRESH_AUTH_DATA_TOKEN",
    });
  }
}

const WRONG_ACCOUNT_DB = "JSTB-DOCTOR-NO-SUCH-ACCOUNT-DB";

/**
 * "Material/List answered" does not show KIS used KIS_ACCOUNT_DB: a gateway that ignores the field (or its
 * spelling, UNCERTAIN: AccountDB vs AccountDb) answers from its default 账套. Only a deliberately wrong name
 * being refused shows the field is read.
 */
async function kisAccountDbCheck(ops: KisOperations, env: EnvVars, add: Add) {
  if (!env.KIS_ACCOUNT_DB) {
    add({
      system: "kis",
      title: "AccountDB",
      status: "unknown",
      detail: "KIS_ACCOUNT_DB is not set",
      fix: "KIS 私有云 accounts need KIS_ACCOUNT_DB (the 账套 database); KIS云 does not",
    });
    return;
  }
  const probe = ops.withAccountDb(WRONG_ACCOUNT_DB);
  try {
    await probe.listMaterials(1, 1);
    add({
      system: "kis",
      title: "AccountDB",
      status: "unknown",
      detail: `KIS ignored the 账套 field: a wrong name (${WRONG_ACCOUNT_DB}) was accepted too, so KIS_ACCOUNT_DB may not select the 账套`,
      fix: "check the 账套 in the KIS client (or try KIS_ACCOUNT_DB spelled as the server expects); KIS云 accounts have no 账套 field",
    });
  } catch (error) {
    const refused = error instanceof KisBusinessError && error.kind === "account_db";
    add(
      refused
        ? { system: "kis", title: "AccountDB", status: "ok", detail: "KIS_ACCOUNT_DB accepted and a wrong 账套 name refused" }
        : { system: "kis", title: "AccountDB", status: "unknown", detail: `a wrong 账套 name failed for another reason: ${describe(error).detail}` },
    );
  }
}

async function tplusChecks(flow: Flow, client: TplusClient | undefined, add: Add, findings: DoctorFindings, exerciseRefresh: boolean) {
  if (!client) {
    add({
      system: "tplus",
      title: "credentials",
      status: "fail",
      detail: "T+ configuration is incomplete",
      fix: "set TPLUS_MODE and its variables (README); run `jst-bridge auth tplus`",
    });
    return;
  }
  try {
    await client.queryWarehouse({ PageSize: 1 });
    add({ system: "tplus", title: `credentials and token (${client.mode})`, status: "ok" });
  } catch (error) {
    add({ system: "tplus", title: `credentials and token (${client.mode})`, status: "fail", ...describe(error) });
    return;
  }
  if (client.transport instanceof TplusCloudTransport) {
    // The openToken lasts 6 days: a refresh token rotated elsewhere would stop the flows then, so exercise it now.
    // The rotated pair is saved to the token store before use (cloud.ts), where the flows read it.
    const title = "token refresh (auth/v2/refreshToken)";
    if (!exerciseRefresh) add({ system: "tplus", title, ...REFRESH_NOT_EXERCISED });
    else
      try {
        await client.transport.refreshNow();
        await client.queryWarehouse({ PageSize: 1 });
        add({ system: "tplus", title, status: "ok", detail: "refreshed, saved to the token store and used once" });
      } catch (error) {
        add({
          system: "tplus",
          title,
          status: "fail",
          ...describe(error),
          fix: "the refresh token was refused (rotated by another deployment?): authorize the app again and set TPLUS_REFRESH_TOKEN / TPLUS_OPEN_TOKEN",
        });
      }
  }
  const spec = resolveOperation(flow.target.operation);
  try {
    const any = await client.findVoucherList(spec.resource, { pageIndex: 0, pageSize: 5 });
    add({ system: "tplus", title: `${spec.service}/FindVoucherList reachable`, status: "ok", detail: `${any.length} vouchers on the first page` });
    if (any.length === 0) {
      add({ system: "tplus", title: `${spec.service}/FindVoucherList filters by ExternalCode`, status: "unknown", detail: "no vouchers yet to test against" });
    } else {
      const filtered = await client.findVoucherList(spec.resource, { pageIndex: 0, pageSize: 5, paramDic: { ExternalCode: PROBE_MISSING_KEY } });
      const honoured = filtered.length === 0;
      findings.tplusVoucherFilterHonoured = honoured;
      add({
        system: "tplus",
        title: `${spec.service}/FindVoucherList filters by ExternalCode`,
        status: honoured ? "ok" : "fail",
        detail: honoured ? "yes" : "no: lookups after a lost answer scan the newest vouchers (bounded), then rely on T+'s duplicate check",
        ...(honoured
          ? {}
          : { fix: "find the filter's field name in the voucher's column info (chanjet_column_info) and report it; recovery stays safe but slower" }),
      });
    }
  } catch (error) {
    // Not enabled, or a path the gateway answers 404 for (an account without the OpenApi services): the same fix.
    const missing = error instanceof TplusError && (error.code === TPLUS_ERROR.apiNotEnabled || error.httpStatus === 404);
    add({
      system: "tplus",
      title: `${spec.service}/FindVoucherList reachable`,
      status: "fail",
      ...describe(error),
      ...(missing ? { fix: `enable ${spec.service} for your app (应用 → 接口权限); without it recovery and reconcile rely on the duplicate check only` } : {}),
    });
  }
}

/** Every Warehouse.Code and Inventory.Code the sampled T+ documents use exists in T+. */
async function tplusCodesExist(flow: Flow, client: TplusClient, payloads: Record<string, unknown>[], add: Add) {
  const warehouses = new Set<string>();
  const inventory = new Set<string>();
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (key === "Warehouse" && typeof o.Code === "string") warehouses.add(o.Code);
      if (key === "Inventory" && typeof o.Code === "string") inventory.add(o.Code);
      for (const [k, x] of Object.entries(o)) walk(x, k);
    }
  };
  for (const p of payloads) walk(p, "");
  try {
    const known = new Set((await client.queryAllArchive("warehouse/Query")).map((w) => String(w.Code)));
    const missingW = [...warehouses].filter((c) => !known.has(c));
    const missingI: string[] = [];
    for (const code of [...inventory].slice(0, 20)) if ((await client.queryInventory({ Code: code })).length === 0) missingI.push(code);
    const missing = [...missingW.map((c) => `warehouse ${c}`), ...missingI.map((c) => `inventory ${c}`)];
    add({
      system: "tplus",
      flowId: flow.id,
      title: `codes of the sampled documents exist in T+ (${warehouses.size} warehouses, ${Math.min(inventory.size, 20)} of ${inventory.size} inventory codes)`,
      status: missing.length ? "fail" : "ok",
      ...(missing.length
        ? {
            detail: `missing: ${missing.slice(0, 10).join(", ")}`,
            fix: "create them in T+ (存货/仓库档案) or fix the mapping (warehouses table, sku_id → Inventory.Code)",
          }
        : {}),
    });
  } catch (error) {
    add({ system: "tplus", flowId: flow.id, title: "codes of the sampled documents exist in T+", status: "fail", ...describe(error) });
  }
}

/**
 * Writes one marked document twice. The first must be accepted (else the check fails with the target's reason);
 * the second tells how the target answers a duplicate key, which no public source documents.
 */
async function writeProbe(
  flow: Flow,
  payload: Record<string, unknown>,
  clients: { kis: KisOperations | undefined; tplus: TplusClient | undefined },
  probe: NonNullable<DoctorOptions["writeProbe"]>,
  context: { env: EnvVars; now: number; add: Add; findings: DoctorFindings },
) {
  const { env, now, add, findings } = context;
  const key = `JSTB-PROBE-${formatInZone(now, "YYYYMMDDHHmmss")}`;
  const date = probe.probeDate ?? formatInZone(now, "YYYY-MM-DD");
  const title = `write probe ${key} (${date})`;
  try {
    if (flow.target.type === "kis" && clients.kis) {
      const { bill } = parseKisOperation(flow.target.operation);
      const source = (payload.Object && typeof payload.Object === "object" ? payload.Object : payload) as KisBillObject;
      const object: KisBillObject = {
        Head: { ...source.Head, FBillNo: key, Fdate: `${date}T00:00:00`, Fnote: "jst-bridge doctor probe: delete me" },
        Entry: source.Entry,
      };
      const first = await clients.kis.createBill(bill, object);
      findings.kisBillNoHonoured = first.FBillNo === key;
      let second: "refused" | "accepted" | "unknown";
      let otherFailure = "";
      try {
        await clients.kis.createBill(bill, object);
        second = "accepted";
      } catch (error) {
        // Only a refusal recognised AS a duplicate bill number says KIS enforces it; a throttle, a 5xx, a closed
        // period or an auth hiccup says nothing about duplicates (and must not unlock after_unknown_outcome).
        if (error instanceof KisDuplicateBillError) second = "refused";
        else {
          second = "unknown";
          otherFailure = describe(error).detail;
        }
      }
      if (second === "unknown") delete findings.kisDuplicateBillNo;
      else findings.kisDuplicateBillNo = second;
      add({
        system: "kis",
        title,
        status: second === "unknown" ? "unknown" : second === "refused" && findings.kisBillNoHonoured ? "ok" : "fail",
        detail: `FBillNo ${findings.kisBillNoHonoured ? "kept" : `replaced by ${first.FBillNo}`}; ${
          second === "unknown"
            ? `the second create failed for another reason (${otherFailure}), so the duplicate answer is unknown`
            : `a second bill with the same FBillNo was ${second}`
        }`,
        fix: `delete the probe bill(s) ${key} in KIS${
          second === "unknown"
            ? '; run the probe again later (the precheck stays "always" until a duplicate refusal is seen)'
            : second === "accepted" || !findings.kisBillNoHonoured
              ? "; set KIS_PRECHECK=always (KIS does not protect against a duplicate)"
              : ""
        }`,
      });
      addRedProbe("kis", key, await probeKisRedForm(clients.kis, bill, object, key, env, now, second === "accepted" ? 2 : 1), add, findings);
    } else if (flow.target.type === "tplus" && clients.tplus) {
      const spec = resolveOperation(flow.target.operation);
      const dto = { ...payload, ExternalCode: key, VoucherDate: date, Memo: "jst-bridge doctor probe: delete me" };
      await clients.tplus.transport.call(`${spec.resource}/Create`, { dto });
      let blues = 1;
      try {
        await clients.tplus.transport.call(`${spec.resource}/Create`, { dto });
        blues = 2;
        findings.tplusDuplicate = { code: undefined, message: "accepted a second document", recognised: false };
      } catch (error) {
        const t = error instanceof TplusError ? error : undefined;
        findings.tplusDuplicate = {
          code: t?.tplusCode,
          message: error instanceof Error ? error.message : String(error),
          recognised: t?.code === TPLUS_ERROR.duplicate,
        };
      }
      const d = findings.tplusDuplicate;
      add({
        system: "tplus",
        title,
        status: d.recognised ? "ok" : "fail",
        detail: `second create answered ${d.code ?? "success"}: ${d.message}`,
        fix: `delete the probe voucher(s) ${key} in T+${d.recognised ? "" : "; report this answer so the duplicate matcher learns it (until then a resend after a lost answer becomes a dead letter instead of 'already booked')"}`,
      });
      addRedProbe("tplus", key, await probeTplusRedForm(clients.tplus, spec.resource, dto, key, env, now, blues), add, findings);
    }
  } catch (error) {
    add({ system: flow.target.type, flowId: flow.id, title, status: "fail", ...describe(error) });
  }
}

/** The red-form line of the write probe: what was tried and what was learned. */
function addRedProbe(system: "kis" | "tplus", key: string, result: RedProbeResult, add: Add, findings: DoctorFindings) {
  if (result.learned) findings.redForm = mergeLearned(findings.redForm, result.learned);
  const tried = result.tried.map((t) => `${t.form}: ${t.answer}`).join("; ");
  const what = system === "kis" ? "bill" : "voucher";
  // The net is said as it is: a blue probe booked twice (a duplicate key accepted) and reversed once leaves stock.
  const open = result.blues - result.reversed;
  const net = open === 0 ? `the red ones reverse the blue ones: net nil` : `${open} blue probe ${what}(s) NOT reversed: their quantities are still booked`;
  add({
    system,
    title: `write probe red ${what} ${key}-R`,
    status: result.learned ? "ok" : "unknown",
    detail: result.learned
      ? `accepted ${result.tried.find((t) => t.answer === "accepted")?.form} (learned; tried: ${tried}); ${result.blues} blue, ${result.reversed} reversed`
      : `no red form accepted (${tried || "not tried"})`,
    fix: result.learned
      ? `delete the probe ${what}s ${key} and ${key}-R* in ${system === "kis" ? "KIS" : "T+"} (${net})`
      : `delete the probe ${what}(s) ${key}; post one red ${what} by hand and set ${system === "kis" ? "KIS_RED_QTY_SIGN" : "TPLUS_RED_QTY_SIGN / TPLUS_RED_BUSI_TYPE"} (docs/changes.md), or run the probe again`,
  });
}

/**
 * How this flow corrects posted documents (docs/changes.md) and where its red form comes from: the environment,
 * the stored write probe (red-form.ts), or the default. "?" while a compensating flow's red form is the default:
 * the form each target accepts is not public (../shared/docs/reversals-and-periods.md §1.4, §2.5).
 */
function correctionCheck(flow: Flow, env: Record<string, string | undefined>, learned: LearnedRedForm): DoctorCheck {
  const title = "corrections after posting (onChange / red documents / closed period)";
  try {
    const choice = redFormChoice(flow.target.type, env, learned, flow.target.operation);
    const settings = Object.entries(choice.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    const settled = choice.source !== "default (no doctor --write-probe result)";
    return {
      system: flow.target.type,
      flowId: flow.id,
      title,
      status: flow.target.onChange === "compensate" && !settled ? "unknown" : "ok",
      detail: `onChange=${flow.target.onChange ?? `(unset: onExisting ${flow.target.onExisting})`}, closedPeriod=${flow.target.closedPeriod ?? "hold"}; ${settings} (${choice.source})`,
      fix: "run doctor --write-probe on a test account (it learns the red form), or post one red document by hand, read it back and set the variables above (docs/changes.md)",
    };
  } catch (error) {
    return { system: flow.target.type, flowId: flow.id, title, status: "fail", ...describe(error) };
  }
}

const MARK: Record<CheckStatus, string> = { ok: "✓", fail: "✗", unknown: "?" };

/** The checklist as text: one line per check, the fix indented below a ✗ or ?. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`jst-bridge doctor (${formatInZone(report.checkedAt)})`, ""];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} [${c.system}${c.flowId ? ` ${c.flowId}` : ""}] ${c.title}${c.detail ? `: ${c.detail}` : ""}`);
    if (c.fix && c.status !== "ok") lines.push(`    fix: ${c.fix}`);
  }
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(
    "",
    `${count("ok")} ✓ · ${count("fail")} ✗ · ${count("unknown")} ? — ${report.ok ? "no ✗: the checked points are ready for go-live (? lines need a real document or account to settle)" : "fix the ✗ lines before go-live"}`,
  );
  return lines.join("\n");
}
