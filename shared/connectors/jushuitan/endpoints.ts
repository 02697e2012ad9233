/**
 * Jushuitan query endpoints as data (docs: /work/shared/docs/jushuitan-api.md §4). The client's paging
 * is generic over these descriptors; every limit here is the documented default.
 */

export interface JstCursorSpec {
  /** Name of the rowversion cursor in `biz`: `start_ts` on document queries, `ts` on inventory. */
  param: "start_ts" | "ts";
  /** The docs say "with ts, send only the paging params" (no other filter at all). */
  alone: boolean;
}

export interface JstEndpoint {
  path: string;
  /** Human name (Chinese name of the official doc page). */
  title: string;
  /** Key of the row array inside `data`. */
  listKey: "datas" | "inventorys";
  maxPageSize: number;
  defaultPageSize: number;
  /** `modified_begin`..`modified_end` may not span more than this. */
  maxWindowDays: number;
  /** Field that identifies a row (for de-duplication across overlapping windows and cursor pages). */
  idField: string;
  /** Field the time window filters on by default (`date_type` can switch some endpoints to `io_date`). */
  modifiedField: string;
  /** Rowversion cursor support, or null when the endpoint has none. */
  cursor: JstCursorSpec | null;
  /** Whether `is_get_total=false` is accepted (recommended together with the cursor). */
  acceptsIsGetTotal: boolean;
  /** Parameters sent as JSON arrays. */
  arrayParams: readonly string[];
  /** Parameters sent as one comma-separated string. */
  commaParams: readonly string[];
  /** Whether the answer carries `data_count` / `page_count`. */
  hasDataCount: boolean;
}

export const JST_ENDPOINTS = {
  otherInOut: {
    path: "/open/other/inout/query",
    title: "其它出入库查询",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "io_id",
    modifiedField: "modified",
    cursor: { param: "start_ts", alone: true },
    acceptsIsGetTotal: false,
    arrayParams: ["so_ids", "io_ids", "types"],
    commaParams: [],
    hasDataCount: true,
  },
  salesOut: {
    path: "/open/orders/out/simple/query",
    title: "销售出库查询",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "io_id",
    modifiedField: "modified",
    // Whether start_ts combines with a window is UNCERTAIN; the client sends the other filters with it.
    cursor: { param: "start_ts", alone: false },
    acceptsIsGetTotal: true,
    arrayParams: ["so_ids", "o_ids", "io_ids", "l_ids", "wave_ids", "InoutFlds", "InoutItemFlds"],
    commaParams: [],
    hasDataCount: true,
  },
  purchaseIn: {
    path: "/open/purchasein/query",
    title: "采购入库查询",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "io_id",
    modifiedField: "modified",
    cursor: { param: "start_ts", alone: true },
    acceptsIsGetTotal: true,
    arrayParams: ["po_ids", "io_ids", "so_ids", "statuss"],
    commaParams: [],
    hasDataCount: true,
  },
  aftersaleReceived: {
    path: "/open/aftersale/received/query",
    title: "实际收货查询",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "io_id",
    modifiedField: "modified",
    cursor: { param: "start_ts", alone: false },
    acceptsIsGetTotal: false,
    arrayParams: ["so_ids", "o_ids", "as_ids", "io_ids"],
    commaParams: [],
    hasDataCount: true,
  },
  sku: {
    path: "/open/sku/query",
    title: "普通商品资料查询（按sku查询）",
    listKey: "datas",
    maxPageSize: 50,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "sku_id",
    modifiedField: "modified",
    cursor: null,
    acceptsIsGetTotal: false,
    arrayParams: ["i_ids"],
    commaParams: ["sku_ids", "sku_codes"],
    hasDataCount: true,
  },
  inventory: {
    path: "/open/inventory/query",
    title: "商品库存查询",
    listKey: "inventorys",
    maxPageSize: 100,
    defaultPageSize: 30,
    maxWindowDays: 7,
    idField: "sku_id",
    modifiedField: "modified",
    // With `ts` the window must be omitted; other filters (wms_co_id) stay.
    cursor: { param: "ts", alone: false },
    acceptsIsGetTotal: false,
    arrayParams: [],
    commaParams: ["sku_ids", "i_ids", "names"],
    hasDataCount: false,
  },
} as const satisfies Record<string, JstEndpoint>;

export type JstEndpointName = keyof typeof JST_ENDPOINTS;
export type JstEndpointPath = (typeof JST_ENDPOINTS)[JstEndpointName]["path"];

const BY_PATH = new Map<string, JstEndpoint>(Object.values(JST_ENDPOINTS).map((e) => [e.path, e]));

/** The descriptor for a path, or undefined for paths the client only supports through raw `call`. */
export function endpointByPath(path: string): JstEndpoint | undefined {
  return BY_PATH.get(path);
}
