/**
 * MySQL-ish comparison: NULL compares as unknown (null); numbers with numbers; numeric text with a number
 * compares as numbers ('10' = 10, '9' < 10), other text with a number compares as text (never MySQL's
 * silent 'abc' = 0); dates with dates or date text by instant; text with text by code unit (a binary
 * collation: 'a' <> 'A', unlike MySQL's default case-insensitive collation).
 */
import { toDate } from "./dates.ts";
import { SqlDate, ValueError, isNumericText, numberToText, show } from "./values.ts";

/** -1, 0, 1, or null when either side is NULL. */
export function compare(a: unknown, b: unknown, zone: string): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === "boolean") a = a ? 1 : 0;
  if (typeof b === "boolean") b = b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof SqlDate || b instanceof SqlDate) {
    const x = toDate(a, zone)!.ms;
    const y = toDate(b, zone)!.ms;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "number" && typeof b === "string") return numberVsText(a, b);
  if (typeof a === "string" && typeof b === "number") return -numberVsText(b, a) || 0;
  throw new ValueError(`cannot compare ${show(a)} with ${show(b)}`, "Compare scalar fields; aggregate arrays with SUM/COUNT first.");
}

function numberVsText(n: number, text: string): number {
  if (text.length <= 400 && isNumericText(text)) {
    const m = Number(text);
    return n < m ? -1 : n > m ? 1 : 0;
  }
  const t = numberToText(n);
  return t < text ? -1 : t > text ? 1 : 0;
}

/**
 * compare() for operands read by an unquoted placeholder (`{{price}} > {{cost}}`): QEasy substitutes the value into
 * the expression as written, so numeric text ("9.00" after formatResponse round(2)) is a number there and two such
 * texts compare as numbers (9.00 < 10.00). Texts whose numbers are equal only through float rounding (long ids)
 * keep their text order, so two different ids never compare equal.
 */
export function compareNumericText(a: unknown, b: unknown, zone: string): number | null {
  if (typeof a === "string" && typeof b === "string" && a !== b && a.length <= 400 && b.length <= 400 && isNumericText(a) && isNumericText(b)) {
    const x = Number(a);
    const y = Number(b);
    if (x !== y) return x < y ? -1 : 1;
    if (significantDigits(a) <= 15 && significantDigits(b) <= 15) return 0;
  }
  return compare(a, b, zone);
}

function significantDigits(text: string): number {
  return text
    .replace(/[eE].*$/, "")
    .replace(/\D/g, "")
    .replace(/^0+/, "").length;
}
