/**
 * What QEasy metadata names on the Jushuitan side, as data:
 * - QEasy's 聚水潭 connector names APIs by method (`purchasein.query`, `orders.out.simple.query`) or by
 *   奇门 (Qimen) name (`jushuitan.saleout.list.query`); QEASY_API_NAMES maps every known name to its `/open/…` path.
 * - The documented response fields of each source endpoint (/work/shared/docs/jushuitan-api.md §4, from the
 *   official dev-doc pages via the IEU SDK), so `import-qeasy` can check every template path before a run.
 */

import { editDistance } from "../util/edit-distance.ts";

/** `/open/…` paths the Jushuitan open platform documents (jushuitan-api.md §4, §4.7). */
export const JST_PATHS = [
  "/open/other/inout/query",
  "/open/orders/out/simple/query",
  "/open/purchasein/query",
  "/open/purchaseout/query",
  "/open/aftersale/received/query",
  "/open/refund/single/query",
  "/open/inventory/query",
  "/open/inventory/count/query",
  "/open/sku/query",
  "/open/orders/single/query",
  "/open/shops/query",
  "/open/wms/partner/query",
  "/open/logisticscompany/query",
  "/open/purchase/query",
  "/open/allocate/query",
  "/open/mall/item/query",
  "/open/skumap/query",
  "/open/combine/sku/query",
  "/open/category/query",
] as const;

/**
 * Names QEasy writes in `source.api` besides the path itself. Method names are the path's segments joined by
 * dots (QEasy's 聚水潭 connector: `purchasein.query`, `orders.out.simple.query`, `inventory.count.query`);
 * 奇门 names are listed one by one (the Qimen gateway names them by document, not by path).
 */
