/**
 * How a target represents a correcting document (docs/changes.md): its lines as item + quantity + amount, its
 * head, and how a red (reversing) or blue (adding) document is composed from them. One implementation per
 * target (kis/reversal.ts, tplus/reversal.ts). Whether a red document carries negative or positive quantities,
 * and which business type it uses, is not settled publicly (../shared/docs/reversals-and-periods.md §1.4, §2.5):
 * both are settings, never hard-coded.
 */
import { ConfigError } from "../errors.ts";
import { lineIdentity } from "./line-placement.ts";

/**
 * One line of a posted document, summed per item and placement (line-placement.ts: one sku in two warehouses is two
 * lines). `key` is the item; `rest` holds the line's other fields (unit, warehouse …).
 */
export interface ImageLine {
  key: string;
  qty: number;
  amount?: number;
  rest?: Record<string, unknown>;
}

/** What a correcting document is: reversing (red, magnitudes of decreases), adding (blue) or one signed document. */
export type CorrectionKind = "red" | "blue" | "signed";

/** How a changed document is corrected: reverse everything and post again, or one document of signed differences. */
export type ChangeMode = "reverse_repost" | "difference";

export interface CorrectionShape {
  readonly system: "kis" | "tplus";
  /** Lines of a payload, summed per item and placement (the before-image). */
  lines(payload: Record<string, unknown>): ImageLine[];
  /** The payload without its lines (the head a correction is composed on). */
  head(payload: Record<string, unknown>): Record<string, unknown>;
  /** A document under `externalKey` on `head` with `lines` (for red: magnitudes of what is reversed). */
  compose(head: Record<string, unknown>, externalKey: string, lines: readonly ImageLine[], kind: CorrectionKind, note: string): Record<string, unknown>;
  /** True when one document may carry lines of both signs (then a difference is one "signed" document). */
  readonly mixedSigns: boolean;
  /** How this target corrects a changed (not merged) document. */
  readonly changeMode: ChangeMode;
  /** The document date (yyyy-MM-dd) and a copy dated `date` with the original date noted in the memo. */
  dateOf(payload: Record<string, unknown>): string | undefined;
  redate(payload: Record<string, unknown>, date: string, note: string): Record<string, unknown>;
  /** The settings in force, for doctor and the run record. */
  describe(): Record<string, string>;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * Sums lines per item and placement (lineIdentity); the first line of an identity gives its `rest`. Zero lines are
 * kept out. Keyed by the item alone, the second warehouse of a sku was lost (adv16c-line-warehouses).
 */
export function sumLines(lines: Iterable<ImageLine>): ImageLine[] {
  const out = new Map<string, ImageLine>();
  for (const l of lines) {
    const id = lineIdentity(l);
    const prev = out.get(id);
    if (!prev) out.set(id, { ...l, qty: round(l.qty), ...(l.amount !== undefined ? { amount: round(l.amount) } : {}) });
    else {
      prev.qty = round(prev.qty + l.qty);
      if (l.amount !== undefined || prev.amount !== undefined) prev.amount = round((prev.amount ?? 0) + (l.amount ?? 0));
    }
  }
  const order = (l: ImageLine) => [l.key, lineIdentity(l)] as const;
  return [...out.values()]
    .filter((l) => Math.abs(l.qty) > 1e-9 || Math.abs(l.amount ?? 0) > 1e-9)
    .sort((a, b) => {
      const [ka, ia] = order(a);
      const [kb, ib] = order(b);
      return ka < kb ? -1 : ka > kb ? 1 : ia < ib ? -1 : ia > ib ? 1 : 0;
    });
}

/** after − before per item and placement (signed), keeping the `rest` of whichever side has the line. */
export function diffLines(before: readonly ImageLine[], after: readonly ImageLine[]): ImageLine[] {
  const negated = before.map((l) => ({ ...l, qty: -l.qty, ...(l.amount !== undefined ? { amount: -l.amount } : {}) }));
  // The after side first so its `rest` (current unit, warehouse) wins.
  return sumLines([...after, ...negated]);
}

/**
 * The lines a target can take: a quantity line of quantity 0 is refused (KIS "数量FQty必须大于0", T+ "数量不能为0"),
 * so a line edited to 0 in the source is a removed line for corrections (issue 16, adv16-zero-line-repost).
 */
export const postableLines = (lines: readonly ImageLine[]): ImageLine[] => lines.filter((l) => Math.abs(l.qty) > 1e-9);

export function sameLines(a: readonly ImageLine[], b: readonly ImageLine[]): boolean {
  return diffLines(a, b).length === 0;
}

/** Reads a settings value from a closed set, with a clear error naming the variable. */
export function choice<T extends string>(env: Record<string, string | undefined>, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${allowed.join(", ")} (got "${raw}")`, {
    hint: `set ${name} to ${allowed.join(" or ")}, or leave it unset for ${fallback}`,
  });
}

export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Appends a note to a memo field, within `max` characters. */
export function withNote(memo: unknown, note: string, max = 200): string {
  const base = typeof memo === "string" && memo !== "" ? `${memo} ` : "";
  return `${base}${note}`.slice(0, max);
}
