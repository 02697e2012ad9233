/**
 * Strict checks of T+ voucher DTOs, the way a careful T+ would refuse them: required header fields,
 * yyyy-MM-dd dates, numbers that are JSON numbers, and codes that exist in the master data.
 * Error codes are the emulator's own (the real ones are undocumented): EXVD0001 malformed, EXVD0002 unknown code.
 */

export interface VoucherKind {
  /** API resource name, e.g. "otherDispatch". */
  resource: string;
  label: string;
  /** Required VoucherType.Code, or null when the DTO has no VoucherType (销货单 uses BusinessType). */
  voucherType: string | null;
  /** Header field holding the business type, and its allowed codes. */
  busiField: "BusiType" | "BusinessType";
  busiTypes: string[];
  details: "RDRecordDetails" | "SaleDeliveryDetails";
  /** Header partner field that must name a known partner, if any. */
  partnerField?: "Customer" | "Partner";
  partnerRequired: boolean;
  codePrefix: string;
  batch: boolean;
}

export const VOUCHER_KINDS: VoucherKind[] = [
  // BusiType 13 其他, 14 其他退库, 25 盘亏 (S1 BusinessType.cs); which ones T+ allows per voucher is UNCERTAIN.
  {
    resource: "otherDispatch",
    label: "其他出库单",
    voucherType: "ST1024",
    busiField: "BusiType",
    busiTypes: ["13", "14", "25"],
    details: "RDRecordDetails",
    partnerRequired: false,
    partnerField: "Partner",
    codePrefix: "QC",
    batch: true,
  },
  {
    resource: "otherReceive",
    label: "其他入库单",
    voucherType: "ST1004",
    busiField: "BusiType",
    busiTypes: ["13", "14", "26"],
    details: "RDRecordDetails",
    partnerRequired: false,
    partnerField: "Partner",
    codePrefix: "QR",
    batch: false,
  },
  {
    resource: "purchaseReceive",
    label: "采购入库单",
    voucherType: "ST1001",
    busiField: "BusiType",
    busiTypes: ["01", "02"],
    details: "RDRecordDetails",
    partnerRequired: false,
    partnerField: "Partner",
    codePrefix: "CR",
    batch: false,
  },
  {
    resource: "saleDelivery",
    label: "销货单",
    voucherType: null,
    busiField: "BusinessType",
    busiTypes: ["15", "16"],
    details: "SaleDeliveryDetails",
    partnerRequired: true,
    partnerField: "Customer",
    codePrefix: "SA",
    batch: true,
  },
];

export interface MasterData {
  inventory: Map<string, { Code: string; Name: string; Unit: string }>;
  warehouses: Map<string, { Code: string; Name: string }>;
  partners: Map<string, { Code: string; Name: string }>;
}

export interface Refusal {
  code: string;
  message: string;
}

const NUMBER_FIELDS = ["BaseQuantity", "Quantity", "Price", "Amount", "OrigPrice", "OrigTaxPrice", "OrigAmount", "OrigTaxAmount", "TaxRate", "TaxAmount"];

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function codeOf(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  return typeof v.Code === "string" && v.Code.trim() !== "" ? v.Code : undefined;
}

const malformed = (message: string): Refusal => ({ code: "EXVD0001", message });
const unknown = (message: string): Refusal => ({ code: "EXVD0002", message });

