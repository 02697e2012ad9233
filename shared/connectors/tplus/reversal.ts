/**
 * T+ red vouchers for corrections (docs/changes.md).
 * Evidence (../shared/docs/reversals-and-periods.md §2): no public T+ DTO has a red/blue flag
 * ([D] demooooooo/chanjet-tplus-openapi-sdk@7ca8e02:Domain/RDRecordDTO.cs); returns are a business type
 * (BusiType 14 其他退库, 16 销售退货: @7186881b:Domain/BusinessType.cs, per account) and the stored rows carry
 * NEGATIVE quantities with the same voucher type (idx:11394272251 `setQuantity(… .negate())`; vendor web script
 * idx:12413446747 forces `quantity = Math.abs(quantity) * -1` for a return business type). The exact OpenAPI
 * form of a red 其他出库 is NOT FOUND (§2.5), so:
 *  - TPLUS_RED_QTY_SIGN: "negative" (default, the stored form) or "positive";
 *  - TPLUS_RED_BUSI_TYPE: a business type code for red vouchers (e.g. 14); unset keeps the voucher's own type.
 * With negative quantities and no return type a voucher may mix signs, so a changed document (and a merged
 * member's correction) is one voucher of signed differences (TPLUS_CHANGE_MODE "difference", default); with a
 * return business type or positive red quantities, decreases and increases go in separate vouchers.
 */
import { choice, isRecord, sumLines, withNote, type ChangeMode, type CorrectionShape, type ImageLine } from "../correction.ts";
import { DEFAULT_TPLUS_LINE_SHAPE, tplusLineShape, type TplusLineShape } from "./line-shapes.ts";

const round = (n: number) => Math.round(n * 1e6) / 1e6;

export interface TplusCorrectionSettings {
  redQtySign: "negative" | "positive";
  redBusiType?: string;
  changeMode: ChangeMode;
}

export function tplusCorrectionSettings(env: Record<string, string | undefined>): TplusCorrectionSettings {
  const busi = env.TPLUS_RED_BUSI_TYPE?.trim();
  return {
    redQtySign: choice(env, "TPLUS_RED_QTY_SIGN", ["negative", "positive"], "negative"),
    ...(busi ? { redBusiType: busi } : {}),
    changeMode: choice(env, "TPLUS_CHANGE_MODE", ["difference", "reverse_repost"], "difference"),
  };
}

function codeOf(v: unknown): string | undefined {
  if (isRecord(v) && v.Code !== undefined && v.Code !== null) return String(v.Code);
  return undefined;
}

/**
 * The correction shape of a T+ voucher kind (`operation`, e.g. "saleDelivery/Create"; line-shapes.ts). A kind
 * whose lines are not known reads as RDRecord vouchers: flow/semantic.ts refuses onChange for such a flow, so
 * only the date and memo (closed periods) are used for it.
 */
export function tplusCorrectionShape(settings: TplusCorrectionSettings, operation?: string): CorrectionShape {
  const ls: TplusLineShape = (operation && tplusLineShape(operation)) || DEFAULT_TPLUS_LINE_SHAPE;
  const DETAILS = ls.details;
  const mixedSigns = settings.redQtySign === "negative" && settings.redBusiType === undefined;
  return {
    system: "tplus",
    mixedSigns,
    changeMode: settings.changeMode,
    lines(payload) {
      const red = settings.redBusiType !== undefined && codeOf(payload[ls.busiField]) === settings.redBusiType;
      const out: ImageLine[] = [];
      for (const raw of Array.isArray(payload[DETAILS]) ? (payload[DETAILS] as unknown[]) : []) {
        if (!isRecord(raw)) continue;
        const key = codeOf(raw.Inventory);
        if (key === undefined) continue;
        const { BaseQuantity, Quantity, [ls.amountField]: Amount, ...others } = raw;
        // The price is recomputed from the amount when there is one; a line priced without an amount keeps its price.
        const { [ls.priceField]: Price, ...priceless } = others;
        void Price;
        const rest = Amount === undefined ? others : priceless;
        const q = Number((ls.qtyField === "Quantity" ? (Quantity ?? BaseQuantity) : (BaseQuantity ?? Quantity)) ?? 0);
        const a = Amount === undefined ? undefined : Number(Amount);
        out.push({ key, qty: red ? -Math.abs(q) : q, ...(a !== undefined ? { amount: red ? -Math.abs(a) : a } : {}), rest });
      }
      return sumLines(out);
    },
    head(payload) {
      const { [DETAILS]: details, ...rest } = payload;
      void details;
      return structuredClone(rest);
    },
    compose(head, externalKey, lines, kind, note) {
      const red = kind === "red";
      const sign = red && settings.redQtySign === "negative" ? -1 : 1;
      const dto: Record<string, unknown> = { ...head, ExternalCode: externalKey, Memo: withNote(head.Memo, note) };
      if (red && settings.redBusiType !== undefined) dto[ls.busiField] = { Code: settings.redBusiType };
      dto[DETAILS] = lines.map((l) => {
        const q = kind === "signed" ? round(l.qty) : round(sign * Math.abs(l.qty));
        const line: Record<string, unknown> = { ...(l.rest ?? {}), [ls.qtyField]: q };
        if (l.amount !== undefined) {
          const a = kind === "signed" ? round(l.amount) : round(sign * Math.abs(l.amount));
          line[ls.amountField] = a;
          if (q !== 0) line[ls.priceField] = round(Math.abs(a / q));
        }
        return line;
      });
      return dto;
    },
    dateOf(payload) {
      return typeof payload.VoucherDate === "string" ? payload.VoucherDate.slice(0, 10) : undefined;
    },
    redate(payload, date, note) {
      return { ...payload, VoucherDate: date, Memo: withNote(payload.Memo, note) };
    },
    describe: () => ({
      TPLUS_RED_QTY_SIGN: settings.redQtySign,
      TPLUS_RED_BUSI_TYPE: settings.redBusiType ?? "(the voucher's own)",
      TPLUS_CHANGE_MODE: settings.changeMode,
    }),
  };
}
