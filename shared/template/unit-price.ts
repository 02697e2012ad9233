/**
 * UNIT_PRICE(amount, qty[, amountDecimals[, maxDecimals]]): a unit price whose product with the quantity rounds to
 * the amount (issue 12 item 11). A fixed price precision cannot hold that for every quantity: 10,000.00 / 30,000 at
 * 6 decimals is 0.333333 and 0.333333 × 30,000 = 9,999.99. The price is rounded at
 *   d = max(6, amountDecimals + 1 + ceil(log10 |qty|))
 * decimals, so |price − amount/qty| × |qty| ≤ 0.05 × 10^−amountDecimals and the product rounds back to the amount.
 * When d would exceed maxDecimals (the target's price precision, default 10) the rule cannot hold: the result is
 * NULL, so the field is left out and the target derives the price from Amount and quantity.
 * A zero quantity with an amount is not a price at all: a per-document error (not Price 0).
 */
import { ValueError, roundHalfAway } from "./values.ts";

export const UNIT_PRICE_MIN_DECIMALS = 6;
export const UNIT_PRICE_MAX_DECIMALS = 10;

export function unitPrice(amount: number, qty: number, amountDecimals = 2, maxDecimals = UNIT_PRICE_MAX_DECIMALS): number | null {
  if (qty === 0) {
    if (roundHalfAway(amount, amountDecimals) === 0) return 0;
    throw new ValueError(
      `UNIT_PRICE: quantity 0 with amount ${amount} has no unit price`,
      "The lines' quantities net to 0 but an amount is left: check the source document (a return booked without its quantity?) and fix it there, then replay the dead letter.",
    );
  }
  const magnitude = Math.ceil(Math.log10(Math.abs(qty)) - 1e-12);
  const digits = Math.max(UNIT_PRICE_MIN_DECIMALS, amountDecimals + 1 + Math.max(0, magnitude));
  if (digits > maxDecimals) return null;
  return roundHalfAway(amount / qty, digits);
}
