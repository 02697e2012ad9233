/**
 * The KIS emulator's bill book: strict validation of `{Object:{Head,Entry}}` create payloads against the shared
 * master data, numbering, FBillNo uniqueness, and the list/getdetail views.
 * Validation failures return the reason text that the emulator wraps into errcode 10201.
 */
import { KIS_UNITS, SKUS, WAREHOUSES } from "../catalog.ts";
import { parseInZone } from "../../../shared/util/time.ts";

export type EmulatedBillType = "miscellaneousreceipt" | "miscellaneousdelivery" | "purchasereceipt";

export const BILL_SPECS: Record<EmulatedBillType, { tranType: number; prefix: string; label: string; stockFields: string[] }> = {
  miscellaneousreceipt: { tranType: 10, prefix: "QTRK", label: "其他入库单", stockFields: ["FDCStockID"] },
  // UNCERTAIN which stock field 其他出库 uses: K3 convention is FSCStockID (发货仓库); FDCStockID also accepted.
  miscellaneousdelivery: { tranType: 29, prefix: "QTCK", label: "其他出库单", stockFields: ["FSCStockID", "FDCStockID"] },
  purchasereceipt: { tranType: 1, prefix: "WIN", label: "外购入库单", stockFields: ["FDCStockID"] },
};

export interface StoredBill {
  type: EmulatedBillType;
  FID: number;
  FBillNo: string;
  Head: Record<string, unknown>;
  Entry: Record<string, unknown>[];
  accountDb?: string;
  createdAt: number;
}

export interface MasterData {
  materials: Map<number, { unitId: number }>;
  units: Set<number>;
  stocks: Set<number>;
  suppliers: Set<number>;
}

export const EMULATED_SUPPLIERS = [
  { FItemID: 501, FNumber: "GYS001", FName: "杭州织造供应商" },
  { FItemID: 502, FNumber: "GYS002", FName: "广州辅料供应商" },
];

export function catalogMasterData(): MasterData {
  return {
    materials: new Map(SKUS.map((s) => [s.kisItemId, { unitId: s.kisUnitId }])),
    units: new Set(KIS_UNITS.map((u) => u.FItemID)),
    stocks: new Set(WAREHOUSES.map((w) => w.kisStockId)),
    suppliers: new Set(EMULATED_SUPPLIERS.map((s) => s.FItemID)),
  };
}

const FDATE = /^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,3})?|T\d{2}:\d{2}:\d{2})$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

/** KIS internal ids: an integer, or a string of digits (S5 sends strings; UNCERTAIN which the server wants). */
function internalId(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  if (typeof v === "string" && /^\d+$/.test(v) && Number(v) > 0) return Number(v);
  return undefined;
}

const NUMERIC_FIELDS = ["FQty", "Fauxqty", "FAuxQtyMust", "FQtyMust", "FAuxPrice", "Famount", "FPrice", "FAmount", "FPlanMode", "FSecQty"];

export class BillBook {
  private readonly bills = new Map<EmulatedBillType, StoredBill[]>();
  private nextFid = 10001;
  private readonly counters = new Map<EmulatedBillType, number>();
  /** Bill numbers in use per type (with multiplicity), so uniqueness checks stay O(1) at 100,000 bills. */
  private readonly numbers = new Map<EmulatedBillType, Map<string, number>>();

  private numbersOf(type: EmulatedBillType): Map<string, number> {
    let m = this.numbers.get(type);
    if (!m) this.numbers.set(type, (m = new Map()));
    return m;
  }

  reset() {
    this.bills.clear();
    this.numbers.clear();
    this.counters.clear();
    this.nextFid = 10001;
  }

  all(type?: EmulatedBillType): StoredBill[] {
    if (type) return [...(this.bills.get(type) ?? [])];
    return [...this.bills.values()].flat().sort((a, b) => a.FID - b.FID);
  }

  /** Test-only: deletes a bill (a document someone removed in KIS), for reconciliation tests. */
  remove(billNo: string, type?: EmulatedBillType): boolean {
    let removed = false;
    for (const [t, list] of this.bills) {
      if (type && t !== type) continue;
      const kept = list.filter((b) => b.FBillNo !== billNo);
      removed ||= kept.length !== list.length;
      this.bills.set(t, kept);
      this.numbersOf(t).delete(billNo);
    }
    return removed;
  }

  byNo(type: EmulatedBillType, billNo: string): StoredBill | undefined {
    return this.bills.get(type)?.find((b) => b.FBillNo === billNo);
  }

  byId(type: EmulatedBillType, fid: number): StoredBill | undefined {
    return this.bills.get(type)?.find((b) => b.FID === fid);
  }

