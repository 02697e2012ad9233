/**
 * KIS operations the bridge uses: creating 仓存 bills (app007104), listing and reading them back for idempotency
 * checks and reconciliation, and paging base data (APP006992 Material/List, Stock/List) for reference tables.
 */
import { ConfigError } from "../../errors.ts";
import { KisBadResponseError, KisBusinessError, KisPagingError } from "./errors.ts";
import type { KisCallOptions, KisClient } from "./client.ts";

export const KIS_INVENTORY_APP = "app007104";
export const KIS_BASE_DATA_APP = "APP006992";

/** Bill kinds the writer supports, with their FTranType (doc B4: 10 其他入库 is strong but UNCERTAIN evidence). */
export const KIS_BILL_TYPES = {
  miscellaneousreceipt: { label: "其他入库单", tranType: 10 },
  miscellaneousdelivery: { label: "其他出库单", tranType: 29 },
  purchasereceipt: { label: "外购入库单", tranType: 1 },
} as const;
export type KisBillType = keyof typeof KIS_BILL_TYPES;

export interface KisBillObject {
  Head: Record<string, unknown>;
  Entry: Record<string, unknown>[];
}

export interface KisCreatedBill {
  FID: number;
  FBillNo: string;
}

/** List filter. UNCERTAIN names: KIS documents none for bill lists; the server may ignore any of them. */
export interface KisBillListQuery {
  CurrentPage?: number;
  ItemsOfPage?: number;
  FBillNo?: string;
  /** "YYYY-MM-DD", inclusive, on the bill date (UNCERTAIN). */
  StartDate?: string;
  EndDate?: string;
}

/** A bill list row, flattened: list rows come either flat or as `{Head, Entry}` (S5 sees the latter). */
export interface KisBillRow {
  FID: number | undefined;
  FBillNo: string | undefined;
  Fdate: string | undefined;
  /** Head fields when the row carried them (custom FHeadSelf* fields included), else the flat row. */
  head: Record<string, unknown>;
  entry: Record<string, unknown>[] | undefined;
}

export interface KisPage<T> {
  rows: T[];
  currentPage: number;
  totalPages: number | undefined;
  totalItems: number | undefined;
}

export interface KisMaterial {
  FItemID: number;
  FNumber: string;
  FName: string;
  FUnitID?: number;
  FModel?: string;
  /** Everything else the row carries, custom fields such as F_103 included. */
  [field: string]: unknown;
}

export interface KisStock {
  FItemID: number;
  FNumber: string;
  FName: string;
  [field: string]: unknown;
}

export interface BaseDataQuery {
  SearchKey?: string;
  Ids?: number[];
  StartDate?: string;
  EndDate?: string;
  ParentId?: number;
  Detail?: boolean;
}

export interface PagingOptions {
  /** ItemsOfPage. Default 100. */
  pageSize?: number;
  /** Stop with an error past this many pages instead of looping forever. Default 1000. */
  maxPages?: number;
  /** First CurrentPage to read (a resumed walk). Default 1. */
  startPage?: number;
  signal?: AbortSignal;
}

/** How GetListDetails behaves on this account, learned while reading details (kept across a resumed refresh). */
export interface MaterialDetailState {
  /** GetListDetails is missing: GetDetail per item. */
  perItem?: boolean;
  /** The chunk size last accepted (after halving on refusals). */
  batch?: number;
}

/**
 * A material refresh that may span invocations (Workers Free: 50 subrequests): the pages read, the leaf rows
 * listed and the details read so far. Mutated as the refresh goes, so the caller can save it when the
 * subrequest budget runs out and pass it back next time.
 */
export interface MaterialRefreshProgress {
  nextPage: number;
  listDone: boolean;
  listed: KisMaterial[];
  detailed: KisMaterial[];
  detailState: MaterialDetailState;
}

export function newMaterialRefreshProgress(): MaterialRefreshProgress {
  return { nextPage: 1, listDone: false, listed: [], detailed: [], detailState: {} };
}

