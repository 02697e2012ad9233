/**
 * The emulator's own description of the query endpoints (independent of the client's descriptors, so a
 * wrong limit in one is caught by the other) and the evaluation of a `biz`: validation with
 * Jushuitan-shaped parameter errors, filtering, sorting and paging.
 */
import { parseInZone } from "../../../shared/util/time.ts";
import { DAY, type Row, type StoredRow, type TableName } from "./data.ts";

type DateField = "modified" | "io_date" | "created";

export interface EmuEndpoint {
  path: string;
  table: TableName;
  listKey: "datas" | "inventorys";
  maxPageSize: number;
  defaultPageSize: number;
  cursorParam: "start_ts" | "ts" | null;
  /** "with ts, send only the paging params" */
  cursorAlone: boolean;
  /** inventory: "when using ts, omit the time window" */
  cursorForbidsWindow: boolean;
  /** data_count / page_count in the answer */
  totals: boolean;
  /** date_type value → field the window applies to */
  dateTypes: Record<string, DateField>;
  /** JSON-array filters: param → row field, max items */
  arrays: Record<string, { field: string; max: number }>;
  /** comma-string filters */
  commas: Record<string, { field: string; max: number }>;
  /** exact-match scalar filters: param → row field */
  scalars: Record<string, string>;
  /** filters that may replace the time window */
  idParams: string[];
  /** statuses returned when the caller names none (purchasein: Confirmed only) */
  defaultStatuses?: string[];
  statusesParam?: string;
}

const PAGING = ["page_index", "page_size", "is_get_total"];

export const EMU_ENDPOINTS: Record<string, EmuEndpoint> = {
  "/open/other/inout/query": {
    path: "/open/other/inout/query",
    table: "otherInOut",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    cursorParam: "start_ts",
    cursorAlone: true,
    cursorForbidsWindow: true,
    totals: true,
    dateTypes: { "0": "modified", "2": "io_date" },
    arrays: { so_ids: { field: "so_id", max: 50 }, io_ids: { field: "io_id", max: 50 }, types: { field: "type", max: 3 } },
    commas: {},
    scalars: { status: "status", wms_co_id: "wms_co_id" },
    idParams: ["so_ids", "io_ids"],
  },
  "/open/orders/out/simple/query": {
    path: "/open/orders/out/simple/query",
    table: "salesOut",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    cursorParam: "start_ts",
    cursorAlone: false,
    cursorForbidsWindow: false,
    totals: true,
    dateTypes: { "0": "modified", "2": "io_date" },
    arrays: {
      so_ids: { field: "so_id", max: 50 },
      o_ids: { field: "o_id", max: 50 },
      io_ids: { field: "io_id", max: 50 },
      l_ids: { field: "l_id", max: 20 },
    },
    commas: {},
    scalars: { status: "status", wms_co_id: "wms_co_id" },
    idParams: ["so_ids", "o_ids", "io_ids", "l_ids"],
  },
  "/open/purchasein/query": {
    path: "/open/purchasein/query",
    table: "purchaseIn",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    cursorParam: "start_ts",
    cursorAlone: true,
    cursorForbidsWindow: true,
    totals: true,
    dateTypes: { "0": "modified", "2": "io_date" },
    arrays: { po_ids: { field: "po_id", max: 30 }, io_ids: { field: "io_id", max: 30 }, so_ids: { field: "so_id", max: 50 } },
    commas: {},
    scalars: {},
    idParams: ["po_ids", "io_ids", "so_ids"],
    defaultStatuses: ["Confirmed"],
    statusesParam: "statuss",
  },
  "/open/aftersale/received/query": {
    path: "/open/aftersale/received/query",
    table: "aftersaleReceived",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    cursorParam: "start_ts",
    cursorAlone: false,
    cursorForbidsWindow: false,
    totals: true,
    dateTypes: { "0": "modified", "1": "created", "2": "created", "4": "io_date" },
    arrays: {
      so_ids: { field: "so_id", max: 50 },
      o_ids: { field: "o_id", max: 50 },
      as_ids: { field: "as_id", max: 50 },
      io_ids: { field: "io_id", max: 50 },
    },
    commas: {},
    scalars: { shop_id: "shop_id" },
    idParams: ["so_ids", "o_ids", "as_ids", "io_ids"],
  },
  "/open/sku/query": {
    path: "/open/sku/query",
    table: "sku",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    cursorParam: null,
    cursorAlone: false,
    cursorForbidsWindow: false,
    totals: true,
    dateTypes: { "0": "modified" },
    arrays: { i_ids: { field: "i_id", max: 20 } },
    commas: { sku_ids: { field: "sku_id", max: 20 }, sku_codes: { field: "sku_code", max: 20 } },
    scalars: { exactly_name: "name" },
    idParams: ["sku_ids", "i_ids", "sku_codes"],
  },
  "/open/inventory/query": {
    path: "/open/inventory/query",
    table: "inventory",
    listKey: "inventorys",
    maxPageSize: 100,
    defaultPageSize: 30,
    cursorParam: "ts",
    cursorAlone: false,
    cursorForbidsWindow: true,
    totals: false,
    dateTypes: { "0": "modified" },
    arrays: {},
    commas: { sku_ids: { field: "sku_id", max: 100 }, i_ids: { field: "i_id", max: 100 }, names: { field: "name", max: 100 } },
    scalars: {},
    idParams: ["sku_ids"],
  },
};

