/**
 * What a target document holds, reduced to what must agree for "already exists" to mean "our document": its lines
 * as item + quantity (summed per item). Compared rather than a content hash in a memo field because (a) the seed
 * flows map their own remark into the memo (T+ Memo, KIS Fnote), so a hash there would overwrite a user-visible field,
 * (b) a bookkeeper may edit the memo in the target, which would turn every later check into a false conflict, and
 * (c) documents written before this check existed carry no hash; lines and quantities are what the source rows decide
 * and what both targets return on a read-back (T+ GetVoucherDTO RDRecordDetails, KIS getdetail Entry).
 */
export interface ContentLine {
  item: string;
  qty: number;
}

export interface LineDifference {
  item: string;
  ours: number;
  theirs: number;
}

/** The target's document as read back, with our lines extracted the same way. null: the target cannot be read back. */
export interface ReadBack {
  targetId?: string;
  ours: ContentLine[];
  theirs: ContentLine[];
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

function summed(lines: readonly ContentLine[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) out.set(l.item, round((out.get(l.item) ?? 0) + l.qty));
  return out;
}

/** Items whose summed quantity differs (missing on one side counts as 0), sorted by item. Empty: same content. */
export function compareLines(ours: readonly ContentLine[], theirs: readonly ContentLine[]): LineDifference[] {
  const a = summed(ours);
  const b = summed(theirs);
  const items = [...new Set([...a.keys(), ...b.keys()])].sort();
  return items.map((item) => ({ item, ours: a.get(item) ?? 0, theirs: b.get(item) ?? 0 })).filter((d) => Math.abs(d.ours - d.theirs) > 1e-9);
}

/** Lines of `rows` as item + quantity; rows without an item are left out, a missing quantity counts as 0. */
export function linesOf(rows: unknown, item: (row: Record<string, unknown>) => unknown, qty: (row: Record<string, unknown>) => unknown): ContentLine[] {
  if (!Array.isArray(rows)) return [];
  const out: ContentLine[] = [];
  for (const row of rows) {
    if (!row || typeof row !== "object" || Array.isArray(row)) continue;
    const r = row as Record<string, unknown>;
    const id = item(r);
    if (id === undefined || id === null || id === "") continue;
    const q = Number(qty(r) ?? 0);
    out.push({ item: String(id), qty: Number.isFinite(q) ? q : 0 });
  }
  return out;
}