/** "app007104/miscellaneousreceipt/create" → its parts; throws for anything else. */
export function parseKisOperation(operation: string): { appId: string; bill: KisBillType; action: string } {
  const m = /^([A-Za-z0-9]+)\/([A-Za-z]+)\/([A-Za-z]+)$/.exec(operation.trim());
  const bill = m?.[2]?.toLowerCase();
  if (!m || m[1]!.toLowerCase() !== KIS_INVENTORY_APP || !bill || !(bill in KIS_BILL_TYPES)) {
    throw new ConfigError(`Unsupported KIS operation "${operation}"`, {
      hint: `Use one of ${Object.keys(KIS_BILL_TYPES)
        .map((b) => `${KIS_INVENTORY_APP}/${b}/create`)
        .join(", ")}.`,
      details: { operation },
    });
  }
  return { appId: KIS_INVENTORY_APP, bill: bill as KisBillType, action: m[3]!.toLowerCase() };
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function dataObject(data: unknown, label: string): Record<string, unknown> {
  const d = obj(data);
  if (!d) throw new KisBadResponseError(200, `KIS ${label} answered without a data object`, { retryable: true });
  return d;
}

/** `{List, TotalPages|TotalPage, TotalItems}` (both spellings seen, S5). */
function pageOf(data: unknown, label: string, currentPage: number): KisPage<Record<string, unknown>> {
  const d = dataObject(data, label);
  const list = d.List ?? d.list ?? d.GoodItemStocks;
  if (list !== undefined && list !== null && !Array.isArray(list)) {
    throw new KisBadResponseError(200, `KIS ${label} answered with a List that is not an array`, { retryable: false });
  }
  const rows = ((list as unknown[] | undefined) ?? []).filter((r): r is Record<string, unknown> => !!obj(r));
  return { rows, currentPage, totalPages: num(d.TotalPages ?? d.TotalPage), totalItems: num(d.TotalItems ?? d.TotalCount) };
}

export function billRow(raw: Record<string, unknown>): KisBillRow {
  const head = obj(raw.Head) ?? raw;
  const entry = Array.isArray(raw.Entry) ? raw.Entry.filter((e): e is Record<string, unknown> => !!obj(e)) : undefined;
  return {
    // The create answer calls the id FID; list rows may call it FInterID (UNCERTAIN).
    FID: num(head.FID ?? head.FInterID ?? raw.FID ?? raw.FInterID),
    FBillNo: text(head.FBillNo ?? raw.FBillNo),
    Fdate: text(head.Fdate ?? head.FDate ?? raw.Fdate ?? raw.FDate),
    head,
    entry,
  };
}

function materialRow(raw: Record<string, unknown>): KisMaterial {
  const id = num(raw.FItemID);
  if (id === undefined) throw new KisBadResponseError(200, "KIS Material/List returned a row without FItemID", { retryable: false });
  const unit = num(raw.FUnitID);
  return { ...raw, FItemID: id, FNumber: text(raw.FNumber) ?? "", FName: text(raw.FName) ?? "", ...(unit !== undefined ? { FUnitID: unit } : {}) };
}

function stockRow(raw: Record<string, unknown>): KisStock {
  const id = num(raw.FItemID ?? raw.FStockID);
  if (id === undefined) throw new KisBadResponseError(200, "KIS Stock/List returned a row without FItemID", { retryable: false });
  return { ...raw, FItemID: id, FNumber: text(raw.FNumber) ?? "", FName: text(raw.FName) ?? "" };
}

/**
 * Walks pages 1..TotalPages exactly once. Guards: a page identical to an earlier one (the server ignored
 * CurrentPage) or a row id seen on an earlier page is an error, and so is running past `maxPages`.
 * Without a page count it stops at the first short or empty page.
 */
export async function* walkPages<T>(
  fetchPage: (page: number, pageSize: number) => Promise<KisPage<T>>,
  idOf: (row: T) => string,
  label: string,
  options: PagingOptions = {},
): AsyncGenerator<T> {
  const pageSize = options.pageSize ?? 100;
  const maxPages = options.maxPages ?? 1000;
  const seenIds = new Map<string, number>();
  const seenPages = new Map<string, number>();
  for (let page = options.startPage ?? 1; ; page++) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (page > maxPages) {
      throw new KisPagingError(`KIS ${label} has more than ${maxPages} pages`, "Raise maxPages (or the page size) for this table, or narrow the query.", {
        maxPages,
        pageSize,
      });
    }
    const result = await fetchPage(page, pageSize);
    const ids = result.rows.map(idOf);
    if (ids.length > 0) {
      const signature = ids.join("\u0001");
      const earlier = seenPages.get(signature);
      if (earlier !== undefined) {
        throw new KisPagingError(
          `KIS ${label} returned the same rows for page ${page} as for page ${earlier}: the server ignored CurrentPage`,
          "The paging parameters are not honoured by this KIS edition; report it with the API name.",
          { page, earlier },
        );
      }
      seenPages.set(signature, page);
      for (const id of ids) {
        const first = seenIds.get(id);
        if (first !== undefined) {
          throw new KisPagingError(
            `KIS ${label} returned row ${id} on page ${page} after page ${first}: the data changed while paging`,
            "Re-run the refresh; rows shifted between pages, so some may have been skipped.",
            { page, first, id },
          );
        }
        seenIds.set(id, page);
      }
    }
    for (const row of result.rows) yield row;
    if (result.rows.length === 0) return;
    if (result.totalPages !== undefined ? page >= result.totalPages : result.rows.length < pageSize) return;
  }
}

