/**
 * Deterministic, realistic Jushuitan data for the emulator, built from the shared catalog so a sku_id
 * here is the same material in the T+ and KIS emulators. Every row carries the wire fields of the
 * official response (snake_case, Asia/Shanghai text times, some with milliseconds) and a rowversion `ts`.
 */
import { SHOPS, SKUS, WAREHOUSES, seededRandom, type CatalogSku } from "../catalog.ts";
import { formatInZone } from "../../../shared/util/time.ts";

export type Row = Record<string, unknown>;

/** A stored row with the numbers the emulator filters and sorts on. */
export interface StoredRow {
  key: string;
  row: Row;
  modifiedMs: number;
  ioDateMs: number;
  createdMs: number;
  ts: number;
}

export type TableName = "otherInOut" | "salesOut" | "purchaseIn" | "aftersaleReceived" | "sku" | "inventory";

export const DAY = 86_400_000;

export function formatTime(ms: number, withMillis = false): string {
  return formatInZone(ms, withMillis ? "YYYY-MM-DD HH:mm:ss.SSS" : "YYYY-MM-DD HH:mm:ss");
}

/** Rowversion source shared by all tables, as in one SQL Server database. */
export class RowVersion {
  private value: number;
  constructor(start: number) {
    this.value = start;
  }
  next(): number {
    this.value += 1 + (this.value % 3); // gaps, as real rowversions have
    return this.value;
  }
}

interface Ctx {
  rand: () => number;
  from: number;
  to: number;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function weighted<T>(rand: () => number, items: ReadonlyArray<readonly [T, number]>): T {
  let r = rand() * items.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of items) {
    r -= w;
    if (r < 0) return v;
  }
  return items[items.length - 1]![0];
}

const money = (n: number) => Math.round(n * 100) / 100;

const NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴昊"];
const CITIES = [
  ["浙江省", "杭州市", "西湖区"],
  ["广东省", "广州市", "天河区"],
  ["江苏省", "南京市", "鼓楼区"],
  ["上海", "上海市", "浦东新区"],
  ["四川省", "成都市", "武侯区"],
] as const;
const CARRIERS = [
  ["顺丰速运", "SF"],
  ["中通快递", "ZTO"],
  ["圆通速递", "YTO"],
  ["韵达快递", "YUNDA"],
] as const;
const SUPPLIERS = [
  { id: 3001, name: "绍兴柯桥纺织有限公司" },
  { id: 3002, name: "义乌小商品供应链" },
  { id: 3003, name: "广州白马服装批发" },
];

/** Instants spread over [from, to - 1 s], ascending; about a third carry milliseconds. */
function instants(ctx: Ctx, n: number): Array<{ ms: number; withMillis: boolean }> {
  const span = Math.max(1000, ctx.to - ctx.from - 1000);
  const out = [];
  for (let i = 0; i < n; i++) {
    const withMillis = ctx.rand() < 0.35;
    let ms = ctx.from + Math.floor(ctx.rand() * span);
    if (!withMillis) ms = Math.floor(ms / 1000) * 1000;
    out.push({ ms, withMillis });
  }
  return out.sort((a, b) => a.ms - b.ms);
}

function items(ctx: Ctx, ioId: number, firstItemId: number, kind: "cost" | "sale" | "return"): Row[] {
  const lines = 1 + Math.floor(ctx.rand() * 4);
  const chosen = new Set<CatalogSku>();
  while (chosen.size < lines) chosen.add(pick(ctx.rand, SKUS));
  return [...chosen].map((sku, i) => {
    const qty = 1 + Math.floor(ctx.rand() * (kind === "cost" ? 40 : 5));
    const base: Row = {
      ioi_id: firstItemId + i,
      io_id: ioId,
      sku_id: sku.skuId,
      i_id: sku.itemId,
      name: sku.name,
      properties_value: sku.propertiesValue,
      unit: sku.unit,
      qty,
    };
    if (kind === "cost") {
      return {
        ...base,
        cost_price: sku.costPrice,
        cost_amount: money(sku.costPrice * qty),
        sale_price: sku.salePrice,
        sale_amount: money(sku.salePrice * qty),
        remark: "",
      };
    }
    const discount =
      kind === "sale"
        ? weighted(ctx.rand, [
            [1, 6],
            [0.9, 2],
            [0.8, 1],
          ] as const)
        : 1;
    const price = money(sku.salePrice * discount);
    return { ...base, sale_price: price, sale_amount: money(price * qty), sale_base_price: sku.salePrice };
  });
}

