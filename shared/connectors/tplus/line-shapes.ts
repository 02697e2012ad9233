/**
 * Where each T+ voucher kind keeps its lines and business type, for corrections (tplus/reversal.ts): the change
 * review compares the lines of what was posted with what would be posted now, so a shape that reads the wrong
 * field sees no lines at all and misses every edit and cancellation (issue 16, adv16-tplus-saledelivery-blind).
 * Evidence (../shared/docs/tplus-kis-api.md §operations):
 *  - 其他出库/其他入库/采购入库 (RDRecordDTO): `BusiType{Code}`, `RDRecordDetails[{Inventory{Code}, BaseQuantity, Price,
 *    Amount}]` ([D] demooooooo/chanjet-tplus-openapi-sdk Domain/RDRecordDTO.cs, RDRecordDetailDTO.cs; S2 Args.cs);
 *  - 销货单 saleDelivery/Create (SaleDeliveryDTO): `BusinessType{Code}` (15 普通销售, 16 销售退货),
 *    `SaleDeliveryDetails[{Inventory{Code}, Unit{Name}, Quantity, OrigTaxPrice, OrigTaxAmount …}]` (S2 Args.cs; S1
 *    SaleDeliveryDTO) — no BaseQuantity/Amount there.
 * Kept free of the client so the flow checks (flow/semantic.ts) can refuse a correcting flow whose kind is not here.
 */

export interface TplusLineShape {
  /** The array of lines in the DTO. */
  details: string;
  /** The head field of the business type ({Code}). */
  busiField: string;
  /** The quantity field written (read: this one, else the other of BaseQuantity/Quantity). */
  qtyField: string;
  /** The line amount and unit price fields (the price is |amount / quantity|). */
  amountField: string;
  priceField: string;
}

const RD_RECORD: TplusLineShape = { details: "RDRecordDetails", busiField: "BusiType", qtyField: "BaseQuantity", amountField: "Amount", priceField: "Price" };

/** Per T+ resource (connectors/tplus/operations.ts TPLUS_OPERATIONS). */
export const TPLUS_LINE_SHAPES: Readonly<Record<string, TplusLineShape>> = {
  otherDispatch: RD_RECORD,
  otherReceive: RD_RECORD,
  purchaseReceive: RD_RECORD,
  saleDelivery: { details: "SaleDeliveryDetails", busiField: "BusinessType", qtyField: "Quantity", amountField: "OrigTaxAmount", priceField: "OrigTaxPrice" },
};

/** The resource of a flow's T+ operation ("saleDelivery/Create" → "saleDelivery"), case-insensitive. */
export function tplusResourceOf(operation: string): string {
  const name = operation
    .trim()
    .replace(/\/create$/i, "")
    .replace(/^create/i, "");
  return Object.keys(TPLUS_LINE_SHAPES).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

/** The line shape of a T+ operation; undefined when the kind is not known (corrections cannot read it). */
export function tplusLineShape(operation: string): TplusLineShape | undefined {
  return TPLUS_LINE_SHAPES[tplusResourceOf(operation)];
}

/** The shape used when no operation is given (the RDRecord vouchers every shipped flow writes). */
export const DEFAULT_TPLUS_LINE_SHAPE = RD_RECORD;