/**
 * ItemIds per Material/GetListDetails call. S5 (app/sdk/kis/sync.ts `fetchDetailPages`) splits into chunks of 20;
 * no public source states the server's limit, so we stay at the proven size.
 */
export const KIS_MATERIAL_DETAIL_BATCH = 20;

/** The per-item material API is missing on this account (404 / 接口不存在): try the other one. */
function isMissingApi(error: unknown): boolean {
  return error instanceof KisBusinessError && error.kind === "not_found";
}

export class KisOperations {
  readonly client: KisClient;
  constructor(client: KisClient) {
    this.client = client;
  }

  /** The same operations against another 账套 database (doctor's AccountDB probe). */
  withAccountDb(accountDb: string): KisOperations {
    return new KisOperations(this.client.withAccountDb(accountDb));
  }

  /** `<bill>/create` with `{"Object":{"Head","Entry"}}` → `{FID, FBillNo}`. A single attempt: see KisTarget for retries. */
  async createBill(bill: KisBillType, object: KisBillObject, options: { signal?: AbortSignal } = {}): Promise<KisCreatedBill> {
    const data = await this.client.call(KIS_INVENTORY_APP, `${bill}/create`, { Object: object }, { idempotent: false, ...options });
    const d = dataObject(data, `${bill}/create`);
    const fid = num(d.FID ?? d.FInterID ?? d.Id);
    const billNo = text(d.FBillNo);
    if (fid === undefined || billNo === undefined) {
      // The bill is probably saved: treat as an unknown outcome so the writer checks before any resend.
      throw new KisBadResponseError(200, `KIS ${bill}/create answered success without FID/FBillNo`, { retryable: true });
    }
    return { FID: fid, FBillNo: billNo };
  }

  async listBills(bill: KisBillType, query: KisBillListQuery = {}, options: KisCallOptions = {}): Promise<KisPage<KisBillRow>> {
    const currentPage = query.CurrentPage ?? 1;
    const body: Record<string, unknown> = { CurrentPage: currentPage, ItemsOfPage: query.ItemsOfPage ?? 50 };
    if (query.FBillNo) body.FBillNo = query.FBillNo;
    if (query.StartDate) body.StartDate = query.StartDate;
    if (query.EndDate) body.EndDate = query.EndDate;
    const data = await this.client.call(KIS_INVENTORY_APP, `${bill}/list`, body, { idempotent: true, ...options });
    const page = pageOf(data, `${bill}/list`, currentPage);
    return { ...page, rows: page.rows.map(billRow) };
  }

  /** Every bill matching the query, each page once. */
  bills(bill: KisBillType, query: Omit<KisBillListQuery, "CurrentPage" | "ItemsOfPage"> = {}, options: PagingOptions = {}): AsyncGenerator<KisBillRow> {
    return walkPages(
      (page, size) => this.listBills(bill, { ...query, CurrentPage: page, ItemsOfPage: size }, options.signal ? { signal: options.signal } : {}),
      (r) => (r.FID !== undefined ? `id:${r.FID}` : `no:${r.FBillNo ?? JSON.stringify(r.head)}`),
      `${bill}/list`,
      { pageSize: 50, ...options },
    );
  }