  /** Validates and stores; returns the stored bill, or the 10201 reason. */
  create(
    type: EmulatedBillType,
    body: Record<string, unknown>,
    master: MasterData,
    now: number,
    accountDb: string | undefined,
    enforceUniqueBillNo: boolean,
    /** Sign of a red bill's (FROB -1) quantities on create: not settled publicly (reversals-and-periods.md §1.4). */
    redQtySign: "negative" | "positive" = "negative",
  ): { bill: StoredBill } | { reason: string } {
    const spec = BILL_SPECS[type];
    const object = body.Object;
    if (!isRecord(object)) return { reason: "参数Object不能为空" };
    const head = object.Head;
    const entry = object.Entry;
    if (!isRecord(head)) return { reason: "单据头(Object.Head)不能为空" };
    if (!Array.isArray(entry) || entry.length === 0) return { reason: "单据体(Object.Entry)不能为空，至少需要一行分录" };

    if (typeof head.FTranType !== "number") return { reason: "单据头FTranType必须为数字" };
    if (head.FTranType !== spec.tranType) return { reason: `单据类型FTranType=${head.FTranType}不正确，${spec.label}应为${spec.tranType}` };
    // UNCERTAIN which Fdate format KIS requires: both seen formats pass, nothing else.
    if (typeof head.Fdate !== "string" || !FDATE.test(head.Fdate) || parseInZone(head.Fdate) === null) {
      return { reason: `单据日期Fdate格式不正确(${String(head.Fdate)})，应为yyyy-MM-dd HH:mm:ss[.SSS]或yyyy-MM-ddTHH:mm:ss` };
    }
    if (head.FROB !== undefined && head.FROB !== 1 && head.FROB !== -1) return { reason: "红蓝字标志FROB只能为1或-1" };
    if (head.FBillNo !== undefined && (typeof head.FBillNo !== "string" || head.FBillNo.trim() === "" || head.FBillNo.length > 50)) {
      return { reason: "单据编号FBillNo必须为不超过50个字符的非空字符串" };
    }
    for (const field of ["FTranType", "FROB"]) {
      if (head[field] !== undefined && typeof head[field] !== "number") return { reason: `单据头${field}必须为数字` };
    }
    const headStock = spec.stockFields.map((f) => head[f]).find((v) => v !== undefined && v !== "");
    if (headStock !== undefined && (internalId(headStock) === undefined || !master.stocks.has(internalId(headStock)!))) {
      return { reason: `仓库(${String(headStock)})不存在` };
    }
    if (type === "purchasereceipt") {
      const supplier = internalId(head.FSupplyID);
      if (supplier === undefined || !master.suppliers.has(supplier)) return { reason: `供应商FSupplyID(${String(head.FSupplyID)})不存在` };
    }
    const rob = head.FROB === -1 ? -1 : 1;

    for (let i = 0; i < entry.length; i++) {
      const line = entry[i];
      const at = `第${i + 1}行`;
      if (!isRecord(line)) return { reason: `${at}分录格式不正确` };
      for (const field of NUMERIC_FIELDS) {
        if (line[field] !== undefined && (typeof line[field] !== "number" || !Number.isFinite(line[field]))) {
          return { reason: `${at}${field}必须为数字` };
        }
      }
      if (typeof line.FQty !== "number") return { reason: `${at}数量FQty不能为空` };
      const sign = rob === -1 && redQtySign === "positive" ? 1 : rob;
      if (line.FQty === 0 || Math.sign(line.FQty) !== sign) return { reason: `${at}数量FQty必须${sign === 1 ? "大于" : "小于"}0` };
      const itemId = internalId(line.FItemID);
      if (itemId === undefined) return { reason: `${at}物料FItemID(${String(line.FItemID)})格式不正确` };
      const material = master.materials.get(itemId);
      if (!material) return { reason: `${at}物料(FItemID=${itemId})不存在` };
      const unitId = internalId(line.FUnitID);
      if (unitId === undefined || !master.units.has(unitId)) return { reason: `${at}计量单位(FUnitID=${String(line.FUnitID)})不存在` };
      if (unitId !== material.unitId) return { reason: `${at}计量单位(FUnitID=${unitId})不属于物料(FItemID=${itemId})的计量单位组` };
      const stock = spec.stockFields.map((f) => line[f]).find((v) => v !== undefined && v !== "") ?? headStock;
      if (stock === undefined) return { reason: `${at}仓库${spec.stockFields.join("/")}不能为空` };
      const stockId = internalId(stock);
      if (stockId === undefined || !master.stocks.has(stockId)) return { reason: `${at}仓库(${String(stock)})不存在` };
    }

    const list = this.bills.get(type) ?? [];
    let billNo = typeof head.FBillNo === "string" ? head.FBillNo : undefined;
    const numbers = this.numbersOf(type);
    if (billNo !== undefined && enforceUniqueBillNo && numbers.has(billNo)) {
      return { reason: `单据编号[${billNo}]已存在，不能重复保存` };
    }
    if (billNo === undefined) {
      let n = this.counters.get(type) ?? 0;
      do {
        n++;
        billNo = `${spec.prefix}${String(n).padStart(6, "0")}`;
      } while (numbers.has(billNo));
      this.counters.set(type, n);
    }
    const fid = this.nextFid++;
    const bill: StoredBill = {
      type,
      FID: fid,
      FBillNo: billNo,
      Head: { ...structuredClone(head), FBillNo: billNo },
      Entry: structuredClone(entry) as Record<string, unknown>[],
      createdAt: now,
      ...(accountDb ? { accountDb } : {}),
    };
    list.push(bill);
    this.bills.set(type, list);
    numbers.set(billNo, (numbers.get(billNo) ?? 0) + 1);
    return { bill };
  }
}

/** The detail view: the stored head plus server fields, and the lines numbered. */
export function detailOf(bill: StoredBill): { Head: Record<string, unknown>; Entry: Record<string, unknown>[] } {
  return {
    Head: { ...bill.Head, FID: bill.FID, FInterID: bill.FID, FBillNo: bill.FBillNo, FCheckDate: null, FStatus: 0 },
    Entry: bill.Entry.map((e, i) => ({ ...e, FEntryID: i + 1 })),
  };
}

/** A flat list row: standard head fields only (no custom fields), as a terse list API would answer. */
export function flatRowOf(bill: StoredBill): Record<string, unknown> {
  const h = bill.Head;
  return { FID: bill.FID, FBillNo: bill.FBillNo, Fdate: h.Fdate, FTranType: h.FTranType, FROB: h.FROB ?? 1, FStatus: 0 };
}
