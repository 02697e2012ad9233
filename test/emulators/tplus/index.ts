/**
 * A strict 畅捷通 T+ emulator serving BOTH transports on the same paths, like the real product:
 * - T+Cloud gateway: JSON bodies with appKey/appSecret/openToken headers, /auth/v2/getToken and a rotating
 *   /auth/v2/refreshToken (old access AND refresh token die at once), 409 throttling, 50112 quota;
 * - on-prem: form `_args`, signed `Authorization` (PS256 JWT verified with the ISV public key), account login.
 * A request with Content-Type application/x-www-form-urlencoded is on-prem; anything else is the gateway.
 * Vouchers are validated against the shared catalog and ExternalCode is unique per voucher type.
 * Web standards only (it also runs inside workerd).
 */
import { Hono } from "hono";
import { md5Hex } from "../../../shared/util/md5.ts";
import { SHOPS, SKUS, WAREHOUSES } from "../catalog.ts";
import { FaultQueue } from "./faults.ts";
import type { FaultSpec } from "./faults.ts";
import { PublicKeyRing, verifyOnpremAuthorization } from "./onprem-auth.ts";
import type { PublicKeyInput } from "./onprem-auth.ts";
import { isValidDate, validateVoucher, VOUCHER_KINDS } from "./validate.ts";
import { periodRefusal, type PeriodOptions } from "../periods.ts";
import type { MasterData, VoucherKind } from "./validate.ts";

export type { FaultSpec } from "./faults.ts";

export interface TplusEmulatorUser {
  userName: string;
  password: string;
  accNum: string;
}

export interface TplusEmulatorOptions {
  now?: () => number;
  appKey?: string;
  appSecret?: string;
  /** More registered apps (a token issued to one and used with another answers 50112/403). */
  extraApps?: Array<{ appKey: string; appSecret: string }>;
  orgId?: string;
  // ---- cloud gateway ----
  /** Access token lifetime in seconds (T+: 6 days). */
  tokenTtlSeconds?: number;
  refreshTtlSeconds?: number;
  /** A pair that is valid from the start (tests seed the client with it). */
  initialTokens?: { accessToken: string; refreshToken: string };
  /** What a successful Create answers on the gateway (UNCERTAIN): `null`, an empty body, or a quoted id. */
  cloudSuccessBody?: "null" | "empty" | "id";
  /** HTTP status of business errors on the gateway (UNCERTAIN: 4xx or 200). */
  cloudErrorStatus?: number;
  /** Sliding-window throttle per appKey: beyond `max` calls in `windowMs`, 409 {"error":…}. */
  rateLimit?: { max: number; windowMs: number };
  /** Business calls allowed "this month"; beyond it, 401 {code:"50112"}. */
  monthlyQuota?: number;
  /** "resource/Method" names not enabled for the app (or missing on the server): answered EXSV0011 on both transports. */
  disabledApis?: string[];
  // ---- on-prem ----
  /** ISV public key, SPKI PEM or JWK; required for on-prem calls. */
  publicKey?: PublicKeyInput;
  acceptRs256?: boolean;
  users?: TplusEmulatorUser[];
  /** HTTP status of `{code,message}` errors on-prem (UNCERTAIN: the .NET SDK sees them as WebException, i.e. 4xx/5xx). */
  onpremErrorStatus?: number;
  /** Lifetime of an on-prem login session. */
  sessionTtlMs?: number;
  // ---- both ----
  /** Duplicate ExternalCode refusal (UNCERTAIN text): code and message template ({code} = the ExternalCode, {label} = voucher name). */
  duplicateCode?: string;
  duplicateMessage?: string;
  /** CreateBatch answer: per-document result array, or all-or-nothing with one error naming the bad document. */
  batchMode?: "perDocument" | "allOrNothing";
  maxBatchSize?: number;
  maxPageSize?: number;
  /**
   * Red vouchers (issue 16; the OpenAPI form is NOT FOUND, reversals-and-periods.md §2.5): "negative" (default)
   * accepts negative quantities in any voucher and requires them under a return business type (the vendor web
   * script idx:12413446747 forces them negative for 委外退库); "positive" refuses negative quantities, so a red
   * voucher must be a return business type with positive quantities.
   */
  redQuantities?: "negative" | "positive";
  /** Business type codes that mean a return (退库/退货). Default 14 and 16 (BusinessType.cs). */
  returnBusiTypes?: string[];
  /** Closed periods / enable date (test/emulators/periods.ts); mutable at run time (反结账). */
  periods?: PeriodOptions;
  // ---- vendor-true behaviour (../shared/docs/wire-evidence.md); today's older behaviour stays as named profiles ----
  /**
   * orgId on the on-prem `Authorization` header and in authInfo `datas`. "emptyOrConfigured" (default): Chanjet's
   * demo sends "" for user/password login (yeongjet/chanjie.tp.openapi Form1.cs), and the enterprise-cloud-ID
   * path sends the org; both accepted. "required": the older emulator, only the configured orgId.
   */
  onpremOrgId?: "emptyOrConfigured" | "required";
  /** HTTP status of the gateway's `{code:"50000"}` for a path it does not know: 404 (default), 401 or 403 (CaiJingLong errors.ts). */
  unknownPathStatus?: 401 | 403 | 404;
  /**
   * How vouchers are listed. "openApi" (default; Chanjet T+Cloud MCP guide): `<Voucher>OpenApi/FindVoucherList`
   * {pageIndex (0-based), pageSize, paramDic} → rows {id, code, externalcode, ts}, and `GetVoucherDTO`; there is no
   * `<resource>/Query`. "legacyQuery": the older emulator's `<resource>/Query {param:{ExternalCode|VoucherDate…}}` only.
   */
  voucherApi?: "openApi" | "legacyQuery";
  /** Whether FindVoucherList honours `paramDic.ExternalCode` (UNCERTAIN: the field name must come from column info). Default honoured. */
  findVoucherFilter?: "externalCode" | "ignored";
  /**
   * Whether FindVoucherList honours `paramDic.VoucherDateBegin/VoucherDateEnd` (UNCERTAIN: no public source names
   * the date fields; the names are the voucher Query API's). Default honoured; "ignored" lists every voucher.
   */
  findVoucherDateFilter?: "honoured" | "ignored";
  /** Archive (inventory/warehouse/partner Query) paging. "pageSize" (default; MCP guide): PageSize ≤ 1000, no page index, `Ts` continues after a row version. "pageIndex": the older emulator. */
  archivePaging?: "pageSize" | "pageIndex";
  /** Extra synthetic inventory rows (to exercise paging past 1000). */
  extraInventory?: number;
  /** Serve `<resource>/CreateBatch` on the cloud gateway (not listed for T+Cloud in the MCP guide; the on-prem demo has it). Default false. */
  cloudCreateBatch?: boolean;
}