  /** `<bill>/getdetail {Id}` → `{Head, Entry}` (also accepted nested under Object or Data; the nesting is UNCERTAIN). */
  async getBillDetail(bill: KisBillType, fid: number, options: KisCallOptions = {}): Promise<KisBillObject> {
    const data = await this.client.call(KIS_INVENTORY_APP, `${bill}/getdetail`, { Id: fid }, { idempotent: true, ...options });
    const d = dataObject(data, `${bill}/getdetail`);
    const inner = obj(d.Head) ? d : (obj(d.Object) ?? obj(d.Data) ?? d);
    const head = obj(inner.Head);
    if (!head) throw new KisBadResponseError(200, `KIS ${bill}/getdetail answered without Head`, { retryable: false });
    const entry = Array.isArray(inner.Entry) ? inner.Entry.filter((e): e is Record<string, unknown> => !!obj(e)) : [];
    return { Head: head, Entry: entry };
  }

  async listMaterials(page: number, pageSize: number, query: BaseDataQuery = {}, options: KisCallOptions = {}): Promise<KisPage<KisMaterial>> {
    const data = await this.client.call(KIS_BASE_DATA_APP, "Material/List", baseDataBody(page, pageSize, query), { idempotent: true, ...options });
    const p = pageOf(data, "Material/List", page);
    return { ...p, rows: p.rows.map(materialRow) };
  }

  /** Every material (Detail:true leaves by default), each exactly once. The engine fills reference tables from it. */
  materials(query: BaseDataQuery = {}, options: PagingOptions = {}): AsyncGenerator<KisMaterial> {
    return walkPages(
      (page, size) => this.listMaterials(page, size, query, options.signal ? { signal: options.signal } : {}),
      (m) => String(m.FItemID),
      "Material/List",
      options,
    );
  }

  /**
   * Full material records for these FItemIDs. Public clients read only FItemID/FNumber/FName/FParentID from
   * Material/List and get FUnitID/FModel (and any other field) from `Material/GetListDetails {ItemIds}`
   * (S5 app/sdk/kis/sync.ts, answer `data.List`) or per item from `Material/GetDetail` (Weaver HttpJDmaterial,
   * wire-evidence.md §3). GetListDetails goes in chunks of KIS_MATERIAL_DETAIL_BATCH; when the account does not
   * have it, GetDetail {ItemId} one by one.
   */
  async materialDetails(ids: number[], options: KisCallOptions = {}, state: MaterialDetailState = {}): Promise<KisMaterial[]> {
    const out: KisMaterial[] = [];
    // The server's ItemIds limit is not public (S5 sends 20): a refusal halves the chunk, and at one id the rest
    // goes through GetDetail. KIS_MATERIAL_DETAIL_BATCH sets the starting size.
    let batch = Math.max(1, state.batch ?? this.client.config.materialDetailBatch ?? KIS_MATERIAL_DETAIL_BATCH);
    let perItemFrom = state.perItem ? 0 : ids.length;
    let fetched = false;
    for (let i = 0; i < perItemFrom; ) {
      const chunk = ids.slice(i, i + batch);
      try {
        const data = await this.client.call(KIS_BASE_DATA_APP, "Material/GetListDetails", { ItemIds: chunk }, { idempotent: true, ...options });
        const rows = Array.isArray(data) ? data.filter((r): r is Record<string, unknown> => !!obj(r)) : pageOf(data, "Material/GetListDetails", 1).rows;
        out.push(...rows.map(materialRow));
        fetched = true;
        state.batch = batch;
        i += chunk.length;
      } catch (error) {
        if (isMissingApi(error) && !fetched) {
          perItemFrom = i;
          state.perItem = true;
          break;
        }
        if (!(error instanceof KisBusinessError) || error.kind === "account_db" || isMissingApi(error)) throw error;
        if (chunk.length <= 1) {
          perItemFrom = i;
          state.perItem = true;
          break;
        }
        batch = Math.max(1, Math.floor(chunk.length / 2));
      }
    }
    for (const id of ids.slice(perItemFrom)) {
      const data = await this.client.call(KIS_BASE_DATA_APP, "Material/GetDetail", { ItemId: id }, { idempotent: true, ...options });
      const d = dataObject(data, "Material/GetDetail");
      out.push(materialRow(obj(d.Data) ?? obj(d.Object) ?? d));
    }
    return out;
  }