export const QEASY_API_NAMES: Readonly<Record<string, string>> = Object.freeze({
  ...Object.fromEntries(JST_PATHS.map((p) => [p.replace(/^\/open\//, "").replaceAll("/", "."), p])),
  // 奇门 (Qimen) names of the same queries.
  "jushuitan.saleout.list.query": "/open/orders/out/simple/query",
  "jushuitan.orders.out.simple.query": "/open/orders/out/simple/query",
  "jushuitan.otherinout.list.query": "/open/other/inout/query",
  "jushuitan.purchasein.list.query": "/open/purchasein/query",
  "jushuitan.purchaseout.list.query": "/open/purchaseout/query",
  "jushuitan.aftersale.received.list.query": "/open/aftersale/received/query",
  "jushuitan.refund.list.query": "/open/refund/single/query",
  "jushuitan.order.list.query": "/open/orders/single/query",
  "jushuitan.inventory.list.query": "/open/inventory/query",
  "jushuitan.inventory.count.list.query": "/open/inventory/count/query",
  "jushuitan.sku.list.query": "/open/sku/query",
  // Other spellings seen in QEasy schemes.
  // QEasy docs write source.api "purchasein.query" (https://github.com/qeasy-cloud/datahub/blob/871d0b7/docs/advanced/advanced-query.md)
  // and "inventory.query" (docs/advanced/data-diff-sync.md): the path segments joined by dots, as derived above.
  "orders.out.query": "/open/orders/out/simple/query",
  // QEasy's chain-trigger example reads orders with "orders.query" (docs/advanced/chain-trigger.md): 订单查询.
  "orders.query": "/open/orders/single/query",
  "saleout.query": "/open/orders/out/simple/query",
  "otherinout.query": "/open/other/inout/query",
});

export type ApiResolution = { path: string; from?: string; near?: string } | { path: null; suggestion: string | null };

/**
 * Resolves QEasy's `source.api`: an `/open/…` path is kept, a method or 奇门 name is mapped (case-insensitive,
 * `/` or `.` separated); an unknown name gets the nearest known name and its endpoint.
 */
export function resolveJstApi(api: string): ApiResolution {
  const raw = api.trim();
  if (/^\/open\/[a-z0-9_/]+$/i.test(raw)) {
    // Unknown paths are allowed (the catalog is not every endpoint), but a near miss of a known one is named.
    const known = new Set([...Object.values(QEASY_API_NAMES), ...Object.keys(DOCUMENTED_FIELDS)]);
    if (known.has(raw)) return { path: raw };
    let near: string | undefined;
    let nearD = 3;
    for (const p of known) {
      const d = editDistance(raw.toLowerCase(), p.toLowerCase());
      if (d < nearD) {
        nearD = d;
        near = p;
      }
    }
    return near ? { path: raw, near } : { path: raw };
  }
  const key = raw.replace(/^\/+/, "").replace(/\//g, ".").toLowerCase();
  const hit = QEASY_API_NAMES[key];
  if (hit) return { path: hit, from: raw };
  let best: string | null = null;
  let bestD = Infinity;
  for (const name of Object.keys(QEASY_API_NAMES)) {
    const d = editDistance(key, name);
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  // Only near misses (typos) get a suggestion: another system's name ("oms.order.query") must not be steered to a Jushuitan one.
  return { path: null, suggestion: best && bestD <= Math.max(2, Math.floor(key.length / 5)) ? best : null };
}

export interface DocumentedFields {
  header: readonly string[];
  /** Detail arrays and the fields of their lines. */
  arrays: Readonly<Record<string, readonly string[]>>;
}

const RECEIVER = [
  "receiver_name",
  "receiver_mobile",
  "receiver_phone",
  "receiver_country",
  "receiver_state",
  "receiver_city",
  "receiver_district",
  "receiver_town",
  "receiver_address",
];
const BATCHS = ["batch_no", "ioi_id", "sku_id", "qty", "product_date", "supplier_id", "supplier_name", "expiration_date", "status"];
const SNS = ["sku_id", "sn", "is_pack_sn", "is_opened", "pack_sn"];

/** Documented response fields per endpoint (jushuitan-api.md §4.1–4.6). Endpoints not listed are not checked. */
export const DOCUMENTED_FIELDS: Readonly<Record<string, DocumentedFields>> = {
  "/open/other/inout/query": {
    header: [
      "io_id",
      "io_date",
      "status",
      "so_id",
      "type",
      "f_status",
      "warehouse",
      "wh_id",
      "wms_co_id",
      "remark",
      "modified",
      "created",
      "labels",
      "creator_name",
      "wave_id",
      "drop_co_name",
      "inout_user",
      "l_id",
      "lc_id",
      "logistics_company",
      "lock_wh_id",
      "lock_wh_name",
      "ts",
      ...RECEIVER,
    ],
    arrays: {
      items: [
        "ioi_id",
        "sku_id",
        "name",
        "unit",
        "properties_value",
        "qty",
        "cost_price",
        "cost_amount",
        "i_id",
        "remark",
        "io_id",
        "sale_price",
        "sale_amount",
        "batch_id",
        "product_date",
        "supplier_id",
        "expiration_date",
      ],
      batchs: BATCHS,
      sns: SNS,
    },
  },
  "/open/orders/out/simple/query": {
    header: [
      "co_id",
      "shop_id",
      "io_id",
      "o_id",
      "so_id",
      "created",
      "modified",
      "status",
      "order_type",
      "invoice_title",
      "shop_buyer_id",
      "open_id",
      "buyer_message",
      "remark",
      "is_cod",
      "pay_amount",
      "l_id",
      "io_date",
      "lc_id",
      "stock_enabled",
      "drp_co_id_from",
      "labels",
      "paid_amount",
      "free_amount",
      "freight",
      "weight",
      "f_weight",
      "merge_so_id",
      "wms_co_id",
      "business_staff",
      "currency",
      "pay_date",
      "logistics_company",
      "wave_id",
      "seller_flag",
      "order_staff_id",
      "order_staff_name",
      "node",
      "is_print_express",
      "is_print",
      "shop_name",
      "ts",
      "shipment",
      "deliver_name",
      "channel_name",
      "tracking_number",
      "package_no",
      "warehouse_oid",
      "cb_finance",
      "ClusterInfos",
      ...RECEIVER,
    ],
    arrays: {
      items: [
        "ioi_id",
        "pic",
        "sku_id",
        "qty",
        "name",
        "properties_value",
        "sale_price",
        "oi_id",
        "sale_amount",
        "i_id",
        "unit",
        "sale_base_price",
        "combine_sku_id",
        "is_gift",
        "outer_oi_id",
        "raw_so_id",
        "batch_id",
        "product_date",
        "supplier_id",
        "expiration_date",
      ],
      batchs: BATCHS,
      sns: SNS,
    },
  },
  "/open/purchasein/query": {
    header: [
      "io_id",
      "ts",
      "warehouse",
      "po_id",
      "supplier_id",
      "supplier_name",
      "modified",
      "so_id",
      "out_io_id",
      "status",
      "io_date",
      "wh_id",
      "wms_co_id",
      "remark",
      "tax_rate",
      "labels",
      "archived",
      "merge_so_id",
      "type",
      "creator_name",
      "f_status",
      "l_id",
      "lock_wh_id",
      "lock_wh_name",
    ],
    arrays: {
      items: ["ioi_id", "sku_id", "i_id", "unit", "name", "qty", "io_id", "cost_price", "cost_amount", "remark", "batch_no", "tax_rate"],
      batchs: BATCHS,
      sns: SNS,
    },
  },
  "/open/aftersale/received/query": {
    header: [
      "io_id",
      "o_id",
      "so_id",
      "as_id",
      "l_id",
      "logistics_company",
      "creator",
      "creator_name",
      "io_date",
      "warehouse",
      "modified",
      "lc_id",
      "shop_id",
      "aftersale_remark",
      "ts",
      "status",
      "wh_id",
      "wms_co_id",
      "drp_co_name",
      "drp_co_id_to",
      "type",
    ],
    arrays: { items: ["io_id", "sku_id", "i_id", "unit", "qty", "name", "properties_value", "sale_price", "sale_amount", "ioi_id"], batchs: BATCHS, sns: SNS },
  },
  "/open/sku/query": {
    header: [
      "sku_id",
      "i_id",
      "name",
      "short_name",
      "sale_price",
      "cost_price",
      "properties_value",
      "color",
      "c_id",
      "category",
      "pic_big",
      "pic",
      "enabled",
      "weight",
      "market_price",
      "brand",
      "supplier_id",
      "supplier_name",
      "modified",
      "sku_code",
      "supplier_sku_id",
      "supplier_i_id",
      "vc_name",
      "sku_type",
      "creator",
      "created",
      "remark",
      "item_type",
      "stock_disabled",
      "unit",
      "shelf_life",
      "labels",
      "production_licence",
      "l",
      "w",
      "h",
      "is_series_number",
      ...Array.from({ length: 10 }, (_, i) => `other_price_${i + 1}`),
      ...Array.from({ length: 10 }, (_, i) => `other_${i + 1}`),
      "stock_type",
      "sku_codes",
      "autoid",
      "batch_enabled",
    ],
    arrays: {},
  },
  "/open/inventory/query": {
    header: [
      "sku_id",
      "ts",
      "i_id",
      "qty",
      "order_lock",
      "pick_lock",
      "virtual_qty",
      "purchase_qty",
      "return_qty",
      "in_qty",
      "defective_qty",
      "modified",
      "min_qty",
      "max_qty",
      "lock_qty",
      "name",
      "customize_qty_1",
      "customize_qty_2",
      "customize_qty_3",
      "allocate_qty",
      "sale_refund_qty",
      "wms_co_id",
    ],
    arrays: {},
  },
};