export interface QueryPlan {
  endpoint: EmuEndpoint;
  pageIndex: number;
  pageSize: number;
  cursor: number | undefined;
  window: { field: DateField; begin: number; end: number } | undefined;
  isGetTotal: boolean;
  /** inventory: the query names a warehouse (per-warehouse rows) or not (totals) */
  warehouse: number | undefined;
  filters: Array<(row: StoredRow) => boolean>;
}

export class QueryError extends Error {}

function fail(msg: string): never {
  throw new QueryError(msg);
}

function intParam(biz: Row, key: string, fallback: number): number {
  const v = biz[key];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n)) fail(`参数不符合规范,请检查传入参数!${key}必须为整数`);
  return n;
}

function fieldOf(s: StoredRow, field: DateField): number {
  return field === "modified" ? s.modifiedMs : field === "io_date" ? s.ioDateMs : s.createdMs;
}

/** Validates `biz` for the endpoint and builds the query; throws QueryError with a Jushuitan-style message. */
export function planQuery(endpoint: EmuEndpoint, biz: Row): QueryPlan {
  const pageIndex = intParam(biz, "page_index", 1);
  const pageSize = intParam(biz, "page_size", endpoint.defaultPageSize);
  if (pageIndex < 1) fail("参数不符合规范,请检查传入参数!page_index必须大于0");
  if (pageSize < 1 || pageSize > endpoint.maxPageSize) {
    fail(`参数不符合规范,请检查传入参数!page_size必须在1到${endpoint.maxPageSize}之间`);
  }

  const filters: QueryPlan["filters"] = [];
  let cursor: number | undefined;
  if (endpoint.cursorParam && biz[endpoint.cursorParam] !== undefined && biz[endpoint.cursorParam] !== null && biz[endpoint.cursorParam] !== "") {
    const c = Number(biz[endpoint.cursorParam]);
    if (!Number.isFinite(c)) fail(`参数不符合规范,请检查传入参数!${endpoint.cursorParam}格式错误`);
    cursor = c;
    if (endpoint.cursorAlone) {
      const others = Object.keys(biz).filter((k) => k !== endpoint.cursorParam && !PAGING.includes(k));
      if (others.length > 0) fail(`参数不符合规范,请检查传入参数!使用${endpoint.cursorParam}查询时只能传分页参数(${others.join(",")})`);
    }
  }

  const begin = biz.modified_begin;
  const end = biz.modified_end;
  let window: QueryPlan["window"];
  if ((begin !== undefined && begin !== "") || (end !== undefined && end !== "")) {
    if (cursor !== undefined && endpoint.cursorForbidsWindow)
      fail(`参数不符合规范,请检查传入参数!使用${endpoint.cursorParam}查询时不能传modified_begin/modified_end`);
    if (typeof begin !== "string" || typeof end !== "string" || !begin || !end) fail("参数不符合规范,请检查传入参数!modified_begin和modified_end必须同时传入");
    const b = parseInZone(begin as string);
    const e = parseInZone(end as string);
    if (b === null || e === null) fail("参数不符合规范,请检查传入参数!时间格式应为yyyy-MM-dd HH:mm:ss");
    if (e! < b!) fail("参数不符合规范,请检查传入参数!modified_end不能小于modified_begin");
    if (e! - b! > 7 * DAY) fail("参数不符合规范,请检查传入参数!modified_begin和modified_end时间间隔不能超过七天");
    const dateParam = String(biz.date_type ?? biz.date_field ?? "0");
    const field = endpoint.dateTypes[dateParam] ?? (dateParam === "created" ? "created" : dateParam === "modified" ? "modified" : undefined);
    if (!field) fail(`参数不符合规范,请检查传入参数!date_type取值无效:${dateParam}`);
    window = { field: field!, begin: b!, end: e! };
    filters.push((s) => fieldOf(s, field!) >= b! && fieldOf(s, field!) <= e!);
  }

  let hasIds = false;
  for (const [param, spec] of Object.entries(endpoint.arrays)) {
    const v = biz[param];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) fail(`参数不符合规范,请检查传入参数!${param}必须为数组`);
    const list = (v as unknown[]).map(String);
    if (list.length > spec.max) fail(`参数不符合规范,请检查传入参数!${param}不能超过${spec.max}个`);
    if (list.length === 0) continue;
    if (endpoint.idParams.includes(param)) hasIds = true;
    const set = new Set(list);
    filters.push((s) => set.has(String(s.row[spec.field])));
  }
  for (const [param, spec] of Object.entries(endpoint.commas)) {
    const v = biz[param];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") fail(`参数不符合规范,请检查传入参数!${param}必须为逗号分隔的字符串`);
    const list = (v as string)
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
    if (list.length > spec.max) fail(`参数不符合规范,请检查传入参数!${param}不能超过${spec.max}个`);
    if (endpoint.idParams.includes(param)) hasIds = true;
    const set = new Set(list);
    filters.push((s) => set.has(String(s.row[spec.field])));
  }
  for (const [param, field] of Object.entries(endpoint.scalars)) {
    const v = biz[param];
    if (v === undefined || v === null || v === "") continue;
    if (param === "wms_co_id" && Number(v) === 0) continue;
    filters.push((s) => String(s.row[field]) === String(v));
  }

  // 销售出库: shop_id=0 together with is_offline_shop=true selects the offline shop.
  if (endpoint.table === "salesOut") {
    const shopId = biz.shop_id;
    const offline = biz.is_offline_shop === true || biz.is_offline_shop === "true";
    if (shopId !== undefined && shopId !== null && shopId !== "") {
      const n = Number(shopId);
      if (!Number.isInteger(n)) fail("参数不符合规范,请检查传入参数!shop_id必须为整数");
      if (n !== 0) filters.push((s) => s.row.shop_id === n);
      else if (offline) filters.push((s) => s.row.shop_id === 0);
    } else if (offline) {
      filters.push((s) => s.row.shop_id === 0);
    }
  }

  if (endpoint.statusesParam) {
    const v = biz[endpoint.statusesParam];
    if (v !== undefined && v !== null && !Array.isArray(v)) fail(`参数不符合规范,请检查传入参数!${endpoint.statusesParam}必须为数组`);
    const list = Array.isArray(v) && v.length > 0 ? v.map(String) : (endpoint.defaultStatuses ?? []);
    if (list.length > 0) {
      const set = new Set(list);
      filters.push((s) => set.has(String(s.row.status)));
    }
  }

  if (!window && !hasIds && cursor === undefined) {
    const alternatives = [...endpoint.idParams, ...(endpoint.cursorParam ? [endpoint.cursorParam] : [])].join("/");
    fail(`参数不符合规范,请检查传入参数!modified_begin、modified_end与${alternatives}不能同时为空`);
  }

  let warehouse: number | undefined;
  if (endpoint.table === "inventory" && biz.wms_co_id !== undefined && Number(biz.wms_co_id) !== 0) warehouse = Number(biz.wms_co_id);

  const isGetTotal = !(biz.is_get_total === false || biz.is_get_total === "false");
  return { endpoint, pageIndex, pageSize, cursor, window, isGetTotal, warehouse, filters };
}