export function isValidDate(text: unknown): boolean {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const [y, m, d] = text.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Returns the first problem with a DTO, or null when T+ would accept it. */
export function validateVoucher(kind: VoucherKind, dto: unknown, master: MasterData): Refusal | null {
  if (!isObject(dto)) return malformed("缺少参数 dto（单据对象）");
  if (typeof dto.ExternalCode !== "string" || dto.ExternalCode.trim() === "") return malformed("ExternalCode（外部单据号）不能为空");
  if (dto.ExternalCode.length > 100) return malformed("ExternalCode（外部单据号）长度不能超过100");
  if (dto.Code !== undefined && (typeof dto.Code !== "string" || dto.Code === "")) return malformed("Code 必须是非空字符串");
  if (!isValidDate(dto.VoucherDate)) return malformed(`VoucherDate 格式不正确，应为 yyyy-MM-dd`);

  if (kind.voucherType) {
    const vt = codeOf(dto.VoucherType);
    if (!vt) return malformed("VoucherType.Code（单据类型）不能为空");
    if (vt !== kind.voucherType) return malformed(`VoucherType.Code 应为 ${kind.voucherType}（${kind.label}）`);
  } else if (dto.VoucherType !== undefined && codeOf(dto.VoucherType) === undefined) {
    return malformed("VoucherType.Code 不能为空");
  }

  // UNCERTAIN: 销货单 samples use BusinessType, RDRecord samples BusiType; accept the other spelling too.
  const busiValue = dto[kind.busiField] ?? dto[kind.busiField === "BusiType" ? "BusinessType" : "BusiType"];
  const busi = codeOf(busiValue);
  if (!busi) return malformed(`${kind.busiField}.Code（业务类型）不能为空`);
  if (!kind.busiTypes.includes(busi)) return unknown(`${kind.busiField}.Code 业务类型编码 ${busi} 不存在或不适用于${kind.label}`);

  if (kind.partnerField) {
    const partner = codeOf(dto[kind.partnerField]);
    if (!partner && kind.partnerRequired) return malformed(`${kind.partnerField}.Code（往来单位）不能为空`);
    if (partner && !master.partners.has(partner)) return unknown(`${kind.partnerField}.Code 往来单位 ${partner} 不存在`);
  }
  if (dto.Warehouse !== undefined) {
    const wh = codeOf(dto.Warehouse);
    if (!wh) return malformed("Warehouse.Code 不能为空");
    if (!master.warehouses.has(wh)) return unknown(`Warehouse.Code 仓库 ${wh} 不存在`);
  }
  if (dto.Memo !== undefined && typeof dto.Memo !== "string") return malformed("Memo 必须是字符串");
  if (dto.DynamicPropertyKeys !== undefined || dto.DynamicPropertyValues !== undefined) {
    if (
      !Array.isArray(dto.DynamicPropertyKeys) ||
      !Array.isArray(dto.DynamicPropertyValues) ||
      dto.DynamicPropertyKeys.length !== dto.DynamicPropertyValues.length
    ) {
      return malformed("DynamicPropertyKeys 与 DynamicPropertyValues 必须是等长数组");
    }
  }

  const details = dto[kind.details];
  if (!Array.isArray(details) || details.length === 0) return malformed(`${kind.details}（明细）不能为空`);
  for (let i = 0; i < details.length; i++) {
    const at = `${kind.details}[${i}]`;
    const line = details[i];
    if (!isObject(line)) return malformed(`${at} 必须是对象`);
    const inv = codeOf(line.Inventory);
    if (!inv) return malformed(`${at}.Inventory.Code（存货编码）不能为空`);
    const item = master.inventory.get(inv);
    if (!item) return unknown(`${at}.Inventory.Code 存货 ${inv} 不存在`);
    for (const field of NUMBER_FIELDS) {
      const v = line[field];
      if (v !== undefined && v !== null && (typeof v !== "number" || !Number.isFinite(v))) return malformed(`${at}.${field} 必须是数字`);
    }
    const qty = (line.BaseQuantity ?? line.Quantity) as number | undefined;
    if (qty === undefined || qty === null) return malformed(`${at} 缺少数量（BaseQuantity 或 Quantity）`);
    if (qty === 0) return malformed(`${at} 数量不能为0`);
    if (line.Unit !== undefined) {
      const unitName = isObject(line.Unit) ? line.Unit.Name : undefined;
      if (typeof unitName !== "string" || unitName === "") return malformed(`${at}.Unit.Name 不能为空`);
      if (unitName !== item.Unit) return unknown(`${at}.Unit.Name 计量单位 ${unitName} 不是存货 ${inv} 的单位`);
    }
    const lineWh = line.Warehouse === undefined ? undefined : codeOf(line.Warehouse);
    if (line.Warehouse !== undefined && !lineWh) return malformed(`${at}.Warehouse.Code 不能为空`);
    if (lineWh && !master.warehouses.has(lineWh)) return unknown(`${at}.Warehouse.Code 仓库 ${lineWh} 不存在`);
    if (!lineWh && dto.Warehouse === undefined) return malformed(`${at} 缺少仓库（表头或明细的 Warehouse.Code）`);
  }
  return null;
}