export interface StoredVoucher {
  ID: number;
  Code: string;
  ExternalCode: string;
  VoucherDate: string;
  createdAt: number;
  transport: "cloud" | "onprem";
  payload: Record<string, unknown>;
}

export interface RequestLogEntry {
  time: number;
  method: string;
  path: string;
  transport: "cloud" | "onprem" | "token" | "admin";
  params: Record<string, string>;
  body?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  status: number;
  code?: string;
  fault?: string;
}

interface Answer {
  status: number;
  /** JSON value to serialize, or a raw text body. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

interface CallContext {
  transport: "cloud" | "onprem";
  request: Request;
  log: RequestLogEntry;
  /** Invalidates the credential this call presented (tokenExpired fault). */
  invalidateToken: () => void;
}

const DEFAULT_DUPLICATE_MESSAGE = "外部单据号{code}已存在，不能重复保存{label}";
const DEFAULT_USERS: TplusEmulatorUser[] = [{ userName: "demo", password: "demo-pass", accNum: "001" }];

function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function summarizeBody(value: unknown): Record<string, unknown> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, unknown> = { keys: Object.keys(value) };
  const codes: string[] = [];
  const dto = value.dto;
  if (isObject(dto) && typeof dto.ExternalCode === "string") codes.push(dto.ExternalCode);
  if (Array.isArray(value.dtos)) for (const d of value.dtos) if (isObject(d) && typeof d.ExternalCode === "string") codes.push(d.ExternalCode);
  if (isObject(value.param)) out.param = value.param;
  if (codes.length) out.externalCodes = codes;
  if (typeof value.userName === "string") out.userName = value.userName;
  if (typeof value.accNum === "string") out.accNum = value.accNum;
  return out;
}