/** Inventory totals across warehouses (what the API answers without wms_co_id): one row per SKU, no wms_co_id. */
export function inventoryTotals(rows: Iterable<StoredRow>): StoredRow[] {
  const bySku = new Map<string, StoredRow>();
  for (const s of rows) {
    const sku = String(s.row.sku_id);
    const prev = bySku.get(sku);
    if (!prev) {
      const { wms_co_id: _omit, ...row } = structuredClone(s.row);
      bySku.set(sku, { ...s, key: sku, row });
      continue;
    }
    for (const [k, v] of Object.entries(s.row)) {
      if (k.endsWith("qty") || k.endsWith("_lock") || k.startsWith("customize_qty")) {
        if (k === "min_qty" || k === "max_qty") continue;
        prev.row[k] = (Number(prev.row[k]) || 0) + (Number(v) || 0);
      }
    }
    if (s.ts > prev.ts) {
      prev.ts = s.ts;
      prev.row.ts = s.ts;
    }
    if (s.modifiedMs > prev.modifiedMs) {
      prev.modifiedMs = s.modifiedMs;
      prev.row.modified = s.row.modified;
    }
  }
  return [...bySku.values()];
}

/** Rows matching the plan (optionally ignoring the cursor), in the endpoint's answer order. */
export function matchRows(plan: QueryPlan, source: StoredRow[], options: { ignoreCursor?: boolean } = {}): StoredRow[] {
  const cursor = options.ignoreCursor ? undefined : plan.cursor;
  const matched = source.filter((s) => (cursor === undefined || s.ts >= cursor) && plan.filters.every((f) => f(s)));
  if (plan.cursor !== undefined) return matched.sort((a, b) => a.ts - b.ts);
  const field = plan.window?.field ?? "modified";
  return matched.sort((a, b) => fieldOf(a, field) - fieldOf(b, field) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The `data` object of the answer for one page. */
export function pageData(plan: QueryPlan, matched: StoredRow[]): Record<string, unknown> {
  const start = (plan.pageIndex - 1) * plan.pageSize;
  const rows = matched.slice(start, start + plan.pageSize).map((s) => structuredClone(s.row));
  const hasNext = start + plan.pageSize < matched.length;
  const data: Record<string, unknown> = { page_index: plan.pageIndex, page_size: plan.pageSize };
  if (plan.endpoint.totals && plan.isGetTotal) {
    data.data_count = matched.length;
    data.page_count = Math.ceil(matched.length / plan.pageSize);
  }
  data.has_next = hasNext;
  data[plan.endpoint.listKey] = rows;
  return data;
}
