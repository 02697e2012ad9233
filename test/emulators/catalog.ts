/**
 * Master data shared by the three emulators so an end-to-end sync lines up:
 * a Jushuitan sku_id is a T+ Inventory Code and the KIS material's custom field F_103
 * (the seed flow's lookup key). Deterministic: the same every run.
 */

export interface CatalogSku {
  skuId: string;
  itemId: string; // Jushuitan i_id (style code)
  name: string;
  propertiesValue: string;
  unit: string;
  salePrice: number;
  costPrice: number;
  kisItemId: number; // KIS FItemID
  kisNumber: string; // KIS FNumber
  kisUnitId: number; // KIS FUnitID
}

export interface CatalogWarehouse {
  jstWmsCoId: number;
  jstName: string;
  tplusCode: string;
  kisStockId: number; // KIS FItemID of the Stock
  kisNumber: string;
}

export interface CatalogShop {
  shopId: number;
  name: string;
  offline: boolean;
}

const STYLES = [
  { itemId: "TX100", name: "纯棉圆领T恤", unit: "件", price: 59 },
  { itemId: "WY200", name: "加绒卫衣", unit: "件", price: 139 },
  { itemId: "NZK30", name: "直筒牛仔裤", unit: "条", price: 169 },
  { itemId: "BXW40", name: "运动船袜", unit: "双", price: 9.9 },
  { itemId: "MZ500", name: "针织毛线帽", unit: "顶", price: 39.5 },
  { itemId: "BB600", name: "帆布托特包", unit: "个", price: 79 },
];
const COLORS = ["白色", "黑色", "藏青", "燕麦"];
const SIZES = ["S", "M", "L", "XL"];
const UNIT_IDS: Record<string, number> = { 件: 11, 条: 12, 双: 13, 顶: 14, 个: 15 };

export const SKUS: CatalogSku[] = STYLES.flatMap((style, s) =>
  COLORS.flatMap((color, c) =>
    SIZES.map((size, z) => {
      const index = s * 16 + c * 4 + z;
      return {
        skuId: `${style.itemId}-${c + 1}${z + 1}`,
        itemId: style.itemId,
        name: `${style.name} ${color} ${size}`,
        propertiesValue: `${color};${size}`,
        unit: style.unit,
        salePrice: style.price,
        costPrice: Math.round(style.price * 45) / 100,
        kisItemId: 1001 + index,
        kisNumber: `01.${String(s + 1).padStart(2, "0")}.${String(c * 4 + z + 1).padStart(3, "0")}`,
        kisUnitId: UNIT_IDS[style.unit]!,
      };
    }),
  ),
);

export const WAREHOUSES: CatalogWarehouse[] = [
  { jstWmsCoId: 10817, jstName: "杭州主仓", tplusCode: "01", kisStockId: 301, kisNumber: "CK01" },
  { jstWmsCoId: 10818, jstName: "广州分仓", tplusCode: "02", kisStockId: 302, kisNumber: "CK02" },
  { jstWmsCoId: 10819, jstName: "退货仓", tplusCode: "03", kisStockId: 303, kisNumber: "CK03" },
];

export const SHOPS: CatalogShop[] = [
  { shopId: 0, name: "线下门店", offline: true },
  { shopId: 16800101, name: "天猫旗舰店", offline: false },
  { shopId: 16800102, name: "抖音小店", offline: false },
];

export const KIS_UNITS = Object.entries(UNIT_IDS).map(([name, id]) => ({ FItemID: id, FName: name, FNumber: `U${id}` }));

/** A small deterministic PRNG (mulberry32) so emulated data is reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
