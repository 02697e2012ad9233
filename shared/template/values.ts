/**
 * Values of the expression language and MySQL-flavoured coercions.
 *
 * Values are JS null (SQL NULL; a missing field reads as NULL), numbers, strings, booleans (MySQL's 1/0:
 * arithmetic treats them as numbers), SqlDate (DATETIME/DATE) and, passing through untouched, the raw
 * objects and arrays of a record.
 *
 * Numbers are doubles, but + − * and MOD behave like MySQL exact-value (DECIMAL) arithmetic: the result is
 * rounded to the scale MySQL would give it (max of the operands' decimals for + −, their sum for *), which
 * removes binary noise (0.1 + 0.2 = 0.3, 19.9 * 3 = 59.7). `/` rounds to the dividend's scale + 4, as
 * MySQL's div_precision_increment does (1 / 3 = 0.3333). Beyond 15 significant digits doubles cannot be
 * exact, and results there are left as computed.
 */

/** A DATETIME (or DATE when `dateOnly`) as an instant; rendered in the scope's zone. */
export class SqlDate {
  readonly ms: number;
  readonly dateOnly: boolean;
  constructor(ms: number, dateOnly: boolean) {
    this.ms = ms;
    this.dateOnly = dateOnly;
  }
}

/** Thrown by helpers; the evaluator turns it into a TemplateEvalError with the node's position. */
export class ValueError extends Error {
  readonly hint: string | undefined;
  constructor(reason: string, hint?: string) {
    super(reason);
    this.hint = hint;
  }
}

export const MAX_STRING = 1_048_576;

const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const NUMERIC_PREFIX = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/** A short, quoted rendering of a value for error messages. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "string") return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof SqlDate) return "a date";
  return Array.isArray(value) ? "an array" : "an object";
}

export function isNumericText(text: string): boolean {
  return NUMERIC.test(text);
}

/** Number for arithmetic; null stays null; non-numeric text is an error (never MySQL's silent 0). */
export function toNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (value === null || value === undefined) return null;
  if (typeof value === "string") {
    if (value.length <= 400 && NUMERIC.test(value)) {
      const n = Number(value);
      if (Number.isFinite(n)) return n;
    }
    throw new ValueError(
      `${show(value)} is not a number`,
      "Arithmetic needs numeric values; wrap optional text in IFNULL(NULLIF(x, ''), 0) or fix the source field.",
    );
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof SqlDate)
    throw new ValueError("a date is not a number", "Use UNIX_TIMESTAMP(date) for seconds, or DATEDIFF / DATE_ADD for date arithmetic.");
  throw new ValueError(`${show(value)} is not a number`, "Aggregate detail arrays with SUM(items, expr) / COUNT(items).");
}

/** Integer argument (lengths, counts, positions): truncated toward zero like MySQL's rounding of exact values. */
export function toInt(value: unknown): number | null {
  const n = toNumber(value);
  return n === null ? null : n < 0 ? -Math.round(-n) : Math.round(n);
}

/** Text for string functions (MySQL rendering: booleans as 1/0, dates as 'YYYY-MM-DD HH:MM:SS'). */
export function toText(value: unknown, zone: string, formatDate: (d: SqlDate, zone: string) => string): string | null {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return numberToText(value);
  if (typeof value === "boolean") return value ? "1" : "0";
  if (value instanceof SqlDate) return formatDate(value, zone);
  throw new ValueError(`${show(value)} cannot be used as text`, "Pick a field of it (items[0].sku_id) or aggregate it (SUM(items, qty)).");
}

const POW10: number[] = [];
for (let i = 0; i <= 22; i++) POW10.push(10 ** i);

/** Decimal text without exponent notation (MySQL prints 0.0000001, not 1e-7). */
export function numberToText(n: number): string {
  if (Object.is(n, -0)) return "0";
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    if (abs >= 1e21) return BigInt(Math.trunc(n)).toString();
    return n.toFixed(Math.min(100, scaleOf(n))).replace(/0+$/, "");
  }
  return String(n);
}

/**
 * Digits after the decimal point of a double's shortest representation. The multiply loop finds it for
 * ordinary amounts without building a string (a near-miss only overestimates the scale, which keeps a
 * little noise rather than changing a value); the string form settles the rest.
 */
export function scaleOf(n: number): number {
  if (Number.isInteger(n)) return 0;
  const abs = Math.abs(n);
  if (abs < 1e6 && abs > 1e-6) {
    for (let k = 1; k <= 9; k++) {
      const x = abs * POW10[k]!;
      if (Math.abs(x - Math.round(x)) <= x * 1e-15) return k;
    }
  }
  const s = String(n);
  const e = s.indexOf("e");
  if (e < 0) return s.length - s.indexOf(".") - 1;
  const mantissa = s.slice(0, e);
  const dot = mantissa.indexOf(".");
  const decimals = dot < 0 ? 0 : mantissa.length - dot - 1;
  return Math.max(0, decimals - Number(s.slice(e + 1)));
}