  /**
   * Every leaf material with its details merged over the List row (details win, List fills what they lack), each
   * exactly once. This is what the reference table `kis_materials` holds, so lookups by a custom field
   * (the seed flow's F_103) and FUnitID work whether or not List rows carry them.
   */
  async materialsWithDetails(query: BaseDataQuery = {}, options: PagingOptions = {}): Promise<KisMaterial[]> {
    return this.materialsWithDetailsFrom(newMaterialRefreshProgress(), query, options);
  }

  /**
   * materialsWithDetails continuing from `progress` and recording into it page by page and chunk by chunk, so a
   * refresh cut off by the subrequest budget resumes where it stopped (references.ts keeps the progress).
   */
  async materialsWithDetailsFrom(progress: MaterialRefreshProgress, query: BaseDataQuery = {}, options: PagingOptions = {}): Promise<KisMaterial[]> {
    const call = options.signal ? { signal: options.signal } : {};
    if (!progress.listDone) {
      const known = new Set(progress.listed.map((m) => m.FItemID));
      const pages = walkPages(
        (page, size) => {
          progress.nextPage = page; // rows of the pages before it are all in progress.listed
          return this.listMaterials(page, size, query, call);
        },
        (m) => String(m.FItemID),
        "Material/List",
        { ...options, startPage: progress.nextPage },
      );
      for await (const m of pages) {
        if (m.FDetail === false || known.has(m.FItemID)) continue; // a row that moved to a later page between invocations
        known.add(m.FItemID);
        progress.listed.push(m);
      }
      progress.listDone = true;
    }
    const have = new Set(progress.detailed.map((d) => d.FItemID));
    const pending = progress.listed.map((m) => m.FItemID).filter((id) => !have.has(id));
    // Small slices, so the progress advances by what was read before the budget ran out.
    const slice = Math.max(
      1,
      progress.detailState.perItem ? 10 : (progress.detailState.batch ?? this.client.config.materialDetailBatch ?? KIS_MATERIAL_DETAIL_BATCH),
    );
    for (let i = 0; i < pending.length; i += slice) {
      progress.detailed.push(...(await this.materialDetails(pending.slice(i, i + slice), call, progress.detailState)));
    }
    const details = new Map(progress.detailed.map((d) => [d.FItemID, d] as const));
    return progress.listed.map((m) => ({ ...m, ...details.get(m.FItemID) }));
  }

  async listStocks(page: number, pageSize: number, query: BaseDataQuery = {}, options: KisCallOptions = {}): Promise<KisPage<KisStock>> {
    const data = await this.client.call(KIS_BASE_DATA_APP, "Stock/List", baseDataBody(page, pageSize, query), { idempotent: true, ...options });
    const p = pageOf(data, "Stock/List", page);
    return { ...p, rows: p.rows.map(stockRow) };
  }

  stocks(query: BaseDataQuery = {}, options: PagingOptions = {}): AsyncGenerator<KisStock> {
    return walkPages(
      (page, size) => this.listStocks(page, size, query, options.signal ? { signal: options.signal } : {}),
      (s) => String(s.FItemID),
      "Stock/List",
      options,
    );
  }
}

/** The base-data list body as S6/S8 send it. */
function baseDataBody(page: number, pageSize: number, q: BaseDataQuery): Record<string, unknown> {
  return {
    CurrentPage: page,
    ItemsOfPage: pageSize,
    ParentId: q.ParentId ?? 0,
    Detail: q.Detail ?? true,
    SearchKey: q.SearchKey ?? "",
    Ids: q.Ids ?? [],
    StartDate: q.StartDate ?? "",
    EndDate: q.EndDate ?? "",
  };
}