function receiver(rand: () => number): Row {
  const [state, city, district] = pick(rand, CITIES);
  const name = pick(rand, NAMES);
  return {
    receiver_state: state,
    receiver_city: city,
    receiver_district: district,
    receiver_address: `${district}文一西路${100 + Math.floor(rand() * 800)}号`,
    receiver_name: `${name.slice(0, 1)}**`,
    receiver_mobile: `1${3 + Math.floor(rand() * 6)}*******${String(Math.floor(rand() * 100)).padStart(2, "0")}`,
  };
}

export interface GeneratedTables {
  tables: Record<TableName, Map<string, StoredRow>>;
  rowVersion: RowVersion;
}

export interface GenerateOptions {
  seed: number;
  from: number;
  to: number;
  counts: Record<TableName, number>;
}

export function generateTables(options: GenerateOptions): GeneratedTables {
  const rand = seededRandom(options.seed);
  const ctx: Ctx = { rand, from: options.from, to: options.to };
  const rowVersion = new RowVersion(2_800_000_000 + Math.floor(rand() * 1_000_000));
  const tables = {
    otherInOut: new Map(),
    salesOut: new Map(),
    purchaseIn: new Map(),
    aftersaleReceived: new Map(),
    sku: new Map(),
    inventory: new Map(),
  } as Record<TableName, Map<string, StoredRow>>;

  const put = (table: TableName, key: string, row: Row, modified: { ms: number; withMillis: boolean }, ioDateMs: number, createdMs: number) => {
    const ts = rowVersion.next();
    row.modified = formatTime(modified.ms, modified.withMillis);
    row.ts = ts;
    tables[table].set(key, { key, row, modifiedMs: modified.ms, ioDateMs, createdMs, ts });
  };

  // 其它出入库
  instants(ctx, options.counts.otherInOut).forEach((m, i) => {
    const ioId = 2_100_000 + i * 3 + Math.floor(rand() * 3);
    const type = weighted(rand, [
      ["其它进仓", 5],
      ["其它出库", 4],
      ["其它退货", 1],
    ] as const);
    const wh = pick(rand, WAREHOUSES);
    const ioDate = m.ms - Math.floor(rand() * 2 * DAY);
    const created = ioDate - Math.floor(rand() * 6 * 3_600_000);
    const status = weighted(rand, [
      ["Confirmed", 80],
      ["WaitConfirm", 10],
      ["Cancelled", 5],
      ["Delete", 5],
    ] as const);
    const row: Row = {
      io_id: ioId,
      io_date: formatTime(ioDate, rand() < 0.3),
      status,
      so_id: `QT${formatInZone(created, "YYYYMMDD")}${String(i).padStart(5, "0")}`,
      type,
      f_status: status === "Confirmed" ? "WaitConfirm" : "Archive",
      warehouse: wh.jstName,
      wh_id: type === "其它退货" ? 2 : 1,
      wms_co_id: wh.jstWmsCoId,
      remark: pick(rand, ["", "盘盈入库", "样品领用", "展会借出归还", "报损出库"]),
      created: formatTime(created),
      labels: "",
      creator_name: pick(rand, NAMES),
      drop_co_name: type === "其它进仓" ? "" : pick(rand, ["样品出库", "报损", "内部领用"]),
      lock_wh_id: 0,
      lock_wh_name: "",
      items: items(ctx, ioId, ioId * 10, "cost"),
      batchs: [],
      sns: [],
    };
    put("otherInOut", String(ioId), row, m, ioDate, created);
  });

  // 销售出库
  instants(ctx, options.counts.salesOut).forEach((m, i) => {
    const ioId = 5_300_000 + i * 2 + Math.floor(rand() * 2);
    const shop = weighted(
      rand,
      SHOPS.map((s) => [s, s.offline ? 4 : 3] as const),
    );
    const wh = pick(rand, WAREHOUSES.slice(0, 2));
    const ioDate = m.ms - Math.floor(rand() * DAY);
    const created = ioDate - Math.floor(rand() * 2 * DAY);
    const [carrier, lcId] = pick(rand, CARRIERS);
    const lines = items(ctx, ioId, ioId * 10, "sale");
    const amount = money(lines.reduce((s, l) => s + (l.sale_amount as number), 0));
    const soId = shop.offline
      ? `MD${formatInZone(created, "YYYYMMDD")}${String(i).padStart(4, "0")}`
      : `${shop.shopId === 16800101 ? "" : "DY"}${3_000_000_000_000_000 + i * 7919}`;
    const row: Row = {
      co_id: 10_174_711,
      shop_id: shop.shopId,
      shop_name: shop.name,
      io_id: ioId,
      o_id: 8_800_000 + i,
      so_id: soId,
      created: formatTime(created),
      status: weighted(rand, [
        ["Confirmed", 85],
        ["WaitConfirm", 8],
        ["Cancelled", 4],
        ["Delete", 3],
      ] as const),
      order_type: shop.offline ? "线下订单" : "普通订单",
      io_date: formatTime(ioDate, rand() < 0.3),
      pay_amount: amount,
      paid_amount: amount,
      freight: shop.offline ? 0 : pick(rand, [0, 0, 8, 12]),
      weight: money(lines.length * 0.35),
      wms_co_id: wh.jstWmsCoId,
      logistics_company: shop.offline ? "" : carrier,
      lc_id: shop.offline ? "" : lcId,
      l_id: shop.offline ? "" : `${lcId}${7_000_000_000 + i}`,
      is_cod: false,
      buyer_message: pick(rand, ["", "", "请尽快发货", "不要放快递柜"]),
      remark: shop.offline ? pick(rand, ["门店自提", "门店零售", "会员日活动"]) : "",
      ...(shop.offline ? { receiver_name: "门店顾客" } : receiver(rand)),
      ts: 0,
      items: lines,
      batchs: [],
      sns: [],
    };
    put("salesOut", String(ioId), row, m, ioDate, created);
  });

  // 采购入库
  instants(ctx, options.counts.purchaseIn).forEach((m, i) => {
    const ioId = 7_700_000 + i;
    const wh = pick(rand, WAREHOUSES.slice(0, 2));
    const supplier = pick(rand, SUPPLIERS);
    const ioDate = m.ms - Math.floor(rand() * DAY);
    const created = ioDate - Math.floor(rand() * DAY);
    const status = weighted(rand, [
      ["Confirmed", 85],
      ["WaitConfirm", 10],
      ["Cancelled", 5],
    ] as const);
    const row: Row = {
      io_id: ioId,
      po_id: 660_000 + Math.floor(i / 2),
      supplier_id: supplier.id,
      supplier_name: supplier.name,
      so_id: "",
      out_io_id: "",
      status,
      io_date: formatTime(ioDate, rand() < 0.3),
      warehouse: wh.jstName,
      wh_id: 1,
      wms_co_id: wh.jstWmsCoId,
      remark: pick(rand, ["", "首批到货", "补货"]),
      tax_rate: 13,
      labels: "",
      archived: false,
      type: "采购进仓",
      creator_name: pick(rand, NAMES),
      f_status: status === "Confirmed" ? "Confirmed" : "WaitConfirm",
      l_id: "",
      items: items(ctx, ioId, ioId * 10, "cost").map((l) => ({ ...l, batch_no: "", tax_rate: 13 })),
      batchs: [],
      sns: [],
    };
    put("purchaseIn", String(ioId), row, m, ioDate, created);
  });

  // 售后实际收货（退货入库）
  instants(ctx, options.counts.aftersaleReceived).forEach((m, i) => {
    const ioId = 9_100_000 + i;
    const shop = pick(rand, SHOPS);
    const ioDate = m.ms - Math.floor(rand() * DAY);
    const created = ioDate - Math.floor(rand() * 3 * DAY);
    const [carrier, lcId] = pick(rand, CARRIERS);
    const row: Row = {
      io_id: ioId,
      o_id: 8_800_000 + Math.floor(rand() * 100_000),
      so_id: `${3_000_000_000_000_000 + i * 104_729}`,
      as_id: 4_400_000 + i,
      l_id: `${lcId}${8_000_000_000 + i}`,
      logistics_company: carrier,
      lc_id: lcId,
      creator: 1001,
      creator_name: pick(rand, NAMES),
      io_date: formatTime(ioDate, rand() < 0.3),
      warehouse: WAREHOUSES[2]!.jstName,
      wh_id: 2,
      wms_co_id: WAREHOUSES[2]!.jstWmsCoId,
      shop_id: shop.shopId,
      aftersale_remark: pick(rand, ["", "尺码不合适", "七天无理由", "质量问题"]),
      status: weighted(rand, [
        ["Confirmed", 80],
        ["WaitConfirm", 15],
        ["Cancelled", 5],
      ] as const),
      type: weighted(rand, [
        ["普通退货", 7],
        ["拒收退货", 1],
        ["换货", 2],
      ] as const),
      drp_co_name: "",
      items: items(ctx, ioId, ioId * 10, "return"),
      batchs: [],
      sns: [],
    };
    put("aftersaleReceived", String(ioId), row, m, ioDate, created);
  });

  // 商品资料（按 SKU）
  const skuTimes = instants(ctx, Math.min(options.counts.sku, SKUS.length));
  SKUS.slice(0, skuTimes.length).forEach((sku, i) => {
    const m = skuTimes[i]!;
    const created = m.ms - Math.floor(rand() * 90 * DAY);
    const row: Row = {
      sku_id: sku.skuId,
      i_id: sku.itemId,
      name: sku.name,
      short_name: sku.name.split(" ")[0],
      sale_price: sku.salePrice,
      cost_price: sku.costPrice,
      properties_value: sku.propertiesValue,
      color: sku.propertiesValue.split(";")[0],
      category: "服装配饰",
      enabled: 1,
      weight: 0.3,
      market_price: money(sku.salePrice * 1.5),
      brand: "桥木",
      supplier_id: SUPPLIERS[0]!.id,
      supplier_name: SUPPLIERS[0]!.name,
      sku_code: `69${String(1_000_000_000 + i * 37)}`,
      unit: sku.unit,
      created: formatTime(created),
      creator: "系统管理员",
      remark: "",
      item_type: "成品",
      stock_disabled: 0,
    };
    put("sku", sku.skuId, row, m, m.ms, created);
  });

  // 库存（按仓）: one row per SKU and warehouse; totals are summed when the query has no wms_co_id.
  const inventorySkus = SKUS.slice(0, Math.min(options.counts.inventory, SKUS.length));
  const invTimes = instants(ctx, inventorySkus.length * WAREHOUSES.length);
  let t = 0;
  for (const sku of inventorySkus) {
    for (const wh of WAREHOUSES) {
      const m = invTimes[t++]!;
      const qty = Math.floor(rand() * 500);
      const row: Row = {
        sku_id: sku.skuId,
        i_id: sku.itemId,
        name: sku.name,
        wms_co_id: wh.jstWmsCoId,
        qty,
        order_lock: Math.floor(rand() * Math.min(qty, 20)),
        pick_lock: 0,
        virtual_qty: 0,
        purchase_qty: Math.floor(rand() * 50),
        return_qty: Math.floor(rand() * 5),
        in_qty: 0,
        defective_qty: wh.jstName === "退货仓" ? Math.floor(rand() * 5) : 0,
        min_qty: 10,
        max_qty: 800,
        lock_qty: 0,
        allocate_qty: 0,
        sale_refund_qty: 0,
        customize_qty_1: 0,
        customize_qty_2: 0,
        customize_qty_3: 0,
      };
      put("inventory", `${sku.skuId}@${wh.jstWmsCoId}`, row, m, m.ms, m.ms);
    }
  }

  return { tables, rowVersion };
}