/** Rounds away the binary noise of a result that is exact at `scale` decimals. */
function clean(r: number, scale: number): number {
  if (scale > 15) return r;
  const p = POW10[scale]!;
  const x = r * p;
  if (!(Math.abs(x) < 9007199254740992)) return r;
  return Math.round(x) / p;
}

function shift(abs: number, digits: number): number {
  const s = String(abs);
  const e = s.indexOf("e");
  return e < 0 ? Number(`${s}e${digits}`) : Number(`${s.slice(0, e)}e${Number(s.slice(e + 1)) + digits}`);
}

/** ROUND(x, d): half away from zero on the decimal value (2.675 → 2.68), d may be negative. */
export function roundHalfAway(n: number, digits: number): number {
  if (!Number.isFinite(n) || n === 0) return n === 0 ? 0 : n;
  const d = Math.max(-30, Math.min(30, digits));
  const abs = Math.abs(n);
  // Doubles at or beyond 2^53 have no fractional digits to round.
  if (d >= 0 && abs >= 9007199254740992) return n;
  if (d >= 0 && d <= 15) {
    // Fast path: the scaled value is exact enough unless it sits next to a .5 boundary (2.675 * 100 =
    // 267.49999999999997), which the decimal-string path below rounds exactly.
    const p = POW10[d]!;
    const x = abs * p;
    if (x < 1e8) {
      const frac = x - Math.floor(x);
      if (Math.abs(frac - 0.5) > 1e-7) {
        const r = Math.round(x) / p;
        return n < 0 && r !== 0 ? -r : r;
      }
    }
  }
  const shifted = shift(abs, d);
  if (!Number.isFinite(shifted)) return n;
  const r = shift(Math.round(shifted), -d);
  return n < 0 && r !== 0 ? -r : r;
}

/** TRUNCATE(x, d): cut toward zero on the decimal value. */
export function truncateDecimal(n: number, digits: number): number {
  if (!Number.isFinite(n) || n === 0) return 0;
  const d = Math.max(-30, Math.min(30, digits));
  const abs = Math.abs(n);
  if (d >= 0 && abs >= 9007199254740992) return n;
  const shifted = shift(abs, d);
  if (!Number.isFinite(shifted)) return n;
  const r = shift(Math.floor(shifted), -d);
  return n < 0 && r !== 0 ? -r : r;
}

function finite(r: number): number {
  if (!Number.isFinite(r)) throw new ValueError("numeric overflow", "The result is too large for a number.");
  return r === 0 ? 0 : r;
}

export function add(a: number, b: number): number {
  const r = a + b;
  if (Number.isInteger(a) && Number.isInteger(b)) return finite(r);
  return finite(clean(r, Math.max(scaleOf(a), scaleOf(b))));
}

export function subtract(a: number, b: number): number {
  const r = a - b;
  if (Number.isInteger(a) && Number.isInteger(b)) return finite(r);
  return finite(clean(r, Math.max(scaleOf(a), scaleOf(b))));
}

export function multiply(a: number, b: number): number {
  const r = a * b;
  if (Number.isInteger(a) && Number.isInteger(b)) return finite(r);
  return finite(clean(r, scaleOf(a) + scaleOf(b)));
}

/** a / b; null for b = 0 (MySQL). */
export function divide(a: number, b: number): number | null {
  if (b === 0) return null;
  return finite(roundHalfAway(a / b, scaleOf(a) + 4));
}

/** MOD / %: sign of the dividend; null for b = 0. */
export function modulo(a: number, b: number): number | null {
  if (b === 0) return null;
  const r = a % b;
  if (Number.isInteger(a) && Number.isInteger(b)) return r === 0 ? 0 : r;
  return finite(clean(r, Math.max(scaleOf(a), scaleOf(b))));
}

/** a DIV b: integer division truncated toward zero; null for b = 0. */
export function intDivide(a: number, b: number): number | null {
  if (b === 0) return null;
  return finite(Math.trunc(a / b));
}

/**
 * MySQL truth of a value: NULL is unknown (null), numbers are true unless 0, text is read as its leading
 * number ('abc' and '' are false, '2 pcs' is true), dates are true.
 */
export function truth(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") {
    const m = NUMERIC_PREFIX.exec(value.length > 400 ? value.slice(0, 400) : value);
    return m ? Number(m[0]) !== 0 : false;
  }
  if (value instanceof SqlDate) return true;
  throw new ValueError(`${show(value)} cannot be used as a condition`, "Compare a field of it, or use COUNT(items) > 0.");
}