export function createTplusEmulator(options: TplusEmulatorOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const appKey = options.appKey ?? "tplus-app-key";
  const appSecret = options.appSecret ?? "tplus-app-secret";
  const orgId = options.orgId ?? "90001234";
  const apps = new Map<string, string>([[appKey, appSecret], ...(options.extraApps ?? []).map((a) => [a.appKey, a.appSecret] as [string, string])]);
  const tokenTtlMs = (options.tokenTtlSeconds ?? 518_400) * 1000;
  const refreshTtlMs = (options.refreshTtlSeconds ?? 30 * 86_400) * 1000;
  const cloudErrorStatus = options.cloudErrorStatus ?? 400;
  const onpremErrorStatus = options.onpremErrorStatus ?? 500;
  const users = options.users ?? DEFAULT_USERS;
  const sessionTtlMs = options.sessionTtlMs ?? 12 * 3_600_000;
  const maxPageSize = options.maxPageSize ?? 1000;
  const keyRing = options.publicKey ? new PublicKeyRing(options.publicKey) : null;

  const master: MasterData = {
    inventory: new Map(SKUS.map((s) => [s.skuId, { Code: s.skuId, Name: s.name, Unit: s.unit }])),
    warehouses: new Map(WAREHOUSES.map((w) => [w.tplusCode, { Code: w.tplusCode, Name: w.jstName }])),
    // Customers/partners: one per Jushuitan shop (KH<shopId>), plus a generic one.
    partners: new Map<string, { Code: string; Name: string }>([
      ...SHOPS.map((s): [string, { Code: string; Name: string }] => [`KH${s.shopId}`, { Code: `KH${s.shopId}`, Name: s.name }]),
      ["GYS001", { Code: "GYS001", Name: "默认供应商" }],
    ]),
  };
  for (let i = 0; i < (options.extraInventory ?? 0); i++) {
    const code = `EXTRA-${String(i + 1).padStart(5, "0")}`;
    master.inventory.set(code, { Code: code, Name: `合成存货 ${i + 1}`, Unit: "件" });
  }
  // Ts: a row version that grows with every change (UNCERTAIN name; the archive APIs filter on it per the MCP guide's advice).
  const inventoryRows = [...master.inventory.values()].map((v, i) => ({
    ID: i + 1,
    Code: v.Code,
    Name: v.Name,
    Unit: { Name: v.Unit },
    Disabled: false,
    Ts: 1000 + i,
  }));
  const warehouseRows = [...master.warehouses.values()].map((v, i) => ({ ID: i + 1, Code: v.Code, Name: v.Name }));

  // ---- mutable state ----
  let vouchers = new Map<string, StoredVoucher[]>();
  let nextVoucherId = 1;
  let log: RequestLogEntry[] = [];
  const faults = new FaultQueue();
  let accessTokens = new Map<string, { appKey: string; expiresAt: number; refreshToken: string }>();
  let refreshTokens = new Map<string, { appKey: string; expiresAt: number; accessToken: string }>();
  let authCodes = new Map<string, { expiresAt: number }>();
  let sessions = new Map<string, { userName: string; accNum: string; sid: string; expiresAt: number }>();
  let callTimes: number[] = [];
  let callsThisMonth = 0;
  let refreshCount = 0;
  let loginCount = 0;
  let held = new Set<AbortController>();

  function issueCloudTokens(forAppKey = appKey): { accessToken: string; refreshToken: string; sid: string } {
    const accessToken = randomId("at");
    const refreshToken = randomId("rt");
    accessTokens.set(accessToken, { appKey: forAppKey, expiresAt: now() + tokenTtlMs, refreshToken });
    refreshTokens.set(refreshToken, { appKey: forAppKey, expiresAt: now() + refreshTtlMs, accessToken });
    return { accessToken, refreshToken, sid: randomId("sid") };
  }

  function seedInitialTokens() {
    const t = options.initialTokens;
    if (!t) return;
    accessTokens.set(t.accessToken, { appKey, expiresAt: now() + tokenTtlMs, refreshToken: t.refreshToken });
    refreshTokens.set(t.refreshToken, { appKey, expiresAt: now() + refreshTtlMs, accessToken: t.accessToken });
  }
  seedInitialTokens();

  function reset() {
    for (const c of held) c.abort();
    held = new Set();
    vouchers = new Map();
    nextVoucherId = 1;
    log = [];
    faults.clear();
    accessTokens = new Map();
    refreshTokens = new Map();
    authCodes = new Map();
    sessions = new Map();
    callTimes = [];
    callsThisMonth = 0;
    refreshCount = 0;
    loginCount = 0;
    seedInitialTokens();
  }

  function state() {
    const of = (resource: string) => (vouchers.get(resource) ?? []).map((v) => structuredClone(v));
    return {
      vouchers: {
        otherDispatch: of("otherDispatch"),
        otherReceive: of("otherReceive"),
        purchaseReceive: of("purchaseReceive"),
        saleDelivery: of("saleDelivery"),
      },
      cloud: { activeAccessTokens: accessTokens.size, activeRefreshTokens: refreshTokens.size, refreshCount, callsThisMonth },
      onprem: { sessions: sessions.size, loginCount },
      master: { inventory: inventoryRows.length, warehouses: warehouseRows.map((w) => w.Code), partners: [...master.partners.keys()] },
      faults: faults.list(),
    };
  }

  // ---- answers ----
  const errorStatus = (transport: "cloud" | "onprem") => (transport === "cloud" ? cloudErrorStatus : onpremErrorStatus);
  const refusal = (transport: "cloud" | "onprem", code: string, message: string): Answer => ({
    status: errorStatus(transport),
    json: transport === "onprem" ? { code, message, data: null, exception: null } : { code, message },
  });

  function toResponse(answer: Answer): Response {
    if (answer.text !== undefined) {
      return new Response(answer.text, { status: answer.status, headers: { "Content-Type": answer.contentType ?? "text/plain; charset=utf-8" } });
    }
    return new Response(JSON.stringify(answer.json ?? null), { status: answer.status, headers: { "Content-Type": "application/json; charset=utf-8" } });
  }

  function hold(signal: AbortSignal, delayMs: number): Promise<boolean> {
    const controller = new AbortController();
    held.add(controller);
    return new Promise<boolean>((resolve) => {
      const done = (aborted: boolean) => {
        clearTimeout(timer);
        held.delete(controller);
        signal.removeEventListener("abort", onAbort);
        resolve(aborted);
      };
      const onAbort = () => done(true);
      const timer = setTimeout(() => done(false), delayMs);
      if (signal.aborted) return done(true);
      signal.addEventListener("abort", onAbort, { once: true });
      controller.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  // ---- vouchers ----
  const kindByName = new Map(VOUCHER_KINDS.map((k) => [k.resource.toLowerCase(), k]));

  function duplicateRefusal(transport: "cloud" | "onprem", kind: VoucherKind, externalCode: string): Answer {
    const message = (options.duplicateMessage ?? DEFAULT_DUPLICATE_MESSAGE).replaceAll("{code}", externalCode).replaceAll("{label}", kind.label);
    return refusal(transport, options.duplicateCode ?? "EXVD0010", message);
  }

  function store(kind: VoucherKind, dto: Record<string, unknown>, transport: "cloud" | "onprem"): StoredVoucher {
    const list = vouchers.get(kind.resource) ?? [];
    const id = nextVoucherId++;
    const date = String(dto.VoucherDate);
    const voucher: StoredVoucher = {
      ID: id,
      Code: typeof dto.Code === "string" ? dto.Code : `${kind.codePrefix}-${date.replaceAll("-", "")}-${String(list.length + 1).padStart(4, "0")}`,
      ExternalCode: String(dto.ExternalCode),
      VoucherDate: date,
      createdAt: now(),
      transport,
      payload: structuredClone(dto),
    };
    list.push(voucher);
    vouchers.set(kind.resource, list);
    return voucher;
  }

  function exists(kind: VoucherKind, externalCode: string): boolean {
    return (vouchers.get(kind.resource) ?? []).some((v) => v.ExternalCode === externalCode);
  }

  function createAnswer(transport: "cloud" | "onprem", voucher: StoredVoucher): Answer {
    if (transport === "onprem") return { status: 200, json: null };
    const mode = options.cloudSuccessBody ?? "null";
    if (mode === "empty") return { status: 200, text: "", contentType: "application/json" };
    if (mode === "id") return { status: 200, json: String(voucher.ID) };
    return { status: 200, json: null };
  }

  /** Sign and period rules of red vouchers and closed periods (profiles: redQuantities, periods). */
  function redAndPeriod(dto: Record<string, unknown>): { code: string; message: string } | null {
    const closed = typeof dto.VoucherDate === "string" ? periodRefusal(dto.VoucherDate, options.periods) : null;
    if (closed) return { code: "999", message: closed };
    const busi = isObject(dto.BusiType) ? String(dto.BusiType.Code) : undefined;
    const isReturn = busi !== undefined && (options.returnBusiTypes ?? ["14", "16"]).includes(busi);
    const lines = Array.isArray(dto.RDRecordDetails) ? dto.RDRecordDetails : [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as Record<string, unknown>;
      const q = Number(line.BaseQuantity ?? line.Quantity);
      if ((options.redQuantities ?? "negative") === "positive" && q < 0) return { code: "999", message: `RDRecordDetails[${i}] 数量不能为负数` };
      if ((options.redQuantities ?? "negative") === "negative" && isReturn && q > 0)
        return { code: "999", message: `RDRecordDetails[${i}] 退库业务的数量必须为负数` };
    }
    return null;
  }

  function createOne(kind: VoucherKind, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    if (!isObject(args.dto)) return refusal(transport, "EXVD0001", "缺少参数 dto");
    const problem = validateVoucher(kind, args.dto, master) ?? redAndPeriod(args.dto);
    if (problem) return refusal(transport, problem.code, problem.message);
    const externalCode = String(args.dto.ExternalCode);
    if (exists(kind, externalCode)) return duplicateRefusal(transport, kind, externalCode);
    return createAnswer(transport, store(kind, args.dto, transport));
  }

  function createBatch(kind: VoucherKind, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    const dtos = args.dtos;
    if (!Array.isArray(dtos) || dtos.length === 0) return refusal(transport, "EXVD0001", "缺少参数 dtos（单据数组）");
    if (dtos.length > (options.maxBatchSize ?? 100)) return refusal(transport, "EXVD0001", `dtos 一次最多 ${options.maxBatchSize ?? 100} 张单据`);
    if (args.param !== undefined && !isObject(args.param)) return refusal(transport, "EXVD0001", "param 必须是对象");
    const seenInBatch = new Set<string>();
    const check = (dto: unknown): { code: string; message: string } | null => {
      const problem = validateVoucher(kind, dto, master) ?? redAndPeriod(dto as Record<string, unknown>);
      if (problem) return problem;
      const ext = String((dto as Record<string, unknown>).ExternalCode);
      if (exists(kind, ext) || seenInBatch.has(ext)) {
        const dup = duplicateRefusal(transport, kind, ext).json as { code: string; message: string };
        return { code: dup.code, message: dup.message };
      }
      seenInBatch.add(ext);
      return null;
    };
    if ((options.batchMode ?? "perDocument") === "allOrNothing") {
      for (let i = 0; i < dtos.length; i++) {
        const problem = check(dtos[i]);
        if (problem) return refusal(transport, problem.code, `第${i + 1}张单据：${problem.message}`);
      }
      for (const dto of dtos) store(kind, dto as Record<string, unknown>, transport);
      return { status: 200, json: null };
    }
    // UNCERTAIN shape: one result per document, in order, naming its ExternalCode.
    const results = dtos.map((dto) => {
      const ext = isObject(dto) && typeof dto.ExternalCode === "string" ? dto.ExternalCode : "";
      const problem = check(dto);
      if (problem) return { ExternalCode: ext, Success: false, ErrorCode: problem.code, Message: problem.message };
      const v = store(kind, dto as Record<string, unknown>, transport);
      return { ExternalCode: ext, Success: true, ID: v.ID, Code: v.Code };
    });
    return { status: 200, json: results };
  }

  function pageOf<T>(rows: T[], param: Record<string, unknown>, transport: "cloud" | "onprem"): Answer | T[] {
    const { PageIndex, PageSize } = param;
    if (PageIndex === undefined && PageSize === undefined) return rows;
    if (
      (PageIndex !== undefined && (typeof PageIndex !== "number" || !Number.isInteger(PageIndex) || PageIndex < 1)) ||
      (PageSize !== undefined && (typeof PageSize !== "number" || !Number.isInteger(PageSize) || PageSize < 1))
    ) {
      return refusal(transport, "EXVD0001", "PageIndex / PageSize 必须是正整数");
    }
    const size = (PageSize as number | undefined) ?? 100;
    if (size > maxPageSize) return refusal(transport, "EXVD0001", `PageSize 不能超过 ${maxPageSize}`);
    const index = (PageIndex as number | undefined) ?? 1;
    return rows.slice((index - 1) * size, index * size);
  }

  function queryVouchers(kind: VoucherKind, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    const param = isObject(args.param) ? args.param : {};
    const { ExternalCode, VoucherDateBegin, VoucherDateEnd } = param;
    for (const [name, value] of [
      ["VoucherDateBegin", VoucherDateBegin],
      ["VoucherDateEnd", VoucherDateEnd],
    ] as const) {
      if (value !== undefined && !isValidDate(value)) return refusal(transport, "EXVD0001", `${name} 格式不正确，应为 yyyy-MM-dd`);
    }
    let rows = vouchers.get(kind.resource) ?? [];
    if (ExternalCode !== undefined) rows = rows.filter((v) => v.ExternalCode === ExternalCode);
    if (typeof VoucherDateBegin === "string") rows = rows.filter((v) => v.VoucherDate >= VoucherDateBegin);
    if (typeof VoucherDateEnd === "string") rows = rows.filter((v) => v.VoucherDate <= VoucherDateEnd);
    const shaped = rows.map((v) => ({
      ID: v.ID,
      Code: v.Code,
      ExternalCode: v.ExternalCode,
      VoucherDate: v.VoucherDate,
      ...(kind.voucherType ? { VoucherType: { Code: kind.voucherType } } : {}),
      ...(isObject(v.payload.Warehouse) ? { Warehouse: v.payload.Warehouse } : {}),
      ...(typeof v.payload.Memo === "string" ? { Memo: v.payload.Memo } : {}),
    }));
    const page = pageOf(shaped, param, transport);
    return Array.isArray(page) ? { status: 200, json: page } : page;
  }

  /** Archives without a page index: PageSize ≤ 1000 (default 1000), rows in Ts order after `param.Ts` when given. */
  function archivePage(
    rows: Array<Record<string, unknown>>,
    param: Record<string, unknown>,
    transport: "cloud" | "onprem",
  ): Answer | Array<Record<string, unknown>> {
    const size = param.PageSize ?? 1000;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 1) return refusal(transport, "EXVD0001", "PageSize 必须是正整数");
    if (size > Math.min(maxPageSize, 1000)) return refusal(transport, "EXVD0001", `PageSize 不能超过 ${Math.min(maxPageSize, 1000)}`);
    const after = typeof param.Ts === "number" ? param.Ts : undefined;
    const ordered = [...rows].sort((a, b) => Number(a.Ts ?? 0) - Number(b.Ts ?? 0)).filter((r) => after === undefined || Number(r.Ts ?? 0) > after);
    return ordered.slice(0, size);
  }

  /** `{pageIndex (0-based), pageSize, paramDic}` → `[{id, code, externalcode, ts}]`, newest first (MCP guide idx 61143165842). */
  function findVoucherList(kind: VoucherKind, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    const { pageIndex, pageSize } = args;
    if (typeof pageIndex !== "number" || !Number.isInteger(pageIndex) || pageIndex < 0)
      return refusal(transport, "EXVD0001", "pageIndex 必须是从 0 开始的整数");
    if (typeof pageSize !== "number" || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > maxPageSize)
      return refusal(transport, "EXVD0001", `pageSize 必须在 1 到 ${maxPageSize} 之间`);
    if (args.paramDic !== undefined && !isObject(args.paramDic)) return refusal(transport, "EXVD0001", "paramDic 必须是对象");
    const dic = (args.paramDic ?? {}) as Record<string, unknown>;
    let rows = [...(vouchers.get(kind.resource) ?? [])].reverse();
    if ((options.findVoucherFilter ?? "externalCode") === "externalCode" && typeof dic.ExternalCode === "string")
      rows = rows.filter((v) => v.ExternalCode === dic.ExternalCode);
    if ((options.findVoucherDateFilter ?? "honoured") === "honoured") {
      const { VoucherDateBegin: begin, VoucherDateEnd: end } = dic;
      if (typeof begin === "string") rows = rows.filter((v) => v.VoucherDate.slice(0, 10) >= begin.slice(0, 10));
      if (typeof end === "string") rows = rows.filter((v) => v.VoucherDate.slice(0, 10) <= end.slice(0, 10));
    }
    const page = rows
      .slice(pageIndex * pageSize, (pageIndex + 1) * pageSize)
      .map((v) => ({ id: v.ID, code: v.Code, externalcode: v.ExternalCode, ts: v.createdAt }));
    return { status: 200, json: page };
  }

  /** `{param:{voucherID, voucherTypeCode?}}` → the whole voucher. */
  function getVoucherDto(kind: VoucherKind, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    const param = isObject(args.param) ? args.param : {};
    const id = Number(param.voucherID ?? param.VoucherID ?? param.id);
    const v = (vouchers.get(kind.resource) ?? []).find((x) => x.ID === id);
    if (!v) return refusal(transport, "EXVD0002", `单据不存在（voucherID=${String(param.voucherID)}）`);
    return { status: 200, json: { ...structuredClone(v.payload), ID: v.ID, Code: v.Code, ExternalCode: v.ExternalCode, VoucherDate: v.VoucherDate } };
  }

  function queryMaster(resource: string, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer {
    const param = isObject(args.param) ? args.param : {};
    let rows: Array<Record<string, unknown>> =
      resource === "inventory" ? inventoryRows : resource === "warehouse" ? warehouseRows : [...master.partners.values()].map((p, i) => ({ ID: i + 1, ...p }));
    if (typeof param.Code === "string") rows = rows.filter((r) => r.Code === param.Code);
    if (typeof param.Name === "string") rows = rows.filter((r) => String(r.Name).includes(param.Name as string));
    const page = (options.archivePaging ?? "pageSize") === "pageSize" ? archivePage(rows, param, transport) : pageOf(rows, param, transport);
    return Array.isArray(page) ? { status: 200, json: page } : page;
  }

  /** Dispatches one business call; `args` is the JSON body (cloud) or the parsed `_args` (on-prem). */
  function business(resource: string, method: string, args: Record<string, unknown>, transport: "cloud" | "onprem"): Answer | null {
    const r = resource.toLowerCase();
    const m = method.toLowerCase();
    const kind = kindByName.get(r);
    const openApi = (options.voucherApi ?? "openApi") === "openApi";
    if (kind && m === "create") return createOne(kind, args, transport);
    if (kind && m === "createbatch" && kind.batch && (transport === "onprem" || options.cloudCreateBatch)) return createBatch(kind, args, transport);
    if (kind && m === "query" && !openApi) return queryVouchers(kind, args, transport);
    const service = openApi && r.endsWith("openapi") ? kindByName.get(r.slice(0, -"openapi".length)) : undefined;
    if (service && m === "findvoucherlist") return findVoucherList(service, args, transport);
    if (service && m === "getvoucherdto") return getVoucherDto(service, args, transport);
    if ((r === "inventory" || r === "warehouse" || r === "partner") && m === "query") return queryMaster(r, args, transport);
    return null;
  }

  // ---- faults ----
  type FaultOutcome = { answer: Answer } | { after: "hold" | "5xx"; delayMs: number } | null;

  function preFault(fault: FaultSpec | undefined, ctx: CallContext): FaultOutcome {
    if (!fault) return null;
    ctx.log.fault = fault.kind;
    const status = typeof fault.status === "number" ? fault.status : undefined;
    switch (fault.kind) {
      case "http5xx":
        return { answer: { status: status ?? 503, text: "<html><body><h1>503 Service Unavailable</h1></body></html>", contentType: "text/html" } };
      case "html":
        return {
          answer: { status: status ?? 200, text: "<!DOCTYPE html><html><head><title>登录</title></head><body>请登录</body></html>", contentType: "text/html" },
        };
      case "throttle409":
        return { answer: { status: 409, json: { error: "请求过于频繁，请稍后再试" } } };
      case "quota50112":
        return { answer: { status: 401, json: { code: "50112", message: "当前应用本月流量已用完" } } };
      case "exsv0011":
        return { answer: { status: status ?? errorStatus(ctx.transport), json: { code: "EXSV0011", message: "服务名不正确" } } };
      case "tooFast14002":
        return { answer: { status: 200, json: { code: "14002", message: "请求太快,稍后重试", result: null } } };
      case "bizError":
        return {
          answer: {
            status: status ?? errorStatus(ctx.transport),
            json: {
              code: typeof fault.code === "string" ? fault.code : "EXBZ0001",
              message: typeof fault.message === "string" ? fault.message : "业务处理失败",
            },
          },
        };
      case "tokenExpired":
        ctx.invalidateToken();
        return {
          answer:
            ctx.transport === "cloud"
              ? { status: 401, json: { code: "50000", message: "openToken无效或已过期" } }
              : refusal("onprem", "EXSM0003", "提供令牌信息不正确"),
        };
      case "timeout":
        return { after: "hold", delayMs: typeof fault.delayMs === "number" ? fault.delayMs : 60_000 };
      case "commitThenTimeout":
        return { after: "hold", delayMs: typeof fault.delayMs === "number" ? fault.delayMs : 60_000 };
      case "commitThen5xx":
        return { after: "5xx", delayMs: 0 };
    }
    return null;
  }

  async function runWithFault(fault: FaultSpec | undefined, ctx: CallContext, work: () => Answer | Promise<Answer>): Promise<Answer> {
    const outcome = preFault(fault, ctx);
    if (outcome && "answer" in outcome) return outcome.answer;
    if (outcome && fault?.kind === "timeout") {
      await hold(ctx.request.signal, outcome.delayMs);
      return { status: 504, text: "Gateway Timeout" };
    }
    const answer = await work();
    if (outcome?.after === "5xx") return { status: 502, text: "<html><body>502 Bad Gateway</body></html>", contentType: "text/html" };
    if (outcome?.after === "hold") await hold(ctx.request.signal, outcome.delayMs);
    return answer;
  }

  // ---- transports ----
  const isDisabled = (resource: string, method: string) => (options.disabledApis ?? []).some((a) => a.toLowerCase() === `${resource}/${method}`.toLowerCase());

  async function handleCloudToken(c: Request, url: URL, entry: RequestLogEntry): Promise<Answer> {
    const key = c.headers.get("appKey") ?? "";
    const secret = c.headers.get("appSecret") ?? "";
    if (!key) return { status: 200, json: { code: "4001", message: "appKey不能为空", result: null } };
    if (!apps.has(key)) return { status: 200, json: { code: "4002", message: "appKey不正确", result: null } };
    if (apps.get(key) !== secret) return { status: 403, json: { code: "50000", message: "系统错误", result: null } };
    const grantType = url.searchParams.get("grantType");
    if (!grantType) return { status: 200, json: { code: "4003", message: "grantType不能为空", result: null } };
    const isRefresh = url.pathname.toLowerCase().endsWith("/refreshtoken");
    const issue = () => {
      const pair = issueCloudTokens(key);
      return {
        status: 200,
        json: {
          code: "200",
          message: "success",
          result: {
            access_token: pair.accessToken,
            refresh_token: pair.refreshToken,
            expires_in: String(tokenTtlMs / 1000),
            refresh_expires_in: String(refreshTtlMs / 1000),
            scope: "auth_all",
            user_id: "60001",
            org_id: orgId,
            app_name: "jst-bridge",
            sid: pair.sid,
          },
        },
      };
    };
    if (isRefresh) {
      if (grantType !== "refresh_token") return { status: 200, json: { code: "4008", message: "不支持的grantType", result: null } };
      const rt = url.searchParams.get("refreshToken") ?? "";
      const record = refreshTokens.get(rt);
      if (!record || record.appKey !== key || record.expiresAt <= now()) {
        entry.code = "4005";
        return { status: 200, json: { code: "4005", message: "refreshToken无效或已过期", result: null } };
      }
      // Rotation: the old refresh token and its access token stop working at once.
      refreshTokens.delete(rt);
      accessTokens.delete(record.accessToken);
      refreshCount++;
      return issue();
    }
    if (grantType !== "authorization_code") return { status: 200, json: { code: "4008", message: "不支持的grantType", result: null } };
    const code = url.searchParams.get("code") ?? "";
    const record = authCodes.get(code);
    if (!url.searchParams.get("redirectUri")) return { status: 200, json: { code: "4006", message: "redirectUri不能为空", result: null } };
    if (!record || record.expiresAt <= now()) return { status: 200, json: { code: "4007", message: "code无效或已过期", result: null } };
    authCodes.delete(code); // single use
    return issue();
  }

  async function handleCloudApi(c: Request, resource: string, method: string, ctx: CallContext, fault: FaultSpec | undefined): Promise<Answer> {
    const key = c.headers.get("appKey") ?? "";
    const secret = c.headers.get("appSecret") ?? "";
    const token = c.headers.get("openToken") ?? "";
    ctx.log.auth = { appKey: key, openToken: token ? "present" : "missing", cookieSid: /(^|;\s*)sid=/.test(c.headers.get("Cookie") ?? "") };
    ctx.invalidateToken = () => {
      const rec = accessTokens.get(token);
      if (rec) accessTokens.set(token, { ...rec, expiresAt: 0 });
    };
    return runWithFault(fault, ctx, async () => {
      if (!apps.has(key) || apps.get(key) !== secret) return { status: 403, json: { code: "50000", message: "系统错误" } };
      const rec = accessTokens.get(token);
      if (!token || !rec || rec.expiresAt <= now()) return { status: 401, json: { code: "50000", message: "系统错误" } };
      if (rec.appKey !== key) return { status: 403, json: { code: "50112", message: "appKey与token不匹配" } };
      if (options.rateLimit) {
        const t = now();
        callTimes = callTimes.filter((x) => x > t - options.rateLimit!.windowMs);
        if (callTimes.length >= options.rateLimit.max) return { status: 409, json: { error: "请求过于频繁，请稍后再试" } };
        callTimes.push(t);
      }
      if (options.monthlyQuota !== undefined && callsThisMonth >= options.monthlyQuota)
        return { status: 401, json: { code: "50112", message: "当前应用本月流量已用完" } };
      callsThisMonth++;
      if (!(c.headers.get("Content-Type") ?? "").toLowerCase().includes("application/json")) {
        return refusal("cloud", "EXVD0001", "Content-Type 必须是 application/json");
      }
      if (isDisabled(resource, method)) {
        return refusal("cloud", "EXSV0011", "服务名不正确");
      }
      let args: unknown;
      const text = await c.text();
      try {
        args = text.trim() === "" ? {} : JSON.parse(text);
      } catch {
        return refusal("cloud", "EXVD0001", "请求体不是合法的 JSON");
      }
      ctx.log.body = summarizeBody(args);
      if (!isObject(args)) return refusal("cloud", "EXVD0001", "请求体必须是 JSON 对象");
      return business(resource, method, args, "cloud") ?? { status: options.unknownPathStatus ?? 404, json: { code: "50000", message: "系统错误" } };
    });
  }

  async function handleOnprem(c: Request, url: URL, resource: string, method: string, ctx: CallContext, fault: FaultSpec | undefined): Promise<Answer> {
    // Bytes, not .text(): workerd warns about reading a form body as text.
    const form = new URLSearchParams(new TextDecoder().decode(await c.arrayBuffer()));
    const rawArgs = form.get("_args");
    let args: unknown = undefined;
    let argsError: string | null = null;
    if (rawArgs === null) argsError = "缺少参数 _args";
    else {
      try {
        args = JSON.parse(rawArgs);
      } catch {
        argsError = "_args 不是合法的 JSON";
      }
    }
    ctx.log.body = summarizeBody(args);
    let presentedToken = "";
    ctx.invalidateToken = () => {
      sessions.delete(presentedToken);
    };
    // Decode first so the tokenExpired fault can invalidate the session it names.
    const authorization = c.headers.get("Authorization") ?? undefined;
    if (!keyRing) return refusal("onprem", "EXSM0001", "emulator: no ISV public key configured (options.publicKey)");
    const check = await verifyOnpremAuthorization(authorization, {
      apps,
      orgId,
      allowEmptyOrgId: (options.onpremOrgId ?? "emptyOrConfigured") === "emptyOrConfigured",
      keys: keyRing,
      acceptRs256: options.acceptRs256 ?? false,
      now,
    });
    if (check.ok) {
      presentedToken = typeof check.auth.claims.access_token === "string" ? check.auth.claims.access_token : "";
      ctx.log.auth = {
        orgId: check.auth.orgId,
        alg: check.auth.alg,
        sub: check.auth.claims.sub,
        accessToken: presentedToken ? "present" : "missing",
        cookieSid: /(^|;\s*)sid=/.test(c.headers.get("Cookie") ?? ""),
      };
    }
    return runWithFault(fault, ctx, () => {
      if (!check.ok) return refusal("onprem", check.code, check.message);
      if (argsError) return refusal("onprem", "EXVD0001", argsError);
      if (!isObject(args)) return refusal("onprem", "EXVD0001", "_args 必须是 JSON 对象");
      if (resource.toLowerCase() === "collaborationapp" && method.toLowerCase() === "getrealnametplustoken") {
        const user = users.find((u) => u.userName === args.userName);
        if (!user || md5Hex(user.password) !== args.password) return refusal("onprem", "EXSM0010", "用户名或密码错误");
        if (user.accNum !== args.accNum) return refusal("onprem", "EXSM0011", "账套不存在或无权登录");
        const accessToken = randomId("tp");
        const sid = randomId("sid");
        sessions.set(accessToken, { userName: user.userName, accNum: user.accNum, sid, expiresAt: now() + sessionTtlMs });
        loginCount++;
        return { status: 200, json: { access_token: accessToken, sid, result: true } };
      }
      const session = sessions.get(presentedToken);
      if (!presentedToken || !session || session.expiresAt <= now()) return refusal("onprem", "EXSM0003", "提供令牌信息不正确");
      if (isDisabled(resource, method)) return refusal("onprem", "EXSV0011", "服务名不正确");
      const answer = business(resource, method, args, "onprem");
      return answer ?? refusal("onprem", "EXSV0011", "服务名不正确");
    });
  }

  // ---- HTTP ----
  const app = new Hono();
  // Every answer's Date header is the emulated server's clock (clients and doctor measure skew from it).
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("Date", new Date(now()).toUTCString());
  });

  app.get("/__emulator/requests", (c) => c.json(log));
  app.delete("/__emulator/requests", (c) => {
    log = [];
    return c.json({ ok: true });
  });
  app.post("/__emulator/faults", async (c) => {
    const body = await c.req.json().catch(() => null);
    const specs = Array.isArray(body) ? body : isObject(body) ? [body] : null;
    if (!specs) return c.json({ error: "body must be an array of fault specs" }, 400);
    try {
      faults.add(specs as FaultSpec[]);
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    return c.json({ ok: true, faults: faults.list() });
  });
  app.delete("/__emulator/faults", (c) => {
    faults.clear();
    return c.json({ ok: true });
  });
  app.post("/__emulator/reset", (c) => {
    reset();
    return c.json({ ok: true });
  });
  app.get("/__emulator/state", (c) => c.json(state()));
  // Test-only: remove a stored voucher (someone deleted it in T+), so reconciliation has something to find.
  app.delete("/__emulator/vouchers/:resource/:externalCode", (c) => c.json({ removed: removeVoucher(c.req.param("resource"), c.req.param("externalCode")) }));

  function removeVoucher(resource: string, externalCode: string): boolean {
    const list = vouchers.get(resource) ?? [];
    const kept = list.filter((v) => v.ExternalCode !== externalCode);
    vouchers.set(resource, kept);
    return kept.length !== list.length;
  }
  app.post("/__emulator/tokens", (c) => c.json(issueCloudTokens()));
  app.post("/__emulator/auth-code", (c) => c.json({ code: issueAuthCode() }));

  function issueAuthCode(): string {
    const code = randomId("code");
    authCodes.set(code, { expiresAt: now() + 10 * 60_000 });
    return code;
  }

  app.all("*", async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const lower = url.pathname.toLowerCase();
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = k === "refreshToken" || k === "code" ? "***" : v;
    const entry: RequestLogEntry = { time: now(), method: req.method, path: url.pathname, transport: "cloud", params, status: 0 };
    log.push(entry);
    const fault = faults.take(url.pathname);
    let answer: Answer;

    if (lower === "/auth/v2/refreshtoken" || lower === "/auth/v2/gettoken") {
      entry.transport = "token";
      const ctx: CallContext = { transport: "cloud", request: req, log: entry, invalidateToken: () => {} };
      answer = await runWithFault(fault, ctx, () => handleCloudToken(req, url, entry));
    } else {
      const match = /^\/tplus\/api\/v2\/([^/]+)\/([^/]+)\/?$/i.exec(url.pathname);
      if (!match) {
        answer = { status: 404, json: { code: "50000", message: "系统错误" } };
      } else if (req.method !== "POST") {
        answer = { status: 405, json: { code: "50000", message: "只支持 POST" } };
      } else {
        const [, resource, method] = match as unknown as [string, string, string];
        const onprem = (req.headers.get("Content-Type") ?? "").toLowerCase().includes("application/x-www-form-urlencoded");
        entry.transport = onprem ? "onprem" : "cloud";
        const ctx: CallContext = { transport: entry.transport as "cloud" | "onprem", request: req, log: entry, invalidateToken: () => {} };
        answer = onprem ? await handleOnprem(req, url, resource, method, ctx, fault) : await handleCloudApi(req, resource, method, ctx, fault);
      }
    }
    entry.status = answer.status;
    if (isObject(answer.json) && typeof answer.json.code === "string" && answer.json.code !== "200") entry.code = answer.json.code;
    return toResponse(answer);
  });

  return {
    app,
    appKey,
    appSecret,
    orgId,
    users,
    state,
    requests: () => log.map((e) => ({ ...e })),
    clearRequests: () => {
      log = [];
    },
    addFaults: (specs: FaultSpec[]) => faults.add(specs),
    clearFaults: () => faults.clear(),
    reset,
    /** A fresh valid cloud token pair (as if the app had just been authorized). */
    issueCloudTokens,
    /** A one-time authorization code for /auth/v2/getToken (valid 10 minutes). */
    issueAuthCode,
    /** Ends every on-prem login session (as a server restart would). */
    invalidateOnpremSessions: () => {
      sessions = new Map();
    },
    /** Answers every held request (commitThenTimeout / timeout) by aborting the hold. */
    releaseHeld: () => {
      for (const h of held) h.abort();
    },
    vouchers: (resource: string) => (vouchers.get(resource) ?? []).map((v) => structuredClone(v)),
    /** Test-only: deletes a stored voucher by ExternalCode; true when one was removed. */
    removeVoucher,
  };
}

export type TplusEmulator = ReturnType<typeof createTplusEmulator>;
